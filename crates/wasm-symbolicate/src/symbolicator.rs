//! Lookups: code locations to source frames, function names, function lists.
//!
//! A [`Symbolicator`] pairs a module (whose code the locations refer to) with
//! the DWARF found for it. Address lookups go through addr2line's `Context`,
//! which on creation reads only unit headers and their address ranges; a
//! unit's line program and function tree are parsed the first time a lookup
//! lands in that unit. Only [`Symbolicator::functions`] walks every unit, and
//! only when called.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use gimli::{AttributeValue, Reader as _, UnitRef};
use wasm_coredump::{CodeLocation, DwarfAddress, ModuleLayout, ModuleOffset, OffsetError};

use crate::demangle::{NameLanguage, demangle_for};
use crate::dwarf::{self, Reader};
use crate::error::{Error, Result};
use crate::locate::{self, DebugInfoLocator, DebugInfoSource, ModuleFile, NotFound};

/// Where a function name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameSource {
    /// A DWARF subprogram or inlined subroutine (`DW_AT_linkage_name`, else `DW_AT_name`).
    Dwarf,
    /// The module's `name` section.
    NameSection,
    /// An imported function's `module.field`.
    Import,
}

/// A function's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionName {
    /// Demangled (Rust without hash, C++), or as written for C and Zig.
    pub name: String,
    /// The name as the module records it, when it differs from `name`.
    pub linkage_name: Option<String>,
    pub source: NameSource,
}

impl FunctionName {
    fn new(raw: &str, language: NameLanguage, source: NameSource) -> Self {
        let name = demangle_for(raw, language);
        let linkage_name = (name != raw).then(|| raw.to_string());
        FunctionName {
            name,
            linkage_name,
            source,
        }
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// One source-level frame. A single Wasm frame expands to one of these per
/// inlined call, innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFrame {
    /// The function; `None` when neither DWARF nor the `name` section names it.
    pub function: Option<FunctionName>,
    /// The source file as DWARF gives it: compilation directory, include
    /// directory and file name joined (an absolute component restarts the path).
    pub file: Option<String>,
    /// 1-based line; `None` when unknown (DWARF line 0 included).
    pub line: Option<u32>,
    /// 1-based column; `None` when unknown or 0 (the left edge).
    pub column: Option<u32>,
    /// Whether this frame was inlined into the next one in the list.
    pub inlined: bool,
    /// The DIE of the subprogram or inlined subroutine, for variable lookups.
    pub(crate) die: Option<gimli::UnitOffset<usize>>,
}

impl SourceFrame {
    /// The function's display name, or `??` as gdb prints.
    pub fn function_name(&self) -> &str {
        self.function.as_ref().map_or("??", |f| f.name.as_str())
    }

    /// The file's base name.
    pub fn file_name(&self) -> Option<&str> {
        let file = self.file.as_deref()?;
        Some(file.rsplit(['/', '\\']).next().unwrap_or(file))
    }

    /// A frame known by its function name only (or not even that), for
    /// callers that must show a frame no lookup could place.
    pub fn name_only(function: Option<FunctionName>) -> Self {
        SourceFrame {
            function,
            file: None,
            line: None,
            column: None,
            inlined: false,
            die: None,
        }
    }
}

impl fmt::Display for SourceFrame {
    /// `name at file:line:column`, like gdb's backtrace lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.function_name())?;
        if let Some(file) = &self.file {
            write!(f, " at {file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(column) = self.column {
                    write!(f, ":{column}")?;
                }
            }
        }
        if self.inlined {
            f.write_str(" [inlined]")?;
        }
        Ok(())
    }
}

/// A function for `info functions`: a DWARF subprogram with code, or a
/// `name`-section entry for a function DWARF does not describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: FunctionName,
    /// DWARF address ranges of its code (one per contiguous part).
    pub ranges: Vec<Range<u64>>,
    /// The Wasm function index holding the code, when it lies in a body.
    pub function_index: Option<u32>,
    /// Declaring file and line (`DW_AT_decl_file`, `DW_AT_decl_line`).
    pub decl_file: Option<String>,
    pub decl_line: Option<u32>,
}

