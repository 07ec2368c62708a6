//! Parsing core-dump files into the [`CoreDump`] model.
//!
//! Every malformed input ends in a [`ParseError`] naming the problem and the
//! byte offset; nothing here panics on input.

use wasmparser::{
    AbstractHeapType, BinaryReader, ConstExpr, DataKind, Encoding, HeapType, Operator, Parser,
    Payload,
};

use crate::ParseError;
use crate::build_id::BuildId;
use crate::ext;
use crate::memory::{Memory, MemoryLimits};
use crate::model::*;

impl CoreDump {
    /// Parses a core dump file.
    pub fn parse(bytes: &[u8]) -> Result<CoreDump, ParseError> {
        Reader::default().read(bytes)
    }
}

#[derive(Default)]
struct Reader {
    dump: CoreDump,
    seen_core: bool,
    seen_modules: bool,
    seen_instances: bool,
    /// Offsets of the sections whose cross references are checked at the end.
    instances_offset: usize,
    stack_offsets: Vec<usize>,
    module_meta: Vec<(usize, ext::ModuleMeta)>,
    excluded: Vec<(usize, ext::Excluded)>,
}

impl Reader {
    fn read(mut self, bytes: &[u8]) -> Result<CoreDump, ParseError> {
        if bytes.is_empty() {
            return Err(ParseError::new(0, "empty file: not a core dump"));
        }
        for payload in Parser::new(0).parse_all(bytes) {
            match payload? {
                Payload::Version {
                    encoding, range, ..
                } if encoding != Encoding::Module => {
                    return Err(ParseError::new(
                        range.start,
                        "a component is not a core dump (expected a core module)",
                    ));
                }
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        let ty = memory?;
                        self.dump.memories.push(Memory::new(MemoryLimits {
                            pages: ty.initial,
                            maximum: ty.maximum,
                            memory64: ty.memory64,
                            shared: ty.shared,
                            page_size_log2: ty.page_size_log2,
                        }));
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader.into_iter_with_offsets() {
                        let (offset, global) = global?;
                        let ty = val_type(global.ty.content_type, offset)?;
                        let value = const_value(&global.init_expr)?;
                        if !value_has_type(value, ty) {
                            return Err(ParseError::new(
                                offset,
                                format!("global of type {ty} is initialised with {value:?}"),
                            ));
                        }
                        self.dump.globals.push(Global {
                            ty,
                            mutable: global.ty.mutable,
                            value,
                        });
                    }
                }
                Payload::DataSection(reader) => {
                    for data in reader {
                        self.data_segment(data?)?;
                    }
                }
                Payload::CustomSection(section) => {
                    let reader = BinaryReader::new(section.data(), section.data_offset());
                    self.custom_section(section.name(), section.range().start, reader)?;
                }
                _ => {}
            }
        }
        self.finish()
    }

    fn data_segment(&mut self, data: wasmparser::Data<'_>) -> Result<(), ParseError> {
        let DataKind::Active {
            memory_index,
            offset_expr,
        } = data.kind
        else {
            return Err(ParseError::new(
                data.range.start,
                "passive data segment: core dumps hold only active segments",
            ));
        };
        let address = match const_value(&offset_expr)? {
            Value::I32(v) => u64::from(v as u32),
            Value::I64(v) => v as u64,
            _ => {
                return Err(ParseError::new(
                    data.range.start,
                    "data segment offset is not an integer constant",
                ));
            }
        };
        let memory = self
            .dump
            .memories
            .get_mut(memory_index as usize)
            .ok_or_else(|| {
                ParseError::new(
                    data.range.start,
                    format!("data segment for memory {memory_index}, which is not declared"),
                )
            })?;
        memory
            .write(address, data.data)
            .map_err(|err| ParseError::new(data.range.start, format!("bad data segment: {err}")))
    }

    fn custom_section(
        &mut self,
        name: &str,
        section_offset: usize,
        reader: BinaryReader<'_>,
    ) -> Result<(), ParseError> {
        let duplicate =
            |what: &str| ParseError::new(section_offset, format!("more than one `{what}` section"));
        match name {
            "core" => {
                if std::mem::replace(&mut self.seen_core, true) {
                    return Err(duplicate(name));
                }
                let section = wasmparser::CoreDumpSection::new(reader)?;
                self.dump.executable_name = Some(section.name.to_string());
            }
            "coremodules" => {
                if std::mem::replace(&mut self.seen_modules, true) {
                    return Err(duplicate(name));
                }
                let section = wasmparser::CoreDumpModulesSection::new(reader)?;
                self.dump.modules = section
                    .modules
                    .iter()
                    .map(|name| DumpedModule {
                        name: name.to_string(),
                        ..DumpedModule::default()
                    })
                    .collect();
            }
            "coreinstances" => {
                if std::mem::replace(&mut self.seen_instances, true) {
                    return Err(duplicate(name));
                }
                self.instances_offset = section_offset;
                let section = wasmparser::CoreDumpInstancesSection::new(reader)?;
                self.dump.instances = section
                    .instances
                    .into_iter()
                    .map(|i| Instance {
                        module: i.module_index,
                        memories: i.memories,
                        globals: i.globals,
                    })
                    .collect();
            }
            "corestack" => {
                self.stack_offsets.push(section_offset);
                self.dump.threads.push(read_stack(reader)?);
            }
            ext::TRAP_SECTION => {
                if self.dump.trap.is_some() {
                    return Err(duplicate(name));
                }
                self.dump.trap = Some(ext::read_trap(reader)?);
            }
            ext::MODULES_SECTION => {
                for meta in ext::read_modules(reader)? {
                    self.module_meta.push((section_offset, meta));
                }
            }
            ext::INFO_SECTION => self.dump.info.extend(ext::read_info(reader)?),
            ext::EXCLUDED_SECTION => {
                for excluded in ext::read_excluded(reader)? {
                    self.excluded.push((section_offset, excluded));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies our extension data and checks cross references between sections.
    fn finish(mut self) -> Result<CoreDump, ParseError> {
        let dump = &mut self.dump;
        for (offset, meta) in self.module_meta {
            let module_count = dump.modules.len();
            let module = dump.modules.get_mut(meta.module as usize).ok_or_else(|| {
                ParseError::new(
                    offset,
                    format!(
                        "{} names module {}, but the dump lists {} modules",
                        ext::MODULES_SECTION,
                        meta.module,
                        module_count
                    ),
                )
            })?;
            module.build_id = meta.build_id.map(BuildId::new);
            module.path = meta.path;
        }
        for (offset, excluded) in self.excluded {
            let memory = dump
                .memories
                .get_mut(excluded.memory as usize)
                .ok_or_else(|| {
                    ParseError::new(
                        offset,
                        format!("excluded range for undeclared memory {}", excluded.memory),
                    )
                })?;
            let end = excluded.start.saturating_add(excluded.len);
            memory
                .exclude(excluded.start..end)
                .map_err(|err| ParseError::new(offset, format!("bad excluded range: {err}")))?;
        }
        for (i, instance) in dump.instances.iter().enumerate() {
            let bad = |what: String| {
                ParseError::new(self.instances_offset, format!("instance {i}: {what}"))
            };
            if self.seen_modules && instance.module as usize >= dump.modules.len() {
                return Err(bad(format!(
                    "module {} does not exist ({} modules)",
                    instance.module,
                    dump.modules.len()
                )));
            }
            if let Some(m) = instance
                .memories
                .iter()
                .find(|&&m| m as usize >= dump.memories.len())
            {
                return Err(bad(format!("memory {m} does not exist")));
            }
            if let Some(g) = instance
                .globals
                .iter()
                .find(|&&g| g as usize >= dump.globals.len())
            {
                return Err(bad(format!("global {g} does not exist")));
            }
        }
        if self.seen_instances {
            for (thread, offset) in dump.threads.iter().zip(&self.stack_offsets) {
                if let Some(frame) = thread
                    .frames
                    .iter()
                    .find(|f| f.instance as usize >= dump.instances.len())
                {
                    return Err(ParseError::new(
                        *offset,
                        format!(
                            "frame in thread `{}` names instance {}, which does not exist",
                            thread.name, frame.instance
                        ),
                    ));
                }
            }
        }
        Ok(self.dump)
    }
}

/// Reads a `corestack` section in the current layout, or else the older one
/// without instance indices; whichever consumes the section exactly.
fn read_stack(reader: BinaryReader<'_>) -> Result<Thread, ParseError> {
    match wasmparser::CoreDumpStackSection::new(reader.clone()) {
        Ok(section) => Ok(Thread {
            name: section.name.to_string(),
            frames: section
                .frames
                .into_iter()
                .map(|f| Frame {
                    instance: f.instanceidx,
                    function: f.funcidx,
                    code_offset: f.codeoffset,
                    locals: f.locals.into_iter().map(dump_value).collect(),
                    stack: f.stack.into_iter().map(dump_value).collect(),
                })
                .collect(),
        }),
        Err(current) => read_legacy_stack(reader).map_err(|_| ParseError::from(current)),
    }
}

fn read_legacy_stack(mut reader: BinaryReader<'_>) -> Result<Thread, ParseError> {
    expect_zero(&mut reader, "corestack")?;
    let name = reader.read_unlimited_string()?.to_string();
    let count = reader.read_var_u32()?;
    let mut frames = Vec::new();
    for _ in 0..count {
        expect_zero(&mut reader, "frame")?;
        let function = reader.read_var_u32()?;
        let code_offset = reader.read_var_u32()?;
        let locals = read_values(&mut reader)?;
        let stack = read_values(&mut reader)?;
        frames.push(Frame {
            instance: 0,
            function,
            code_offset,
            locals,
            stack,
        });
    }
    if !reader.eof() {
        return Err(ParseError::new(
            reader.original_position(),
            "trailing bytes at end of corestack section",
        ));
    }
    Ok(Thread { name, frames })
}

fn read_values(reader: &mut BinaryReader<'_>) -> Result<Vec<Value>, ParseError> {
    let count = reader.read_var_u32()?;
    // Each value takes at least one byte: bound the allocation by what is left.
    let mut values = Vec::with_capacity((count as usize).min(reader.bytes_remaining()));
    for _ in 0..count {
        values.push(dump_value(reader.read::<wasmparser::CoreDumpValue>()?));
    }
    Ok(values)
}

pub(crate) fn expect_zero(reader: &mut BinaryReader<'_>, what: &str) -> Result<(), ParseError> {
    let at = reader.original_position();
    match reader.read_u8()? {
        0 => Ok(()),
        other => Err(ParseError::new(
            at,
            format!("invalid start byte {other:#04x} for {what} (expected 0x00)"),
        )),
    }
}

fn dump_value(value: wasmparser::CoreDumpValue) -> Value {
    match value {
        wasmparser::CoreDumpValue::Missing => Value::Missing,
        wasmparser::CoreDumpValue::I32(v) => Value::I32(v),
        wasmparser::CoreDumpValue::I64(v) => Value::I64(v),
        wasmparser::CoreDumpValue::F32(v) => Value::F32(v.bits()),
        wasmparser::CoreDumpValue::F64(v) => Value::F64(v.bits()),
    }
}

fn val_type(ty: wasmparser::ValType, offset: usize) -> Result<ValType, ParseError> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ValType::Ref(ref_kind(r.heap_type(), offset)?),
    })
}

