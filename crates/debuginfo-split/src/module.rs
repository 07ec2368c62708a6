//! One pass over a module's sections: where each one starts and ends, byte for byte.
//!
//! Only section headers are read (and custom section names). Function bodies
//! are skipped with [`Parser::skip_section`], so the cost does not grow with
//! the amount of code, and nothing is validated beyond the section framing
//! and order that [`Parser`] checks anyway.

use std::ops::Range;

use wasm_coredump::{
    BUILD_ID_SECTION, BuildId, EXTERNAL_DEBUG_INFO_SECTION, ParseError, parse_external_debug_info,
};
use wasmparser::{BinaryReader, Chunk, Encoding, Parser, Payload};

use crate::ModuleError;

/// Id of custom sections.
pub const CUSTOM_SECTION_ID: u8 = 0;
/// Id of the Code section.
pub const CODE_SECTION_ID: u8 = 10;
/// Name of the `name` custom section.
pub const NAME_SECTION: &str = "name";
/// Every custom section whose name starts with this is DWARF.
pub const DWARF_SECTION_PREFIX: &str = ".debug_";
/// Relocations of DWARF sections in relocatable objects (`reloc..debug_info`):
/// they go wherever the DWARF goes.
pub const DWARF_RELOC_PREFIX: &str = "reloc..debug_";

/// What a section means to the splitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionRole {
    /// A `.debug_*` section (or its `reloc..debug_*` relocations).
    Dwarf,
    /// The `build_id` custom section.
    BuildId,
    /// The `external_debug_info` custom section.
    ExternalDebugInfo,
    /// The `name` custom section.
    Names,
    /// The Code section.
    Code,
    /// Anything else, copied as it is.
    Other,
}

/// One section as it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    /// Section id (0 for custom sections).
    pub id: u8,
    /// The name of a custom section.
    pub name: Option<&'a str>,
    /// The whole section in the file: id byte, size LEB and payload.
    pub range: Range<usize>,
    /// The section's contents in the file: for a custom section the bytes
    /// after its name, for the Code section its whole payload (function
    /// count included; DWARF addresses count from its start), otherwise the
    /// payload.
    pub data_range: Range<usize>,
    /// The bytes of `range`.
    pub raw: &'a [u8],
    /// The bytes of `data_range`.
    pub data: &'a [u8],
}

impl Section<'_> {
    /// How the splitter treats this section.
    pub fn role(&self) -> SectionRole {
        if self.id == CODE_SECTION_ID {
            return SectionRole::Code;
        }
        match self.name {
            Some(BUILD_ID_SECTION) => SectionRole::BuildId,
            Some(EXTERNAL_DEBUG_INFO_SECTION) => SectionRole::ExternalDebugInfo,
            Some(NAME_SECTION) => SectionRole::Names,
            Some(name) if is_dwarf_section_name(name) => SectionRole::Dwarf,
            _ => SectionRole::Other,
        }
    }

    /// A short description for messages: `code section (id 10)`, `custom section ".debug_info"`.
    pub fn describe(&self) -> String {
        describe_section(self.id, self.name)
    }
}

/// Whether a custom section with this name holds DWARF (or DWARF relocations).
pub fn is_dwarf_section_name(name: &str) -> bool {
    name.starts_with(DWARF_SECTION_PREFIX) || name.starts_with(DWARF_RELOC_PREFIX)
}

fn describe_section(id: u8, name: Option<&str>) -> String {
    const KNOWN: [&str; 14] = [
        "custom",
        "type",
        "import",
        "function",
        "table",
        "memory",
        "global",
        "export",
        "start",
        "element",
        "code",
        "data",
        "data count",
        "tag",
    ];
    match (id, name) {
        (CUSTOM_SECTION_ID, Some(name)) => format!("custom section {name:?}"),
        (id, _) => match KNOWN.get(usize::from(id)) {
            Some(known) => format!("{known} section (id {id})"),
            None => format!("unknown section (id {id})"),
        },
    }
}

/// A parsed module: its 8-byte header and its sections in file order.
#[derive(Debug, Clone)]
pub struct Module<'a> {
    bytes: &'a [u8],
    header: Range<usize>,
    sections: Vec<Section<'a>>,
}