/// DWARF of the module, ready for lookups.
pub(crate) struct DwarfData {
    pub(crate) sections: Arc<gimli::Dwarf<Reader>>,
    pub(crate) context: addr2line::Context<Reader>,
    /// Names of statics and types, built on the first lookup by name.
    pub(crate) names: std::sync::OnceLock<crate::variables::statics::NameIndex>,
}

/// Symbolicates code locations of one module (see the module docs).
pub struct Symbolicator {
    module: ModuleFile,
    source: DebugInfoSource,
    warnings: Vec<String>,
    dwarf: Option<DwarfData>,
}

impl fmt::Debug for Symbolicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Symbolicator")
            .field("module", &self.module)
            .field("source", &self.source)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl Symbolicator {
    /// Reads the module at `path` and finds its debug info with `locator`.
    pub fn open(path: impl AsRef<Path>, locator: &DebugInfoLocator) -> Result<Self> {
        Self::new(ModuleFile::read(path)?, locator)
    }

    /// Finds the debug info of `module` with `locator`. When there is none,
    /// the symbolicator still works from the `name` section and
    /// [`Symbolicator::source`] says what was tried.
    pub fn new(module: ModuleFile, locator: &DebugInfoLocator) -> Result<Self> {
        let located = locator.locate(&module)?;
        let dwarf = match &located.file {
            Some(file) => Some(DwarfData::new(&file.bytes, &file.layout)?),
            None => None,
        };
        Ok(Symbolicator {
            module,
            source: located.source,
            warnings: located.warnings,
            dwarf,
        })
    }

    /// Uses the DWARF in `debug_file`, a Wasm module the caller names
    /// explicitly (`--debug-file`). Its build id, if it has one, must match
    /// the module's.
    pub fn with_debug_file(module: ModuleFile, debug_file: &Path) -> Result<Self> {
        let bytes = std::fs::read(debug_file).map_err(|source| Error::Io {
            path: debug_file.to_owned(),
            source,
        })?;
        let what = debug_file.display().to_string();
        Self::with_debug_bytes(module, bytes.into(), &what)
    }

    /// Like [`Symbolicator::with_debug_file`], with the debug file in memory;
    /// `what` names it in messages.
    pub fn with_debug_bytes(module: ModuleFile, debug_file: Arc<[u8]>, what: &str) -> Result<Self> {
        let (file, warning) = locate::explicit_debug_file(debug_file, what, &module)?;
        let dwarf = DwarfData::new(&file.bytes, &file.layout)?;
        Ok(Symbolicator {
            module,
            source: DebugInfoSource::Explicit {
                what: what.to_string(),
            },
            warnings: warning.into_iter().collect(),
            dwarf: Some(dwarf),
        })
    }

    /// Names only, from the `name` section; for callers that want no DWARF,
    /// or that fall back after a DWARF error. `reason` is kept in the source.
    pub fn names_only(module: ModuleFile, reason: &str) -> Self {
        let layout = module.layout();
        let source = DebugInfoSource::NotFound(NotFound {
            module: module.display_name(),
            build_id: layout.build_id().cloned(),
            external_debug_info: layout.external_debug_info().map(str::to_string),
            tried: vec![reason.to_string()],
            has_name_section: !layout.function_names().is_empty(),
        });
        Symbolicator {
            module,
            source,
            warnings: Vec::new(),
            dwarf: None,
        }
    }

    /// Where the debug info came from, or why there is none (print it).
    pub fn source(&self) -> &DebugInfoSource {
        &self.source
    }

    /// Remarks from the search: refused candidates, unverifiable build ids.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether lookups have DWARF (file and line numbers) behind them.
    pub fn has_dwarf(&self) -> bool {
        self.dwarf.is_some()
    }

    pub fn module(&self) -> &ModuleFile {
        &self.module
    }

    pub fn layout(&self) -> &ModuleLayout {
        self.module.layout()
    }

    /// The gimli view of the DWARF, for callers that go further (variables).
    pub fn dwarf(&self) -> Option<&gimli::Dwarf<Reader>> {
        self.dwarf.as_ref().map(|d| &*d.sections)
    }

    /// The source frames at a dump code location, innermost (inlined) first;
    /// the last one is the Wasm function itself.
    ///
    /// The location is looked up as it is: a caller frame's offset points at
    /// its `call` instruction, which belongs to the calling line. An unknown
    /// offset (0) yields the function's name only. Without DWARF for the
    /// address, the single frame is named from the `name` section.
    pub fn symbolicate(&self, location: CodeLocation) -> Result<Vec<SourceFrame>> {
        let layout = self.layout();
        if layout.function_body(location.function).is_none() {
            return Err(OffsetError::NoSuchFunction(location.function).into());
        }
        let address = match layout.to_dwarf_address(location) {
            Ok(address) => address,
            Err(OffsetError::Unknown(_)) => {
                return Ok(vec![SourceFrame::name_only(
                    self.function_name(location.function),
                )]);
            }
            Err(err) => return Err(err.into()),
        };
        self.frames_at(address, Some(location.function))
    }

    /// Like [`Symbolicator::symbolicate`] for a whole-module offset (node/V8,
    /// wasmtime traces); also returns the dump location it stands for.
    pub fn symbolicate_module_offset(
        &self,
        offset: ModuleOffset,
    ) -> Result<(CodeLocation, Vec<SourceFrame>)> {
        let location = self.layout().location_of_module_offset(offset)?;
        Ok((location, self.symbolicate(location)?))
    }

    /// Like [`Symbolicator::symbolicate`] for a DWARF address.
    pub fn symbolicate_dwarf_address(&self, address: DwarfAddress) -> Result<Vec<SourceFrame>> {
        let function = self
            .layout()
            .location_of_dwarf_address(address)
            .ok()
            .map(|l| l.function);
        self.frames_at(address, function)
    }

    pub(crate) fn dwarf_data(&self) -> Option<&DwarfData> {
        self.dwarf.as_ref()
    }

    pub(crate) fn frames_at(
        &self,
        address: DwarfAddress,
        function: Option<u32>,
    ) -> Result<Vec<SourceFrame>> {
        let mut frames = match &self.dwarf {
            Some(dwarf) => dwarf.frames(address.0)?,
            None => Vec::new(),
        };
        let fallback = || function.and_then(|f| self.name_section_name(f));
        match frames.last_mut() {
            None => frames.push(SourceFrame::name_only(fallback())),
            Some(outermost) if outermost.function.is_none() => outermost.function = fallback(),
            Some(_) => {}
        }
        Ok(frames)
    }

    /// The name of function `index`: its DWARF subprogram's, else the
    /// `name` section's, else an import's `module.field`. DWARF errors make
    /// it fall back to the `name` section.
    pub fn function_name(&self, index: u32) -> Option<FunctionName> {
        let layout = self.layout();
        if let (Some(dwarf), Some(body), Some(code)) = (
            &self.dwarf,
            layout.function_body(index),
            layout.code_payload(),
        ) && let Some(start) = body.start.checked_sub(code.start)
            && let Ok(Some(name)) = dwarf.subprogram_name(start as u64, body.len() as u64)
        {
            return Some(name);
        }
        self.name_section_name(index)
    }

    fn name_section_name(&self, index: u32) -> Option<FunctionName> {
        let layout = self.layout();
        if let Some(name) = layout.function_name(index) {
            return Some(FunctionName::new(
                name,
                NameLanguage::Other,
                NameSource::NameSection,
            ));
        }
        layout.import(index).map(|(module, field)| FunctionName {
            name: format!("{module}.{field}"),
            linkage_name: None,
            source: NameSource::Import,
        })
    }

    /// Every function with code: DWARF subprograms (inlined-only and
    /// discarded ones left out), then `name`-section functions that no
    /// subprogram covers. Sorted by address. Walks every unit: for `info
    /// functions`, not for backtraces.
    pub fn functions(&self) -> Result<Vec<FunctionInfo>> {
        let layout = self.layout();
        let code_len = layout.code_payload().map_or(0, |r| r.len() as u64);
        let mut out = Vec::new();
        if let Some(dwarf) = &self.dwarf {
            dwarf.subprograms(code_len, &mut out)?;
        }
        let mut covered = std::collections::BTreeSet::new();
        for info in &mut out {
            if let Some(range) = info.ranges.first() {
                info.function_index = layout
                    .location_of_dwarf_address(DwarfAddress(range.start))
                    .ok()
                    .map(|l| l.function);
                covered.extend(info.function_index);
            }
        }
        if let Some(code) = layout.code_payload() {
            for (&index, name) in layout.function_names() {
                if covered.contains(&index) {
                    continue;
                }
                let Some(body) = layout.function_body(index) else {
                    continue;
                };
                let (Some(start), Some(end)) = (
                    body.start.checked_sub(code.start),
                    body.end.checked_sub(code.start),
                ) else {
                    continue;
                };
                out.push(FunctionInfo {
                    name: FunctionName::new(name, NameLanguage::Other, NameSource::NameSection),
                    ranges: std::iter::once(start as u64..end as u64).collect(),
                    function_index: Some(index),
                    decl_file: None,
                    decl_line: None,
                });
            }
        }
        out.sort_by_key(|f| f.ranges.first().map(|r| r.start));
        Ok(out)
    }
}

