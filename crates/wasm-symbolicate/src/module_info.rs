//! The module's own sections (imports, exports, globals, memories, function
//! types, global names): what wasmgdb's `info imports|exports|globals|memory|
//! registers` show, and what the frame model in [`crate::unwind`] needs (the
//! stack-pointer global, each function's parameter count).
//!
//! [`wasm_coredump::ModuleLayout`] already holds code offsets and function
//! names; this reads the rest, once, without touching code or DWARF.

use std::collections::BTreeMap;

use wasmparser::{ExternalKind, Name, Parser, Payload, TypeRef};

/// An import of any kind.
#[derive(Debug, Clone)]
pub struct Import {
    pub module: String,
    pub name: String,
    /// `func`, `table`, `memory`, `global` or `tag`.
    pub kind: &'static str,
    /// Index in its kind's index space.
    pub index: u32,
    /// For functions: the signature, as `(param i32) (result i32)`.
    pub signature: Option<String>,
}

/// An export.
#[derive(Debug, Clone)]
pub struct Export {
    pub name: String,
    pub kind: &'static str,
    pub index: u32,
}

/// A global's declaration in the module.
#[derive(Debug, Clone)]
pub struct GlobalDecl {
    pub ty: String,
    pub mutable: bool,
    pub imported: bool,
}

/// What `info` commands need from the module's sections.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub globals: Vec<GlobalDecl>,
    pub global_names: BTreeMap<u32, String>,
    pub memories: Vec<String>,
    /// Signature of each function (imports first), by index.
    pub signatures: Vec<String>,
    /// Number of params of each function, by index.
    pub param_counts: Vec<u32>,
    pub start: Option<u32>,
}

fn signature(ty: &wasmparser::FuncType) -> String {
    let mut out = String::new();
    if !ty.params().is_empty() {
        out.push_str("(param");
        for p in ty.params() {
            out.push(' ');
            out.push_str(&p.to_string());
        }
        out.push(')');
    }
    if !ty.results().is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("(result");
        for r in ty.results() {
            out.push(' ');
            out.push_str(&r.to_string());
        }
        out.push(')');
    }
    out
}

fn kind_name(kind: ExternalKind) -> &'static str {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => "func",
        ExternalKind::Table => "table",
        ExternalKind::Memory => "memory",
        ExternalKind::Global => "global",
        ExternalKind::Tag => "tag",
    }
}

impl ModuleInfo {
    /// Reads the sections; a malformed one is an error (the caller has
    /// already laid the module out, so this is rare).
    pub fn parse(wasm: &[u8]) -> Result<Self, wasmparser::BinaryReaderError> {
        let mut info = ModuleInfo::default();
        let mut types: Vec<Option<wasmparser::FuncType>> = Vec::new();
        let mut counts = [0u32; 5]; // func, table, memory, global, tag imports
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for sub in group?.into_types() {
                            types.push(match sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some(f),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import?;
                        let (kind, slot, sig) = match import.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                                let ty = types.get(t as usize).and_then(|t| t.as_ref());
                                info.signatures.push(ty.map(signature).unwrap_or_default());
                                info.param_counts
                                    .push(ty.map_or(0, |t| t.params().len() as u32));
                                ("func", 0, ty.map(signature))
                            }
                            TypeRef::Table(_) => ("table", 1, None),
                            TypeRef::Memory(m) => {
                                info.memories.push(memory_text(&m, true));
                                ("memory", 2, None)
                            }
                            TypeRef::Global(g) => {
                                info.globals.push(GlobalDecl {
                                    ty: g.content_type.to_string(),
                                    mutable: g.mutable,
                                    imported: true,
                                });
                                ("global", 3, None)
                            }
                            TypeRef::Tag(_) => ("tag", 4, None),
                        };
                        info.imports.push(Import {
                            module: import.module.to_string(),
                            name: import.name.to_string(),
                            kind,
                            index: counts[slot],
                            signature: sig,
                        });
                        counts[slot] += 1;
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        let ty = types.get(ty? as usize).and_then(|t| t.as_ref());
                        info.signatures.push(ty.map(signature).unwrap_or_default());
                        info.param_counts
                            .push(ty.map_or(0, |t| t.params().len() as u32));
                    }
                }
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        info.memories.push(memory_text(&memory?, false));
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader {
                        let global = global?;
                        info.globals.push(GlobalDecl {
                            ty: global.ty.content_type.to_string(),
                            mutable: global.ty.mutable,
                            imported: false,
                        });
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export?;
                        info.exports.push(Export {
                            name: export.name.to_string(),
                            kind: kind_name(export.kind),
                            index: export.index,
                        });
                    }
                }
                Payload::StartSection { func, .. } => info.start = Some(func),
                Payload::CustomSection(section) => {
                    if let wasmparser::KnownCustom::Name(names) = section.as_known() {
                        for name in names {
                            let Ok(Name::Global(map)) = name else {
                                continue;
                            };
                            for naming in map.into_iter().flatten() {
                                info.global_names
                                    .insert(naming.index, naming.name.to_string());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// The global's name from the `name` section, or an export's name.
    pub fn global_name(&self, index: u32) -> Option<&str> {
        self.global_names
            .get(&index)
            .map(String::as_str)
            .or_else(|| {
                self.exports
                    .iter()
                    .find(|e| e.kind == "global" && e.index == index)
                    .map(|e| e.name.as_str())
            })
    }

    /// The index of `__stack_pointer`, by name, else global 0 when it is a mutable i32.
    pub fn stack_pointer(&self) -> Option<u32> {
        if let Some((&index, _)) = self
            .global_names
            .iter()
            .find(|(_, n)| n.as_str() == "__stack_pointer")
        {
            return Some(index);
        }
        let first = self.globals.first()?;
        (first.mutable && first.ty == "i32").then_some(0)
    }
}

fn memory_text(m: &wasmparser::MemoryType, imported: bool) -> String {
    let mut out = format!(
        "{}{} pages",
        if m.memory64 { "i64 " } else { "" },
        m.initial
    );
    if let Some(max) = m.maximum {
        out.push_str(&format!(", max {max}"));
    }
    if m.shared {
        out.push_str(", shared");
    }
    if imported {
        out.push_str(", imported");
    }
    out
}
