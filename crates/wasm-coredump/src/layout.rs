//! Where things are inside a Wasm module, and conversion between the three
//! code-offset coordinate systems a post-mortem tool meets:
//!
//! - [`CodeLocation`]: a dump frame's function index plus offset from the start
//!   of that function's body (just after the body-size LEB, locals included);
//! - [`DwarfAddress`]: offset from the start of the Code section payload, as in
//!   DWARF line tables and ranges;
//! - [`ModuleOffset`]: offset from the start of the file, as node/V8 and
//!   wasmtime print in traces.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use wasmparser::{KnownCustom, Name, Parser, Payload, TypeRef};

use crate::build_id::{self, BuildId};
use crate::{OffsetError, ParseError};

/// A code position as core dumps record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeLocation {
    /// Function index, imports counted.
    pub function: u32,
    /// Offset from the start of the function body.
    pub offset: u32,
}

/// An address as DWARF records it: relative to the Code section payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DwarfAddress(pub u64);

/// An offset from the start of the module file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleOffset(pub u64);

impl fmt::Display for DwarfAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for ModuleOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// The byte layout of a module: its code bodies, names and identity sections.
#[derive(Debug, Clone, Default)]
pub struct ModuleLayout {
    code_payload: Option<Range<usize>>,
    imported_functions: u32,
    /// Module-offset ranges of each defined function's body, after the size LEB.
    bodies: Vec<Range<usize>>,
    function_names: BTreeMap<u32, String>,
    imported_names: BTreeMap<u32, (String, String)>,
    build_id: Option<BuildId>,
    external_debug_info: Option<String>,
    custom_sections: Vec<(String, Range<usize>)>,
}

