//! Global and static variables, and types, found by name.
//!
//! A debugger's `p g_counter`, `ptype struct node`, `(struct node *)0x1010`,
//! `info variables` and `info types` need names that no code address leads
//! to. The first such lookup walks every unit once and keeps a small index
//! (name, kind, unit, DIE); later lookups decode only the DIEs they hit.
//! Backtraces never pay for it.

use gimli::{AttributeValue, Reader as _, UnitOffset, UnitRef};
use wasm_coredump::DwarfAddress;

use super::eval::FrameState;
use super::frame::{UnitContext, VariableValue, resolved, type_style, variable_value};
use super::types::{self, Type};
use crate::dwarf::Reader;
use crate::error::{Error, Result};
use crate::symbolicator::{Symbolicator, file_path};

/// What a named DWARF entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamedKind {
    /// A variable with static storage (`DW_AT_location` or a constant).
    Static,
    /// A struct, union, class, enumeration, typedef or base type.
    Type,
    /// An enumerator (`GREEN`); the entry's DIE is its enumeration type.
    Enumerator,
}

/// An entry of the name index: enough to list it and to find it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedEntry {
    pub kind: NamedKind,
    /// `DW_AT_name`.
    pub name: String,
    /// Enclosing namespaces and types joined with `::` (`crash::COUNTER`),
    /// equal to `name` at the top level.
    pub qualified_name: String,
    /// For types: `struct`, `union`, `enum`, `class`, `typedef` or `base`.
    pub keyword: &'static str,
    pub decl_file: Option<String>,
    pub decl_line: Option<u32>,
    unit: gimli::DebugInfoOffset<usize>,
    die: UnitOffset<usize>,
}

/// The index itself (see the module docs).
#[derive(Debug, Default)]
pub struct NameIndex {
    entries: Vec<NamedEntry>,
}

/// A static variable, evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticVariable {
    pub name: String,
    pub qualified_name: String,
    pub ty: Type,
    pub value: VariableValue,
    /// Its address in linear memory, when it has one.
    pub address: Option<u64>,
}

fn die_string(unit: UnitRef<'_, Reader>, value: Option<AttributeValue<Reader>>) -> Option<String> {
    let s = unit.attr_string(value?).ok()?;
    s.to_string_lossy().ok().map(|s| s.into_owned())
}

fn type_keyword(tag: gimli::DwTag) -> Option<&'static str> {
    Some(match tag {
        gimli::DW_TAG_structure_type => "struct",
        gimli::DW_TAG_union_type => "union",
        gimli::DW_TAG_enumeration_type => "enum",
        gimli::DW_TAG_class_type => "class",
        gimli::DW_TAG_typedef => "typedef",
        gimli::DW_TAG_base_type => "base",
        _ => return None,
    })
}