impl<'a> Module<'a> {
    /// Finds the sections of a core module. Fails, naming the problem and its
    /// offset, on anything that is not a well-framed core module.
    pub fn parse(bytes: &'a [u8]) -> Result<Module<'a>, ModuleError> {
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            let message = if bytes.starts_with(b"\0asm") || b"\0asm".starts_with(bytes) {
                "the file is too short to be a WebAssembly module (8-byte header)"
            } else {
                "the file does not start with the WebAssembly magic bytes `\\0asm`"
            };
            return Err(malformed(0, message));
        }
        let mut parser = Parser::new(0);
        let mut offset = 0usize;
        let mut header = 0..0;
        let mut sections = Vec::new();
        loop {
            let rest = &bytes[offset..];
            if !header.is_empty() {
                check_section_fits(bytes, offset)?;
            }
            let chunk = parser.parse(rest, true).map_err(ParseError::from)?;
            let (consumed, payload) = match chunk {
                Chunk::Parsed { consumed, payload } => (consumed, payload),
                // With `eof = true` the parser reports missing bytes as errors.
                Chunk::NeedMoreData(_) => {
                    return Err(malformed(bytes.len(), "unexpected end of file"));
                }
            };
            let start = offset;
            match payload {
                Payload::Version {
                    encoding, range, ..
                } => {
                    if encoding != Encoding::Module {
                        return Err(ModuleError::Component);
                    }
                    header = range.start..range.end;
                    offset = range.end;
                }
                Payload::End(_) => break,
                Payload::CodeSectionStart { range, .. } => {
                    // `check_section_fits` has made sure the body is in `bytes`.
                    parser.skip_section();
                    sections.push(Section {
                        id: CODE_SECTION_ID,
                        name: None,
                        range: start..range.end,
                        data_range: range.clone(),
                        raw: &bytes[start..range.end],
                        data: &bytes[range.clone()],
                    });
                    offset = range.end;
                }
                Payload::CustomSection(reader) => {
                    let end = start + consumed;
                    let data_range = reader.data_offset()..end;
                    sections.push(Section {
                        id: CUSTOM_SECTION_ID,
                        name: Some(reader.name()),
                        range: start..end,
                        data: &bytes[data_range.clone()],
                        data_range,
                        raw: &bytes[start..end],
                    });
                    offset = end;
                }
                other => {
                    let end = start + consumed;
                    let Some((id, data_range)) = other.as_section() else {
                        return Err(malformed(
                            start,
                            "unexpected item where a section was expected",
                        ));
                    };
                    if data_range.start < start || data_range.end > end {
                        return Err(malformed(start, "section payload outside its section"));
                    }
                    sections.push(Section {
                        id,
                        name: None,
                        range: start..end,
                        data: &bytes[data_range.clone()],
                        data_range,
                        raw: &bytes[start..end],
                    });
                    offset = end;
                }
            }
        }
        Ok(Module {
            bytes,
            header,
            sections,
        })
    }

    /// The whole module.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The 8-byte header (magic and version).
    pub fn header(&self) -> Range<usize> {
        self.header.clone()
    }

    /// Every section, in file order.
    pub fn sections(&self) -> &[Section<'a>] {
        &self.sections
    }

    /// The DWARF sections (names starting with `.debug_`, plus their relocations).
    pub fn dwarf_sections(&self) -> impl Iterator<Item = &Section<'a>> {
        self.sections
            .iter()
            .filter(|s| s.role() == SectionRole::Dwarf)
    }

    /// Whether the module has any `.debug_*` section.
    pub fn has_dwarf(&self) -> bool {
        self.dwarf_sections().next().is_some()
    }

    /// The Code section, if any.
    pub fn code_section(&self) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.id == CODE_SECTION_ID)
    }

    /// The build id from the module's `build_id` section(s). Several sections
    /// are accepted when they agree.
    pub fn build_id(&self) -> Result<Option<BuildId>, ModuleError> {
        let mut found: Option<BuildId> = None;
        for section in self
            .sections
            .iter()
            .filter(|s| s.role() == SectionRole::BuildId)
        {
            let id = BuildId::from_section_payload(section.data, section.data_range.start)?;
            match &found {
                Some(first) if *first != id => {
                    return Err(ModuleError::ConflictingBuildIds {
                        first: first.clone(),
                        second: id,
                    });
                }
                Some(_) => {}
                None => found = Some(id),
            }
        }
        Ok(found)
    }

    /// The URL of the last `external_debug_info` section (the one readers use).
    pub fn external_debug_info(&self) -> Result<Option<String>, ModuleError> {
        let Some(section) = self
            .sections
            .iter()
            .rev()
            .find(|s| s.role() == SectionRole::ExternalDebugInfo)
        else {
            return Ok(None);
        };
        Ok(Some(parse_external_debug_info(
            section.data,
            section.data_range.start,
        )?))
    }
}

fn malformed(offset: usize, message: &str) -> ModuleError {
    ModuleError::Malformed(ParseError {
        offset,
        message: message.to_string(),
    })
}

/// Makes sure the section starting at `offset` lies inside `bytes`, so a
/// truncated file gets a message that says so (and the Code section, which
/// the parser does not read in full, is known to be complete).
fn check_section_fits(bytes: &[u8], offset: usize) -> Result<(), ModuleError> {
    let rest = &bytes[offset..];
    if rest.is_empty() {
        return Ok(());
    }
    let mut reader = BinaryReader::new(rest, offset);
    let Ok(id) = reader.read_u8() else {
        return Ok(());
    };
    // A malformed size is left to the parser, which words it well.
    let Ok(size) = reader.read_var_u32() else {
        return Ok(());
    };
    let available = reader.bytes_remaining() as u64;
    if u64::from(size) <= available {
        return Ok(());
    }
    let name = (id == CUSTOM_SECTION_ID)
        .then(|| reader.read_string().ok())
        .flatten();
    Err(ModuleError::Truncated {
        section: describe_section(id, name),
        offset,
        declared: size.into(),
        available,
    })
}