fn ref_kind(heap: HeapType, offset: usize) -> Result<RefKind, ParseError> {
    let HeapType::Abstract { ty, .. } = heap else {
        return Err(ParseError::new(
            offset,
            "reference to a concrete type: core dumps use abstract reference types",
        ));
    };
    Ok(match ty {
        AbstractHeapType::Func => RefKind::Func,
        AbstractHeapType::Extern => RefKind::Extern,
        AbstractHeapType::Any => RefKind::Any,
        AbstractHeapType::None => RefKind::None,
        AbstractHeapType::NoExtern => RefKind::NoExtern,
        AbstractHeapType::NoFunc => RefKind::NoFunc,
        AbstractHeapType::Eq => RefKind::Eq,
        AbstractHeapType::Struct => RefKind::Struct,
        AbstractHeapType::Array => RefKind::Array,
        AbstractHeapType::I31 => RefKind::I31,
        AbstractHeapType::Exn => RefKind::Exn,
        AbstractHeapType::NoExn => RefKind::NoExn,
        AbstractHeapType::Cont => RefKind::Cont,
        AbstractHeapType::NoCont => RefKind::NoCont,
    })
}

/// Evaluates a constant expression made of a single constant instruction.
/// Whether a global's constant initialiser is of the global's declared type
/// (a module where it is not is invalid, and the value could not round-trip).
fn value_has_type(value: Value, ty: ValType) -> bool {
    match (ty, value) {
        (ValType::I32, Value::I32(_))
        | (ValType::I64, Value::I64(_))
        | (ValType::F32, Value::F32(_))
        | (ValType::F64, Value::F64(_))
        | (ValType::V128, Value::V128(_)) => true,
        (ValType::Ref(kind), Value::RefNull(null)) => kind == null,
        _ => false,
    }
}

fn const_value(expr: &ConstExpr<'_>) -> Result<Value, ParseError> {
    let mut ops = expr.get_operators_reader();
    let at = ops.original_position();
    let value = match ops.read()? {
        Operator::I32Const { value } => Value::I32(value),
        Operator::I64Const { value } => Value::I64(value),
        Operator::F32Const { value } => Value::F32(value.bits()),
        Operator::F64Const { value } => Value::F64(value.bits()),
        Operator::V128Const { value } => Value::V128(u128::from_le_bytes(*value.bytes())),
        Operator::RefNull { hty } => Value::RefNull(ref_kind(hty, at)?),
        other => {
            return Err(ParseError::new(
                at,
                format!("unsupported constant expression in core dump: {other:?}"),
            ));
        }
    };
    let end_at = ops.original_position();
    match ops.read()? {
        Operator::End if ops.eof() => Ok(value),
        _ => Err(ParseError::new(
            end_at,
            "constant expression in core dump must be a single constant",
        )),
    }
}
