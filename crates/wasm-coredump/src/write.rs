//! Encoding a [`CoreDump`] as a spec core-dump file, memory written sparsely.

use std::borrow::Cow;

use wasm_encoder::{
    ConstExpr, CoreDumpInstancesSection, CoreDumpModulesSection, CoreDumpSection,
    CoreDumpStackSection, CustomSection, DataSection, GlobalSection, GlobalType, MemorySection,
    MemoryType, Module,
};

use crate::ext::{self, encode};
use crate::memory::{Memory, nonzero_runs};
use crate::model::*;

/// Zero runs at least this long are left out of the written memory; shorter
/// ones cost less than a new data segment's header.
pub(crate) const MIN_ZERO_GAP: usize = 32;

/// Validators cap the number of data segments in a module at this many.
const MAX_DATA_SEGMENTS: usize = 100_000;

impl CoreDump {
    /// Encodes the dump. Frame values that the format cannot hold (`V128`,
    /// references) are written as missing.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut module = Module::new();
        if let Some(name) = &self.executable_name {
            module.section(&CoreDumpSection::new(name.as_str()));
        }
        if !self.modules.is_empty() {
            let mut modules = CoreDumpModulesSection::new();
            for m in &self.modules {
                modules.module(&m.name);
            }
            module.section(&modules);
        }
        if !self.instances.is_empty() {
            let mut instances = CoreDumpInstancesSection::new();
            for i in &self.instances {
                instances.instance(
                    i.module,
                    i.memories.iter().copied(),
                    i.globals.iter().copied(),
                );
            }
            module.section(&instances);
        }
        for thread in &self.threads {
            let mut stack = CoreDumpStackSection::new(thread.name.as_str());
            for f in &thread.frames {
                stack.frame(
                    f.instance,
                    f.function,
                    f.code_offset,
                    f.locals.iter().map(|v| frame_value(*v)).collect::<Vec<_>>(),
                    f.stack.iter().map(|v| frame_value(*v)).collect::<Vec<_>>(),
                );
            }
            module.section(&stack);
        }
        for section in self.extension_sections() {
            module.section(&section);
        }

        let mut memories = MemorySection::new();
        for memory in &self.memories {
            let limits = memory.limits();
            memories.memory(MemoryType {
                minimum: limits.pages,
                maximum: limits.maximum,
                memory64: limits.memory64,
                shared: limits.shared,
                page_size_log2: limits.page_size_log2,
            });
        }
        module.section(&memories);

        let mut globals = GlobalSection::new();
        for g in &self.globals {
            globals.global(
                GlobalType {
                    val_type: encoder_val_type(g.ty),
                    mutable: g.mutable,
                    shared: false,
                },
                &const_expr(g.value, g.ty),
            );
        }
        module.section(&globals);
        module.section(&data_section(&self.memories));
        module.finish()
    }

    fn extension_sections(&self) -> Vec<CustomSection<'static>> {
        let mut sections = Vec::new();
        let mut custom = |name: &'static str, data: Vec<u8>| {
            sections.push(CustomSection {
                name: Cow::Borrowed(name),
                data: Cow::Owned(data),
            })
        };
        if let Some(trap) = &self.trap {
            let mut data = vec![0];
            encode::name(&mut data, trap.kind.as_str());
            encode::name(&mut data, &trap.message);
            custom(ext::TRAP_SECTION, data);
        }
        let described: Vec<_> = self
            .modules
            .iter()
            .enumerate()
            .filter(|(_, m)| m.build_id.is_some() || m.path.is_some())
            .collect();
        if !described.is_empty() {
            let mut data = vec![0];
            encode::u32(&mut data, described.len() as u32);
            for (index, m) in described {
                encode::u32(&mut data, index as u32);
                let id = m.build_id.as_ref().map_or(&[][..], |id| id.as_bytes());
                encode::u32(&mut data, id.len() as u32);
                data.extend_from_slice(id);
                encode::name(&mut data, m.path.as_deref().unwrap_or(""));
            }
            custom(ext::MODULES_SECTION, data);
        }
        if !self.info.is_empty() {
            let mut data = vec![0];
            encode::u32(&mut data, self.info.len() as u32);
            for (key, value) in &self.info {
                encode::name(&mut data, key);
                encode::name(&mut data, value);
            }
            custom(ext::INFO_SECTION, data);
        }
        let excluded: Vec<_> = self
            .memories
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.excluded().iter().map(move |r| (i as u32, r.clone())))
            .collect();
        if !excluded.is_empty() {
            let mut data = vec![0];
            encode::u32(&mut data, excluded.len() as u32);
            for (memory, range) in excluded {
                encode::u32(&mut data, memory);
                encode::var_u64(&mut data, range.start);
                encode::var_u64(&mut data, range.end - range.start);
            }
            custom(ext::EXCLUDED_SECTION, data);
        }
        sections
    }
}