impl DwarfData {
    fn new(bytes: &Arc<[u8]>, layout: &ModuleLayout) -> Result<Self> {
        let sections = Arc::new(dwarf::load(bytes, layout));
        let context = addr2line::Context::from_arc_dwarf(sections.clone())
            .map_err(|e| Error::dwarf("reading the compilation unit list", e))?;
        Ok(DwarfData {
            sections,
            context,
            names: std::sync::OnceLock::new(),
        })
    }

    fn frames(&self, address: u64) -> Result<Vec<SourceFrame>> {
        let context = |e| Error::dwarf(format!("looking up address {address:#x}"), e);
        let mut iter = self
            .context
            .find_frames(address)
            .skip_all_loads()
            .map_err(context)?;
        let mut frames = Vec::new();
        while let Some(frame) = iter.next().map_err(context)? {
            let function = match frame.function {
                Some(name) => {
                    let raw = name.raw_name().map_err(context)?;
                    Some(FunctionName::new(
                        &raw,
                        NameLanguage::from_dwarf(name.language),
                        NameSource::Dwarf,
                    ))
                }
                None => None,
            };
            let (file, line, column) = match frame.location {
                Some(loc) => (
                    loc.file.map(str::to_string),
                    loc.line,
                    loc.column.filter(|c| *c != 0),
                ),
                None => (None, None, None),
            };
            frames.push(SourceFrame {
                function,
                file,
                line: line.filter(|l| *l != 0),
                column,
                inlined: true,
                die: frame.dw_die_offset,
            });
        }
        if let Some(last) = frames.last_mut() {
            last.inlined = false;
        }
        if frames.iter().any(|f| f.die.is_some()) {
            self.apply_source_names(address, &mut frames)
                .map_err(context)?;
        }
        Ok(frames)
    }

