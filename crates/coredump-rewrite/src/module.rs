//! The input module: one pass over its sections with `wasmparser`, validating
//! it and recording what the rewriter needs (types, imports, tables, memories,
//! globals, exports, element segments, function bodies and their validators).

use std::ops::Range;

use wasmparser::{
    CompositeInnerType, ElementItems, ElementKind, Encoding, ExternalKind, FuncToValidate,
    FunctionBody, GlobalType, MemoryType, Operator, Parser, Payload, TableType, TypeRef, ValType,
    ValidPayload, Validator, ValidatorResources, WasmFeatures,
};

use crate::Error;

/// Section ids, as in the binary format.
pub(crate) mod id {
    pub const CUSTOM: u8 = 0;
    pub const TYPE: u8 = 1;
    pub const IMPORT: u8 = 2;
    pub const FUNCTION: u8 = 3;
    pub const TABLE: u8 = 4;
    pub const MEMORY: u8 = 5;
    pub const GLOBAL: u8 = 6;
    pub const EXPORT: u8 = 7;
    pub const START: u8 = 8;
    pub const ELEMENT: u8 = 9;
    pub const CODE: u8 = 10;
    pub const DATA: u8 = 11;
    pub const DATA_COUNT: u8 = 12;
    pub const TAG: u8 = 13;
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Sig {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

/// A section of the input, in file order.
#[derive(Debug, Clone)]
pub(crate) struct SectionRef<'a> {
    pub id: u8,
    /// The payload (after the id and size).
    pub payload: Range<usize>,
    /// The name of a custom section.
    pub name: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub ty: TableType,
    pub imported: bool,
    /// Declared with an initialiser expression (function-references style).
    pub init_expr: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Memory {
    pub ty: MemoryType,
}

impl Memory {
    pub fn page_size_log2(&self) -> u32 {
        self.ty.page_size_log2.unwrap_or(16)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Export<'a> {
    pub name: &'a str,
    /// The raw kind byte.
    pub kind_byte: u8,
    pub kind: ExternalKind,
    pub index: u32,
}

/// Where an element segment puts its items.
#[derive(Debug, Clone)]
pub(crate) enum ElemMode {
    Active {
        table: u32,
        /// The offset expression's bytes, without its final `end`.
        offset_expr: Range<usize>,
        /// The offset, when it is a plain constant.
        offset: Option<u64>,
    },
    Passive,
    Declared,
}

/// One item of an element segment.
#[derive(Debug, Clone)]
pub(crate) enum ElemItem {
    /// A function index (or a `ref.func` expression).
    Func(u32),
    /// Any other expression (`ref.null`, `global.get`...): its raw bytes, `end` included.
    Expr(Range<usize>),
}

#[derive(Debug, Clone)]
pub(crate) struct Elem {
    pub mode: ElemMode,
    /// Whether items are expressions (flags bit 2).
    pub exprs: bool,
    /// The segment's bytes before the item vector (flags, table, offset, kind).
    pub prefix: Range<usize>,
    pub items: Vec<ElemItem>,
}

/// Everything the rewriter knows about its input.
pub(crate) struct Input<'a> {
    pub bytes: &'a [u8],
    pub sections: Vec<SectionRef<'a>>,
    /// Function signatures by type index; `None` for non-function types.
    pub types: Vec<Option<Sig>>,
    /// Type indices that are alone in their recursion group (only those can
    /// be structurally equal to a type we add).
    pub singleton_types: Vec<bool>,
    /// GC-style types are present (explicit recursion groups or subtyping):
    /// signature checks on `call_indirect` are then left to the engine.
    pub gc_types: bool,
    /// Type index of every function, imports first.
    pub func_types: Vec<u32>,
    pub imported_funcs: u32,
    pub tables: Vec<Table>,
    pub memories: Vec<Memory>,
    pub globals: Vec<GlobalType>,
    pub imported_globals: u32,
    pub exports: Vec<Export<'a>>,
    pub start: Option<u32>,
    pub elements: Vec<Elem>,
    /// Length of every data segment.
    pub data_lens: Vec<u32>,
    /// Whether each data segment is passive.
    pub data_passive: Vec<bool>,
    pub has_data_count: bool,
    pub bodies: Vec<FunctionBody<'a>>,
    pub validators: Vec<FuncToValidate<ValidatorResources>>,
    pub build_id: Option<Vec<u8>>,
    /// Byte ranges of the global and table initialiser expressions.
    pub const_exprs: Vec<Range<usize>>,
}

impl<'a> Input<'a> {
    pub fn func_sig(&self, func: u32) -> Option<&Sig> {
        let ty = *self.func_types.get(func as usize)?;
        self.types.get(ty as usize)?.as_ref()
    }

    pub fn defined_funcs(&self) -> u32 {
        self.bodies.len() as u32
    }

    pub fn total_funcs(&self) -> u32 {
        self.imported_funcs + self.defined_funcs()
    }

    pub fn is_import(&self, func: u32) -> bool {
        func < self.imported_funcs
    }

    /// Parses and validates `bytes` with every feature wasmparser knows.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut input = Input {
            bytes,
            sections: Vec::new(),
            types: Vec::new(),
            singleton_types: Vec::new(),
            gc_types: false,
            func_types: Vec::new(),
            imported_funcs: 0,
            tables: Vec::new(),
            memories: Vec::new(),
            globals: Vec::new(),
            imported_globals: 0,
            exports: Vec::new(),
            start: None,
            elements: Vec::new(),
            data_lens: Vec::new(),
            data_passive: Vec::new(),
            has_data_count: false,
            bodies: Vec::new(),
            validators: Vec::new(),
            build_id: None,
            const_exprs: Vec::new(),
        };
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload?;
            if let Payload::Version { encoding, .. } = &payload
                && *encoding != Encoding::Module
            {
                return Err(Error::Component);
            }
            match validator.payload(&payload)? {
                ValidPayload::Func(to_validate, body) => {
                    input.validators.push(to_validate);
                    input.bodies.push(body);
                    continue;
                }
                ValidPayload::End(_) | ValidPayload::Ok | ValidPayload::Parser(_) => {}
            }
            input.record(payload)?;
        }
        Ok(input)
    }

    fn section(&mut self, id: u8, payload: Range<usize>) {
        self.sections.push(SectionRef {
            id,
            payload,
            name: None,
        });
    }

    fn record(&mut self, payload: Payload<'a>) -> Result<(), Error> {
        match payload {
            Payload::TypeSection(reader) => {
                self.section(id::TYPE, reader.range());
                for group in reader {
                    let group = group?;
                    let explicit = group.is_explicit_rec_group();
                    let count = group.types().len();
                    for sub in group.types() {
                        if explicit || !sub.is_final || sub.supertype_idx.is_some() {
                            self.gc_types = true;
                        }
                        self.singleton_types.push(count == 1 && !explicit);
                        self.types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(Sig {
                                params: f.params().to_vec(),
                                results: f.results().to_vec(),
                            }),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                self.section(id::IMPORT, reader.range());
                for import in reader.into_imports() {
                    let import = import?;
                    match import.ty {
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                            self.func_types.push(ty);
                            self.imported_funcs += 1;
                        }
                        TypeRef::Table(ty) => self.tables.push(Table {
                            ty,
                            imported: true,
                            init_expr: false,
                        }),
                        TypeRef::Memory(ty) => self.memories.push(Memory { ty }),
                        TypeRef::Global(ty) => {
                            self.globals.push(ty);
                            self.imported_globals += 1;
                        }
                        TypeRef::Tag(_) => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                self.section(id::FUNCTION, reader.range());
                for ty in reader {
                    self.func_types.push(ty?);
                }
            }
            Payload::TableSection(reader) => {
                self.section(id::TABLE, reader.range());
                for table in reader {
                    let table = table?;
                    if let wasmparser::TableInit::Expr(expr) = &table.init {
                        self.const_exprs.push(expr.get_binary_reader().range());
                    }
                    self.tables.push(Table {
                        ty: table.ty,
                        imported: false,
                        init_expr: matches!(table.init, wasmparser::TableInit::Expr(_)),
                    });
                }
            }
            Payload::MemorySection(reader) => {
                self.section(id::MEMORY, reader.range());
                for memory in reader {
                    self.memories.push(Memory { ty: memory? });
                }
            }
            Payload::TagSection(reader) => self.section(id::TAG, reader.range()),
            Payload::GlobalSection(reader) => {
                self.section(id::GLOBAL, reader.range());
                for global in reader {
                    let global = global?;
                    self.const_exprs
                        .push(global.init_expr.get_binary_reader().range());
                    self.globals.push(global.ty);
                }
            }
            Payload::ExportSection(reader) => {
                self.section(id::EXPORT, reader.range());
                let mut raw = wasmparser::BinaryReader::new(
                    &self.bytes[reader.range()],
                    reader.range().start,
                );
                let count = raw.read_var_u32()?;
                for _ in 0..count {
                    let name = raw.read_string()?;
                    let kind_byte = raw.clone().read_u8()?;
                    let kind: ExternalKind = raw.read()?;
                    let index = raw.read_var_u32()?;
                    self.exports.push(Export {
                        name,
                        kind_byte,
                        kind,
                        index,
                    });
                }
            }
            Payload::StartSection { func, range } => {
                self.section(id::START, range);
                self.start = Some(func);
            }
            Payload::ElementSection(reader) => {
                self.section(id::ELEMENT, reader.range());
                for element in reader {
                    let element = element?;
                    self.elements.push(self.elem(element)?);
                }
            }
            Payload::DataCountSection { range, .. } => {
                self.section(id::DATA_COUNT, range);
                self.has_data_count = true;
            }
            Payload::DataSection(reader) => {
                self.section(id::DATA, reader.range());
                for data in reader {
                    let data = data?;
                    self.data_lens.push(data.data.len() as u32);
                    self.data_passive
                        .push(matches!(data.kind, wasmparser::DataKind::Passive));
                }
            }
            Payload::CodeSectionStart { range, .. } => self.section(id::CODE, range),
            Payload::CustomSection(reader) => {
                let name = reader.name();
                if name == "linking" || name.starts_with("reloc.") {
                    return Err(Error::Relocatable);
                }
                if name == wasm_coredump::BUILD_ID_SECTION
                    && let Ok(id) = wasm_coredump::BuildId::from_section_payload(
                        reader.data(),
                        reader.data_offset(),
                    )
                {
                    self.build_id = Some(id.as_bytes().to_vec());
                }
                // The payload after the name.
                let data = reader.data_offset()..reader.data_offset() + reader.data().len();
                self.sections.push(SectionRef {
                    id: id::CUSTOM,
                    payload: data,
                    name: Some(name),
                });
            }
            Payload::UnknownSection { id, range, .. } => {
                return Err(Error::invalid(range.start, format!("unknown section {id}")));
            }
            _ => {}
        }
        Ok(())
    }

    fn elem(&self, element: wasmparser::Element<'a>) -> Result<Elem, Error> {
        let (items_range, exprs, items) = match element.items {
            ElementItems::Functions(reader) => {
                let range = reader.range();
                let mut items = Vec::with_capacity(reader.count() as usize);
                for f in reader {
                    items.push(ElemItem::Func(f?));
                }
                (range, false, items)
            }
            ElementItems::Expressions(_, reader) => {
                let range = reader.range();
                let mut items = Vec::with_capacity(reader.count() as usize);
                for expr in reader.into_iter_with_offsets() {
                    let (_, expr) = expr?;
                    let mut ops = expr.get_operators_reader();
                    let start = ops.original_position();
                    let first = ops.read()?;
                    let mut end;
                    let single = match first {
                        Operator::RefFunc { function_index } => Some(function_index),
                        _ => None,
                    };
                    let mut count = 1;
                    loop {
                        let op = ops.read()?;
                        end = ops.original_position();
                        if matches!(op, Operator::End) && ops.eof() {
                            break;
                        }
                        count += 1;
                    }
                    items.push(match single {
                        Some(f) if count == 1 => ElemItem::Func(f),
                        _ => ElemItem::Expr(start..end),
                    });
                }
                (range, true, items)
            }
        };
        let mode = match element.kind {
            ElementKind::Passive => ElemMode::Passive,
            ElementKind::Declared => ElemMode::Declared,
            ElementKind::Active {
                table_index,
                offset_expr,
            } => {
                let mut ops = offset_expr.get_operators_reader();
                let start = ops.original_position();
                let mut offset = None;
                let end;
                let mut first = true;
                loop {
                    let op_start = ops.original_position();
                    let op = ops.read()?;
                    if matches!(op, Operator::End) && ops.eof() {
                        end = op_start;
                        break;
                    }
                    offset = match (first, op) {
                        (true, Operator::I32Const { value }) => Some(u64::from(value as u32)),
                        (true, Operator::I64Const { value }) => Some(value as u64),
                        _ => None,
                    };
                    first = false;
                }
                ElemMode::Active {
                    table: table_index.unwrap_or(0),
                    offset_expr: start..end,
                    offset,
                }
            }
        };
        Ok(Elem {
            mode,
            exprs,
            prefix: element.range.start..items_range.start,
            items,
        })
    }
}