/// Active data segments for every stored non-zero run, widening the zero gap
/// that splits runs until the segment count fits validators' limit.
fn data_section(memories: &[Memory]) -> DataSection {
    let mut gap = MIN_ZERO_GAP as u64;
    loop {
        let segments: Vec<(u32, Segment)> = memories
            .iter()
            .enumerate()
            .flat_map(|(index, memory)| {
                segments(memory, gap)
                    .into_iter()
                    .map(move |s| (index as u32, s))
            })
            .collect();
        if segments.len() <= MAX_DATA_SEGMENTS {
            let mut data = DataSection::new();
            for (index, segment) in segments {
                let offset = if memories[index as usize].limits().memory64 {
                    ConstExpr::i64_const(segment.address as i64)
                } else {
                    ConstExpr::i32_const(segment.address as u32 as i32)
                };
                data.active(index, &offset, segment.bytes(&memories[index as usize]));
            }
            return data;
        }
        gap = gap.saturating_mul(4);
    }
}

/// A data segment to write: `len` bytes of a memory from `address`.
struct Segment {
    address: u64,
    len: u64,
}

impl Segment {
    fn bytes(&self, memory: &Memory) -> std::vec::IntoIter<u8> {
        // The segment lies within the memory by construction.
        memory
            .read(self.address, self.len as usize)
            .unwrap_or_default()
            .into_iter()
    }
}

/// Non-zero runs of a memory across all its regions, joined where fewer than
/// `gap` zero bytes separate them.
fn segments(memory: &Memory, gap: u64) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for region in memory.regions() {
        for run in nonzero_runs(&region.bytes, gap.min(usize::MAX as u64) as usize) {
            let address = region.address + run.start as u64;
            let end = region.address + run.end as u64;
            match out.last_mut() {
                Some(last) if address - (last.address + last.len) < gap => {
                    last.len = end - last.address
                }
                _ => out.push(Segment {
                    address,
                    len: end - address,
                }),
            }
        }
    }
    out
}

fn frame_value(value: Value) -> wasm_encoder::CoreDumpValue {
    use wasm_encoder::{CoreDumpValue as V, Ieee32, Ieee64};
    match value {
        Value::I32(v) => V::I32(v),
        Value::I64(v) => V::I64(v),
        Value::F32(bits) => V::F32(Ieee32::new(bits)),
        Value::F64(bits) => V::F64(Ieee64::new(bits)),
        Value::Missing | Value::V128(_) | Value::RefNull(_) => V::Missing,
    }
}

fn heap_type(kind: RefKind) -> wasm_encoder::HeapType {
    use wasm_encoder::AbstractHeapType as A;
    let ty = match kind {
        RefKind::Func => A::Func,
        RefKind::Extern => A::Extern,
        RefKind::Any => A::Any,
        RefKind::Eq => A::Eq,
        RefKind::I31 => A::I31,
        RefKind::Struct => A::Struct,
        RefKind::Array => A::Array,
        RefKind::Exn => A::Exn,
        RefKind::Cont => A::Cont,
        RefKind::None => A::None,
        RefKind::NoFunc => A::NoFunc,
        RefKind::NoExtern => A::NoExtern,
        RefKind::NoExn => A::NoExn,
        RefKind::NoCont => A::NoCont,
    };
    wasm_encoder::HeapType::Abstract { shared: false, ty }
}

fn encoder_val_type(ty: ValType) -> wasm_encoder::ValType {
    match ty {
        ValType::I32 => wasm_encoder::ValType::I32,
        ValType::I64 => wasm_encoder::ValType::I64,
        ValType::F32 => wasm_encoder::ValType::F32,
        ValType::F64 => wasm_encoder::ValType::F64,
        ValType::V128 => wasm_encoder::ValType::V128,
        ValType::Ref(kind) => wasm_encoder::ValType::Ref(wasm_encoder::RefType {
            nullable: true,
            heap_type: heap_type(kind),
        }),
    }
}

/// The initialiser for a global: its value, or the type's zero when the value is missing
/// or does not match the type.
fn const_expr(value: Value, ty: ValType) -> ConstExpr {
    use wasm_encoder::{Ieee32, Ieee64};
    match (ty, value) {
        (ValType::I32, Value::I32(v)) => ConstExpr::i32_const(v),
        (ValType::I64, Value::I64(v)) => ConstExpr::i64_const(v),
        (ValType::F32, Value::F32(bits)) => ConstExpr::f32_const(Ieee32::new(bits)),
        (ValType::F64, Value::F64(bits)) => ConstExpr::f64_const(Ieee64::new(bits)),
        (ValType::V128, Value::V128(v)) => ConstExpr::v128_const(v as i128),
        (ValType::I32, _) => ConstExpr::i32_const(0),
        (ValType::I64, _) => ConstExpr::i64_const(0),
        (ValType::F32, _) => ConstExpr::f32_const(Ieee32::new(0)),
        (ValType::F64, _) => ConstExpr::f64_const(Ieee64::new(0)),
        (ValType::V128, _) => ConstExpr::v128_const(0),
        (ValType::Ref(kind), _) => ConstExpr::ref_null(heap_type(kind)),
    }
}