    /// In C units, replaces linkage names with `DW_AT_name` (see [`UnitNaming`]).
    fn apply_source_names(&self, address: u64, frames: &mut [SourceFrame]) -> gimli::Result<()> {
        let Some(unit) = self.context.find_dwarf_and_unit(address).skip_all_loads() else {
            return Ok(());
        };
        if !UnitNaming::of(unit).prefer_source_name {
            return Ok(());
        }
        for frame in frames {
            let Some(die) = frame.die else { continue };
            let entry = unit.entry(die)?;
            let names = die_names(unit, &entry, 0)?;
            if let Some(name) = names.name {
                frame.function = Some(FunctionName {
                    linkage_name: names.linkage_name.filter(|l| *l != name),
                    name,
                    source: NameSource::Dwarf,
                });
            }
        }
        Ok(())
    }

    /// The name of the subprogram whose code starts in `start..start+len`.
    fn subprogram_name(&self, start: u64, len: u64) -> Result<Option<FunctionName>> {
        // A subprogram's low_pc is the start of the body (its local
        // declarations included), but try the first few bytes in case a
        // producer puts it at the first instruction.
        for probe in start..start.saturating_add(len.min(16)) {
            let frames = self.frames(probe)?;
            if let Some(function) = frames.into_iter().last().and_then(|f| f.function) {
                return Ok(Some(function));
            }
        }
        Ok(None)
    }