fn build_index(dwarf: &gimli::Dwarf<Reader>) -> Result<NameIndex> {
    let mut index = NameIndex::default();
    let mut headers = dwarf.units();
    loop {
        let header = match headers.next() {
            Ok(Some(header)) => header,
            Ok(None) => break,
            Err(e) => return Err(Error::dwarf("reading a unit header", e)),
        };
        let Some(unit_offset) = header.debug_info_offset() else {
            continue;
        };
        let context = |e| {
            Error::dwarf(
                format!("indexing the unit at .debug_info+{:#x}", unit_offset.0),
                e,
            )
        };
        let unit = dwarf.unit(header).map_err(context)?;
        let unit = unit.unit_ref(dwarf);
        let mut entries = unit.entries();
        // Enclosing scopes: (depth, name for qualification, inside code).
        let mut path: Vec<(isize, Option<String>, bool)> = Vec::new();
        // Enclosing enumeration types: (depth, DIE).
        let mut enum_stack: Vec<(isize, UnitOffset<usize>)> = Vec::new();
        while let Some(entry) = entries.next_dfs().map_err(context)? {
            let depth = entry.depth();
            while path.last().is_some_and(|(d, _, _)| *d >= depth) {
                path.pop();
            }
            let in_code = path.last().is_some_and(|(_, _, code)| *code);
            let tag = entry.tag();
            let name = die_string(unit, entry.attr_value(gimli::DW_AT_name));
            let is_declaration = matches!(
                entry.attr_value(gimli::DW_AT_declaration),
                Some(AttributeValue::Flag(true))
            );
            let kind = match tag {
                gimli::DW_TAG_variable
                    if !is_declaration
                        && (entry.attr_value(gimli::DW_AT_location).is_some()
                            || entry.attr_value(gimli::DW_AT_const_value).is_some())
                        && (!in_code || static_location(entry)) =>
                {
                    Some((NamedKind::Static, ""))
                }
                _ if !is_declaration && !in_code => type_keyword(tag).map(|k| (NamedKind::Type, k)),
                _ => None,
            };
            while enum_stack.last().is_some_and(|(d, _)| *d >= depth) {
                enum_stack.pop();
            }
            if tag == gimli::DW_TAG_enumerator
                && let Some(name) = &name
                && let Some(parent) = enum_stack.last().filter(|(d, _)| *d == depth - 1)
            {
                index.entries.push(NamedEntry {
                    kind: NamedKind::Enumerator,
                    name: name.clone(),
                    qualified_name: name.clone(),
                    keyword: "",
                    decl_file: None,
                    decl_line: None,
                    unit: unit_offset,
                    die: parent.1,
                });
            }
            if tag == gimli::DW_TAG_enumeration_type && entry.has_children() {
                enum_stack.push((depth, entry.offset()));
            }
            if let Some((kind, keyword)) = kind {
                // A definition may name itself through DW_AT_specification.
                let name = name
                    .clone()
                    .or_else(|| die_string(unit, resolved(unit, entry, gimli::DW_AT_name, 0)));
                if let Some(name) = name {
                    let mut parts: Vec<&str> =
                        path.iter().filter_map(|(_, n, _)| n.as_deref()).collect();
                    parts.push(&name);
                    let qualified_name = parts.join("::");
                    let decl_file = match entry.attr_value(gimli::DW_AT_decl_file) {
                        Some(AttributeValue::FileIndex(i)) => file_path(unit, i),
                        _ => None,
                    };
                    let decl_line = entry
                        .attr(gimli::DW_AT_decl_line)
                        .and_then(|a| a.udata_value())
                        .and_then(|l| u32::try_from(l).ok());
                    index.entries.push(NamedEntry {
                        kind,
                        name,
                        qualified_name,
                        keyword,
                        decl_file,
                        decl_line,
                        unit: unit_offset,
                        die: entry.offset(),
                    });
                }
            }
            if entry.has_children() && depth > 0 {
                let scope = matches!(
                    tag,
                    gimli::DW_TAG_namespace
                        | gimli::DW_TAG_structure_type
                        | gimli::DW_TAG_enumeration_type
                        | gimli::DW_TAG_union_type
                        | gimli::DW_TAG_class_type
                );
                let code = in_code
                    || matches!(
                        tag,
                        gimli::DW_TAG_subprogram
                            | gimli::DW_TAG_lexical_block
                            | gimli::DW_TAG_inlined_subroutine
                    );
                path.push((depth, if scope { name } else { None }, code));
            }
        }
    }
    Ok(index)
}

/// Whether a variable inside a function is a static (`DW_OP_addr` location).
fn static_location(entry: &gimli::DebuggingInformationEntry<Reader>) -> bool {
    match entry.attr_value(gimli::DW_AT_location) {
        Some(AttributeValue::Exprloc(expr)) => {
            matches!(expr.0.clone().read_u8(), Ok(op) if op == gimli::DW_OP_addr.0 || op == gimli::DW_OP_addrx.0)
        }
        _ => false,
    }
}

fn name_matches(entry: &NamedEntry, wanted: &str) -> bool {
    entry.name == wanted || entry.qualified_name == wanted
}

impl Symbolicator {
    fn name_index(&self) -> Result<Option<&NameIndex>> {
        let Some(data) = self.dwarf_data() else {
            return Ok(None);
        };
        if let Some(index) = data.names.get() {
            return Ok(Some(index));
        }
        let built = build_index(&data.sections)?;
        Ok(Some(data.names.get_or_init(|| built)))
    }

    /// Every static variable and named type, in DWARF order (for `info
    /// variables`, `info types` and completion). Builds the index on first use.
    pub fn named_entries(&self) -> Result<&[NamedEntry]> {
        Ok(self.name_index()?.map_or(&[][..], |i| i.entries.as_slice()))
    }