impl ModuleLayout {
    /// Reads the layout of a module without validating its code.
    pub fn parse(wasm: &[u8]) -> Result<Self, ParseError> {
        let mut layout = ModuleLayout::default();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::Version {
                    encoding, range, ..
                } if encoding != wasmparser::Encoding::Module => {
                    return Err(ParseError::new(
                        range.start,
                        "components are not supported; expected a core module",
                    ));
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import?;
                        if let TypeRef::Func(_) | TypeRef::FuncExact(_) = import.ty {
                            layout.imported_names.insert(
                                layout.imported_functions,
                                (import.module.to_string(), import.name.to_string()),
                            );
                            layout.imported_functions += 1;
                        }
                    }
                }
                Payload::CodeSectionStart { range, .. } => layout.code_payload = Some(range),
                Payload::CodeSectionEntry(body) => layout.bodies.push(body.range()),
                Payload::CustomSection(section) => {
                    let data_range =
                        section.data_offset()..section.data_offset() + section.data().len();
                    layout
                        .custom_sections
                        .push((section.name().to_string(), data_range));
                    match section.name() {
                        build_id::BUILD_ID_SECTION => {
                            layout.build_id = Some(BuildId::from_section_payload(
                                section.data(),
                                section.data_offset(),
                            )?);
                        }
                        build_id::EXTERNAL_DEBUG_INFO_SECTION => {
                            // The last one wins.
                            layout.external_debug_info = Some(build_id::parse_external_debug_info(
                                section.data(),
                                section.data_offset(),
                            )?);
                        }
                        _ => {
                            if let KnownCustom::Name(names) = section.as_known() {
                                layout.read_names(names);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(layout)
    }

    /// Function names from the `name` section. A malformed name section is
    /// ignored, as engines do, rather than failing the whole module.
    fn read_names(&mut self, names: wasmparser::NameSectionReader<'_>) {
        for name in names {
            let Ok(Name::Function(map)) = name else {
                continue;
            };
            for naming in map.into_iter().flatten() {
                self.function_names
                    .insert(naming.index, naming.name.to_string());
            }
        }
    }

    /// The Code section payload's range in the file, if the module has code.
    pub fn code_payload(&self) -> Option<Range<usize>> {
        self.code_payload.clone()
    }

    /// Number of imported functions (defined functions are numbered after them).
    pub fn imported_functions(&self) -> u32 {
        self.imported_functions
    }

    /// Total functions, imports counted.
    pub fn function_count(&self) -> u32 {
        self.imported_functions + self.bodies.len() as u32
    }

    /// The module-offset range of a defined function's body (after its size LEB).
    pub fn function_body(&self, function: u32) -> Option<Range<usize>> {
        let defined = function.checked_sub(self.imported_functions)?;
        self.bodies.get(defined as usize).cloned()
    }

    /// The `name` section's name for a function.
    pub fn function_name(&self, function: u32) -> Option<&str> {
        self.function_names.get(&function).map(String::as_str)
    }

    /// All names from the `name` section, by function index.
    pub fn function_names(&self) -> &BTreeMap<u32, String> {
        &self.function_names
    }

    /// `(module, field)` of an imported function.
    pub fn import(&self, function: u32) -> Option<(&str, &str)> {
        self.imported_names
            .get(&function)
            .map(|(m, n)| (m.as_str(), n.as_str()))
    }

    pub fn build_id(&self) -> Option<&BuildId> {
        self.build_id.as_ref()
    }

    /// The URL of the last `external_debug_info` section.
    pub fn external_debug_info(&self) -> Option<&str> {
        self.external_debug_info.as_deref()
    }

    /// Every custom section's name and payload range, in file order.
    pub fn custom_sections(&self) -> &[(String, Range<usize>)] {
        &self.custom_sections
    }

    /// Whether the module carries DWARF (`.debug_info` present).
    pub fn has_dwarf(&self) -> bool {
        self.custom_sections
            .iter()
            .any(|(name, _)| name == ".debug_info")
    }

    fn code_start(&self) -> Result<usize, OffsetError> {
        self.code_payload
            .as_ref()
            .map(|r| r.start)
            .ok_or(OffsetError::NoCode)
    }

    /// Dump coordinates to whole-module offset.
    pub fn to_module_offset(&self, loc: CodeLocation) -> Result<ModuleOffset, OffsetError> {
        let body = self
            .function_body(loc.function)
            .ok_or(OffsetError::NoSuchFunction(loc.function))?;
        if loc.offset == 0 {
            return Err(OffsetError::Unknown(loc.function));
        }
        let size = (body.end - body.start) as u64;
        if u64::from(loc.offset) >= size {
            return Err(OffsetError::OutsideBody {
                function: loc.function,
                offset: loc.offset.into(),
                size,
            });
        }
        Ok(ModuleOffset(body.start as u64 + u64::from(loc.offset)))
    }

    /// Dump coordinates to a DWARF address.
    pub fn to_dwarf_address(&self, loc: CodeLocation) -> Result<DwarfAddress, OffsetError> {
        let module = self.to_module_offset(loc)?;
        Ok(DwarfAddress(module.0 - self.code_start()? as u64))
    }

    /// Whole-module offset to dump coordinates.
    pub fn location_of_module_offset(
        &self,
        offset: ModuleOffset,
    ) -> Result<CodeLocation, OffsetError> {
        let at = usize::try_from(offset.0).map_err(|_| OffsetError::NotInCode(offset.0))?;
        let index = self.bodies.partition_point(|body| body.end <= at);
        match self.bodies.get(index) {
            Some(body) if body.start <= at => Ok(CodeLocation {
                function: self.imported_functions + index as u32,
                offset: (at - body.start) as u32,
            }),
            _ => Err(OffsetError::NotInCode(offset.0)),
        }
    }

    /// DWARF address to dump coordinates.
    pub fn location_of_dwarf_address(
        &self,
        address: DwarfAddress,
    ) -> Result<CodeLocation, OffsetError> {
        let module = self.dwarf_to_module_offset(address)?;
        self.location_of_module_offset(module)
            .map_err(|_| OffsetError::NotInCode(address.0))
    }

    /// DWARF address to whole-module offset.
    pub fn dwarf_to_module_offset(
        &self,
        address: DwarfAddress,
    ) -> Result<ModuleOffset, OffsetError> {
        let start = self.code_start()? as u64;
        address
            .0
            .checked_add(start)
            .map(ModuleOffset)
            .ok_or(OffsetError::NotInCode(address.0))
    }

    /// Whole-module offset to DWARF address.
    pub fn module_offset_to_dwarf(
        &self,
        offset: ModuleOffset,
    ) -> Result<DwarfAddress, OffsetError> {
        let code = self.code_payload.as_ref().ok_or(OffsetError::NoCode)?;
        let at = usize::try_from(offset.0).map_err(|_| OffsetError::NotInCode(offset.0))?;
        if !code.contains(&at) {
            return Err(OffsetError::NotInCode(offset.0));
        }
        Ok(DwarfAddress((at - code.start) as u64))
    }
}