    fn subprograms(&self, code_len: u64, out: &mut Vec<FunctionInfo>) -> Result<()> {
        let dwarf = &*self.sections;
        let mut headers = dwarf.units();
        loop {
            let header = match headers.next() {
                Ok(Some(header)) => header,
                Ok(None) => break,
                Err(e) => return Err(Error::dwarf("reading a unit header", e)),
            };
            let at = header.debug_info_offset().map_or(0, |o| o.0);
            let context = |e| Error::dwarf(format!("reading the unit at .debug_info+{at:#x}"), e);
            let unit = dwarf.unit(header).map_err(context)?;
            let unit = unit.unit_ref(dwarf);
            let naming = UnitNaming::of(unit);
            let mut entries = unit.entries();
            while let Some(entry) = entries.next_dfs().map_err(context)? {
                if entry.tag() != gimli::DW_TAG_subprogram {
                    continue;
                }
                let mut ranges = Vec::new();
                let mut iter = unit.die_ranges(entry).map_err(context)?;
                while let Some(range) = iter.next().map_err(context)? {
                    // Discarded code carries tombstone addresses (0, -1, -2).
                    if range.begin == 0 || range.begin >= range.end || range.end > code_len {
                        continue;
                    }
                    ranges.push(range.begin..range.end);
                }
                if ranges.is_empty() {
                    continue;
                }
                ranges.sort_by_key(|r| r.start);
                let names = die_names(unit, entry, 0).map_err(context)?;
                let Some(name) = naming.choose(names.name, names.linkage_name) else {
                    continue;
                };
                out.push(FunctionInfo {
                    name,
                    ranges,
                    function_index: None,
                    decl_file: names.decl_file.and_then(|i| file_path(unit, i)),
                    decl_line: names.decl_line,
                });
            }
        }
        Ok(())
    }
}

/// How a unit's functions are named for display.
///
/// Rust, C++ and Zig users know functions by their qualified names, which
/// DWARF gives as the (demangled) `DW_AT_linkage_name` (Zig's reads
/// `crash.divide`). C users know them by `DW_AT_name`: clang gives C's
/// `main` the linkage name `__main_argc_argv` on Wasm. Zig marks its units
/// `DW_LANG_C99`, so C is told apart from Zig by `DW_AT_producer`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnitNaming {
    pub(crate) language: NameLanguage,
    pub(crate) prefer_source_name: bool,
}

impl UnitNaming {
    pub(crate) fn of(unit: UnitRef<'_, Reader>) -> Self {
        let root = unit.entry(unit.root_offset()).ok();
        let lang = root
            .as_ref()
            .and_then(|root| match root.attr_value(gimli::DW_AT_language) {
                Some(AttributeValue::Language(lang)) => Some(lang),
                _ => None,
            });
        let producer = root
            .as_ref()
            .and_then(|root| root.attr_value(gimli::DW_AT_producer))
            .and_then(|value| unit.attr_string(value).ok())
            .and_then(|s| s.to_string_lossy().ok().map(|s| s.into_owned()))
            .unwrap_or_default();
        let c = matches!(
            lang,
            Some(
                gimli::DW_LANG_C89
                    | gimli::DW_LANG_C
                    | gimli::DW_LANG_C99
                    | gimli::DW_LANG_C11
                    | gimli::DW_LANG_C17
            )
        );
        UnitNaming {
            language: NameLanguage::from_dwarf(lang),
            prefer_source_name: c && !producer.trim_start().starts_with("zig"),
        }
    }

    fn choose(self, name: Option<String>, linkage_name: Option<String>) -> Option<FunctionName> {
        match (name, linkage_name) {
            (Some(name), linkage) if self.prefer_source_name => Some(FunctionName {
                linkage_name: linkage.filter(|l| *l != name),
                name,
                source: NameSource::Dwarf,
            }),
            (_, Some(raw)) | (Some(raw), None) => {
                Some(FunctionName::new(&raw, self.language, NameSource::Dwarf))
            }
            (None, None) => None,
        }
    }
}