    fn with_unit<T>(
        &self,
        entry: &NamedEntry,
        f: impl FnOnce(UnitRef<'_, Reader>) -> gimli::Result<T>,
    ) -> Result<Option<T>> {
        let Some(dwarf) = self.dwarf() else {
            return Ok(None);
        };
        let context = |e| Error::dwarf(format!("reading `{}`", entry.qualified_name), e);
        let header = dwarf
            .debug_info
            .header_from_offset(entry.unit)
            .map_err(context)?;
        let unit = dwarf.unit(header).map_err(context)?;
        f(unit.unit_ref(dwarf)).map(Some).map_err(context)
    }

    /// The static variable called `name` (bare or `::`-qualified),
    /// evaluated against `state` (for `__memory_base` and memory). When
    /// several units define one, the unit holding `near` (the selected
    /// frame's address) wins, as in C's file-scope statics.
    pub fn static_variable(
        &self,
        name: &str,
        near: Option<DwarfAddress>,
        state: &dyn FrameState,
    ) -> Result<Option<StaticVariable>> {
        let candidates: Vec<&NamedEntry> = self
            .named_entries()?
            .iter()
            .filter(|e| e.kind == NamedKind::Static && name_matches(e, name))
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let near_unit = near.and_then(|address| {
            let data = self.dwarf_data()?;
            let unit = data
                .context
                .find_dwarf_and_unit(address.0)
                .skip_all_loads()?;
            unit.header.debug_info_offset()
        });
        let chosen = candidates
            .iter()
            .find(|e| Some(e.unit) == near_unit)
            .or_else(|| candidates.first())
            .copied();
        let Some(entry) = chosen else {
            return Ok(None);
        };
        self.with_unit(entry, |unit| {
            let die = unit.entry(entry.die)?;
            let type_offset = match resolved(unit, &die, gimli::DW_AT_type, 0) {
                Some(AttributeValue::UnitRef(o)) => Some(o),
                _ => None,
            };
            let ty = types::decode(unit, type_offset, type_style(unit));
            let context = UnitContext(unit);
            let (value, address) = variable_value(unit, &die, &ty, 0, None, state, &context)?;
            Ok(StaticVariable {
                name: entry.name.clone(),
                qualified_name: entry.qualified_name.clone(),
                ty,
                value,
                address,
            })
        })
    }

    /// The type called `name`: `int`, a typedef, `struct node` (C keywords
    /// restrict the kind), `crash::Color` or a bare `Color`. Complete
    /// definitions are preferred over declarations.
    pub fn find_type(&self, name: &str) -> Result<Option<Type>> {
        let name = name.trim();
        let (keyword, bare) = match name.split_once(' ') {
            Some((k @ ("struct" | "union" | "enum" | "class"), rest)) => (Some(k), rest.trim()),
            _ => (None, name),
        };
        let found = self.named_entries()?.iter().find(|e| {
            e.kind == NamedKind::Type
                && name_matches(e, bare)
                && keyword.is_none_or(|k| k == e.keyword)
        });
        let Some(entry) = found else {
            return Ok(None);
        };
        self.with_unit(entry, |unit| {
            Ok(types::decode(unit, Some(entry.die), type_style(unit)))
        })
    }
}

impl Symbolicator {
    /// The enumerator called `name` (`GREEN`, `Color::Green` as DWARF
    /// names it): its enumeration type and value.
    pub fn enumerator(&self, name: &str) -> Result<Option<(Type, i128)>> {
        let wanted = name.rsplit("::").next().unwrap_or(name);
        let found = self
            .named_entries()?
            .iter()
            .find(|e| e.kind == NamedKind::Enumerator && e.name == wanted);
        let Some(entry) = found else {
            return Ok(None);
        };
        let ty = self.with_unit(entry, |unit| {
            Ok(types::decode(unit, Some(entry.die), type_style(unit)))
        })?;
        Ok(ty.and_then(|ty| {
            let value = match &ty.kind {
                types::TypeKind::Enum { enumerators, .. } => enumerators
                    .iter()
                    .find(|(n, _)| n == wanted)
                    .map(|(_, v)| *v),
                _ => None,
            }?;
            Some((ty, value))
        }))
    }
}