/// Names and declaration of a DIE, following `DW_AT_specification` and
/// `DW_AT_abstract_origin` within its unit.
#[derive(Default)]
pub(crate) struct DieNames {
    pub(crate) name: Option<String>,
    linkage_name: Option<String>,
    decl_file: Option<u64>,
    decl_line: Option<u32>,
}

pub(crate) fn die_names(
    unit: UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    depth: u32,
) -> gimli::Result<DieNames> {
    let mut names = DieNames::default();
    let mut origin = None;
    for attr in entry.attrs() {
        match attr.name() {
            gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
                names.linkage_name = Some(
                    unit.attr_string(attr.value())?
                        .to_string_lossy()?
                        .into_owned(),
                );
            }
            gimli::DW_AT_name => {
                names.name = Some(
                    unit.attr_string(attr.value())?
                        .to_string_lossy()?
                        .into_owned(),
                );
            }
            gimli::DW_AT_decl_file => {
                if let AttributeValue::FileIndex(i) = attr.value() {
                    names.decl_file = Some(i);
                }
            }
            gimli::DW_AT_decl_line => {
                names.decl_line = attr.udata_value().and_then(|l| u32::try_from(l).ok());
            }
            gimli::DW_AT_specification | gimli::DW_AT_abstract_origin => {
                if let AttributeValue::UnitRef(offset) = attr.value() {
                    origin = Some(offset);
                }
            }
            _ => {}
        }
    }
    // Depth-limited: malformed DWARF may chain references in a loop.
    if let Some(offset) = origin
        && depth < 8
        && (names.name.is_none() || names.linkage_name.is_none() || names.decl_file.is_none())
    {
        let target = unit.entry(offset)?;
        let inner = die_names(unit, &target, depth + 1)?;
        names.name = names.name.or(inner.name);
        names.linkage_name = names.linkage_name.or(inner.linkage_name);
        if names.decl_file.is_none() {
            names.decl_file = inner.decl_file;
            names.decl_line = names.decl_line.or(inner.decl_line);
        }
    }
    Ok(names)
}

/// The path of file `index` of a unit's line program: the compilation
/// directory, the file's include directory and its name, joined; an
/// absolute component restarts the path. Directory 0 is the compilation
/// directory itself.
pub(crate) fn file_path(unit: UnitRef<'_, Reader>, index: u64) -> Option<String> {
    let program = unit.line_program.as_ref()?;
    let header = program.header();
    let file = header.file(index)?;
    let mut path = match &unit.comp_dir {
        Some(dir) => dir.to_string_lossy().ok()?.into_owned(),
        None => String::new(),
    };
    if file.directory_index() != 0
        && let Some(dir) = file.directory(header)
    {
        let dir = unit.attr_string(dir).ok()?;
        join_path(&mut path, &dir.to_string_lossy().ok()?);
    }
    let name = unit.attr_string(file.path_name()).ok()?;
    join_path(&mut path, &name.to_string_lossy().ok()?);
    Some(path)
}

fn join_path(path: &mut String, component: &str) {
    let absolute = component.starts_with('/')
        || component.starts_with('\\')
        || component.get(1..3).is_some_and(|s| s == ":/" || s == ":\\");
    if absolute || path.is_empty() {
        *path = component.to_string();
    } else {
        if !path.ends_with(['/', '\\']) {
            path.push('/');
        }
        path.push_str(component);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_dwarf_consumers() {
        let mut p = String::from(".");
        join_path(&mut p, "fixtures/c");
        join_path(&mut p, "crash.c");
        assert_eq!(p, "./fixtures/c/crash.c");
        let mut p = String::from("/build");
        join_path(&mut p, "/usr/include/stdio.h");
        assert_eq!(p, "/usr/include/stdio.h");
        let mut p = String::new();
        join_path(&mut p, "a.c");
        assert_eq!(p, "a.c");
    }
}
