//! Variable types, decoded from DWARF type DIEs on demand.
//!
//! Only what printing needs: base types, pointers, structs, unions, arrays,
//! enumerations, typedefs and qualifiers. Recursive types (list nodes) are
//! cut at a fixed depth, which printing never reaches because pointers are
//! printed as addresses. Rust enums with data (`DW_TAG_variant_part`) and
//! function types come out as [`TypeKind::Opaque`].

use gimli::{AttributeValue, Reader as _, UnitOffset, UnitRef};

use crate::dwarf::Reader;

/// How a unit's language spells type and enumerator names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeStyle {
    /// `struct item`, `enum color`, enumerators by bare name.
    C,
    /// Names as DWARF gives them; enumerators qualified (`crash::Color::Green`).
    Rust,
    /// Names as DWARF gives them, enumerators by bare name (Zig, others).
    Plain,
}

/// A variable's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Type {
    /// The name a debugger prints (`int`, `struct item *`, `&str`).
    pub name: String,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    pub kind: TypeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// `void`, or a missing `DW_AT_type`.
    Void,
    /// A base type with its `DW_ATE_*` encoding.
    Base {
        encoding: gimli::DwAte,
    },
    /// A pointer or reference; `pointee` is `None` for `void *` or when cut.
    Pointer {
        pointee: Option<Box<Type>>,
    },
    Struct {
        members: Vec<Member>,
    },
    Union {
        members: Vec<Member>,
    },
    Array {
        element: Box<Type>,
        count: Option<u64>,
    },
    /// An enumeration: `(name, value)` pairs; `qualifier` prefixes Rust names.
    Enum {
        enumerators: Vec<(String, i128)>,
        signed: bool,
        qualifier: Option<String>,
    },
    /// Something printing does not look into (function types, Rust data
    /// enums, types beyond the depth limit).
    Opaque,
}

/// A struct or union member.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: Option<String>,
    /// Byte offset within the parent.
    pub offset: u64,
    pub ty: Type,
    /// For bit fields: size and offset from the start of the member's storage, in bits.
    pub bit_size: Option<u64>,
    pub bit_offset: Option<u64>,
}

impl Type {
    pub fn void() -> Self {
        Type {
            name: "void".into(),
            size: None,
            kind: TypeKind::Void,
        }
    }

    fn opaque(name: String) -> Self {
        Type {
            name,
            size: None,
            kind: TypeKind::Opaque,
        }
    }

    /// The type without typedef-like naming: what its bytes are.
    pub fn is_char_like(&self) -> bool {
        match self.kind {
            TypeKind::Base { encoding } => {
                matches!(
                    encoding,
                    gimli::DW_ATE_signed_char | gimli::DW_ATE_unsigned_char
                ) || (self.size == Some(1) && self.name.contains("char"))
            }
            _ => false,
        }
    }
}

const MAX_DEPTH: u32 = 8;

fn string_attr(
    unit: UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    at: gimli::DwAt,
) -> Option<String> {
    let value = entry.attr_value(at)?;
    let s = unit.attr_string(value).ok()?;
    s.to_string_lossy().ok().map(|s| s.into_owned())
}

fn udata_attr(entry: &gimli::DebuggingInformationEntry<Reader>, at: gimli::DwAt) -> Option<u64> {
    entry.attr(at).and_then(|a| a.udata_value())
}

fn type_ref(entry: &gimli::DebuggingInformationEntry<Reader>) -> Option<UnitOffset<usize>> {
    match entry.attr_value(gimli::DW_AT_type) {
        Some(AttributeValue::UnitRef(offset)) => Some(offset),
        _ => None,
    }
}

/// Decodes the type at `offset` (`None`: void).
pub fn decode(
    unit: UnitRef<'_, Reader>,
    offset: Option<UnitOffset<usize>>,
    style: TypeStyle,
) -> Type {
    decode_at(unit, offset, style, 0)
}

fn decode_at(
    unit: UnitRef<'_, Reader>,
    offset: Option<UnitOffset<usize>>,
    style: TypeStyle,
    depth: u32,
) -> Type {
    let Some(offset) = offset else {
        return Type::void();
    };
    let Ok(entry) = unit.entry(offset) else {
        return Type::opaque("<bad type reference>".into());
    };
    let name = string_attr(unit, &entry, gimli::DW_AT_name);
    if depth > MAX_DEPTH {
        return Type::opaque(name.unwrap_or_else(|| "...".into()));
    }
    let size = udata_attr(&entry, gimli::DW_AT_byte_size);
    let inner = || decode_at(unit, type_ref(&entry), style, depth + 1);
    match entry.tag() {
        gimli::DW_TAG_base_type => {
            let encoding = match entry.attr_value(gimli::DW_AT_encoding) {
                Some(AttributeValue::Encoding(e)) => e,
                _ => gimli::DW_ATE_signed,
            };
            Type {
                name: name.unwrap_or_else(|| "<base>".into()),
                size,
                kind: TypeKind::Base { encoding },
            }
        }
        gimli::DW_TAG_unspecified_type => Type {
            name: name.unwrap_or_else(|| "void".into()),
            size,
            kind: TypeKind::Void,
        },
        gimli::DW_TAG_typedef => {
            let target = inner();
            Type {
                name: name.unwrap_or(target.name),
                size: target.size,
                kind: target.kind,
            }
        }
        gimli::DW_TAG_const_type
        | gimli::DW_TAG_volatile_type
        | gimli::DW_TAG_restrict_type
        | gimli::DW_TAG_atomic_type => {
            let target = inner();
            let qualifier = match entry.tag() {
                gimli::DW_TAG_const_type => "const",
                gimli::DW_TAG_volatile_type => "volatile",
                gimli::DW_TAG_restrict_type => "restrict",
                _ => "_Atomic",
            };
            Type {
                name: match style {
                    TypeStyle::C => format!("{qualifier} {}", target.name),
                    _ => target.name.clone(),
                },
                ..target
            }
        }
        gimli::DW_TAG_pointer_type
        | gimli::DW_TAG_reference_type
        | gimli::DW_TAG_rvalue_reference_type => {
            let pointee = type_ref(&entry).map(|_| Box::new(inner()));
            let name = name.unwrap_or_else(|| {
                let target = pointee.as_ref().map_or("void", |p| p.name.as_str());
                let sigil = if entry.tag() == gimli::DW_TAG_pointer_type {
                    "*"
                } else {
                    "&"
                };
                if target.ends_with('*') || target.ends_with('&') {
                    format!("{target}{sigil}")
                } else {
                    format!("{target} {sigil}")
                }
            });
            Type {
                name,
                size: size.or(Some(u64::from(unit.encoding().address_size))),
                kind: TypeKind::Pointer { pointee },
            }
        }
        gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type | gimli::DW_TAG_union_type => {
            let union = entry.tag() == gimli::DW_TAG_union_type;
            let keyword = if union { "union" } else { "struct" };
            let shown = match (style, name) {
                (TypeStyle::C, Some(n)) => format!("{keyword} {n}"),
                (_, Some(n)) => n,
                (_, None) => format!("{keyword} {{...}}"),
            };
            let (members, has_variants) = members(unit, offset, style, depth);
            if has_variants {
                return Type {
                    name: shown,
                    size,
                    kind: TypeKind::Opaque,
                };
            }
            Type {
                name: shown,
                size,
                kind: if union {
                    TypeKind::Union { members }
                } else {
                    TypeKind::Struct { members }
                },
            }
        }
        gimli::DW_TAG_array_type => {
            let element = inner();
            let counts = subrange_counts(unit, offset);
            // Multi-dimensional arrays nest: the outer count holds arrays of the rest.
            let mut ty = element.clone();
            for count in counts.iter().skip(1).rev() {
                ty = array_of(ty, *count);
            }
            let first = counts.first().copied().flatten();
            let mut array = array_of(ty, first);
            if array.size.is_none() {
                array.size = size;
            }
            array
        }
        gimli::DW_TAG_enumeration_type => {
            let underlying = type_ref(&entry).map(|_| inner());
            let signed = underlying.as_ref().is_some_and(|u| {
                matches!(
                    u.kind,
                    TypeKind::Base {
                        encoding: gimli::DW_ATE_signed | gimli::DW_ATE_signed_char
                    }
                )
            });
            let enumerators = enumerators(unit, offset);
            let qualifier = match style {
                TypeStyle::Rust => Some(
                    qualified_name(unit, offset)
                        .unwrap_or_else(|| name.clone().unwrap_or_default()),
                ),
                _ => None,
            };
            let shown = match (style, name) {
                (TypeStyle::C, Some(n)) => format!("enum {n}"),
                (_, Some(n)) => n,
                (_, None) => "enum {...}".into(),
            };
            Type {
                name: shown,
                size: size.or(underlying.and_then(|u| u.size)),
                kind: TypeKind::Enum {
                    enumerators,
                    signed,
                    qualifier,
                },
            }
        }
        gimli::DW_TAG_subroutine_type => Type::opaque(name.unwrap_or_else(|| "<function>".into())),
        _ => Type::opaque(name.unwrap_or_else(|| "<unknown type>".into())),
    }
}

fn array_of(element: Type, count: Option<u64>) -> Type {
    let name = match count {
        Some(n) => format!("{} [{n}]", element.name),
        None => format!("{} []", element.name),
    };
    let size = match (element.size, count) {
        (Some(s), Some(n)) => s.checked_mul(n),
        _ => None,
    };
    Type {
        name,
        size,
        kind: TypeKind::Array {
            element: Box::new(element),
            count,
        },
    }
}

/// The children of a DIE (not grandchildren).
fn children(
    unit: UnitRef<'_, Reader>,
    offset: UnitOffset<usize>,
) -> Vec<gimli::DebuggingInformationEntry<Reader>> {
    let mut out = Vec::new();
    let Ok(mut tree) = unit.entries_tree(Some(offset)) else {
        return out;
    };
    let Ok(root) = tree.root() else { return out };
    let mut iter = root.children();
    while let Ok(Some(child)) = iter.next() {
        out.push(child.entry().clone());
    }
    out
}

fn members(
    unit: UnitRef<'_, Reader>,
    offset: UnitOffset<usize>,
    style: TypeStyle,
    depth: u32,
) -> (Vec<Member>, bool) {
    let mut out = Vec::new();
    let mut has_variants = false;
    for child in children(unit, offset) {
        match child.tag() {
            gimli::DW_TAG_member | gimli::DW_TAG_inheritance => {
                let offset = match child.attr_value(gimli::DW_AT_data_member_location) {
                    Some(AttributeValue::Udata(v)) => v,
                    Some(AttributeValue::Sdata(v)) => v as u64,
                    Some(other) => other.udata_value().unwrap_or(0),
                    None => 0,
                };
                let bit_size = udata_attr(&child, gimli::DW_AT_bit_size);
                let bit_offset = udata_attr(&child, gimli::DW_AT_data_bit_offset);
                out.push(Member {
                    name: string_attr(unit, &child, gimli::DW_AT_name),
                    offset,
                    ty: decode_at(unit, type_ref(&child), style, depth + 1),
                    bit_size,
                    bit_offset,
                });
            }
            gimli::DW_TAG_variant_part => has_variants = true,
            _ => {}
        }
    }
    (out, has_variants)
}

fn subrange_counts(unit: UnitRef<'_, Reader>, offset: UnitOffset<usize>) -> Vec<Option<u64>> {
    children(unit, offset)
        .iter()
        .filter(|c| c.tag() == gimli::DW_TAG_subrange_type)
        .map(|c| {
            if let Some(count) = udata_attr(c, gimli::DW_AT_count) {
                return Some(count);
            }
            let upper = udata_attr(c, gimli::DW_AT_upper_bound)?;
            let lower = udata_attr(c, gimli::DW_AT_lower_bound).unwrap_or(0);
            upper.checked_sub(lower)?.checked_add(1)
        })
        .collect()
}

fn enumerators(unit: UnitRef<'_, Reader>, offset: UnitOffset<usize>) -> Vec<(String, i128)> {
    children(unit, offset)
        .iter()
        .filter(|c| c.tag() == gimli::DW_TAG_enumerator)
        .filter_map(|c| {
            let name = string_attr(unit, c, gimli::DW_AT_name)?;
            let value = match c.attr_value(gimli::DW_AT_const_value)? {
                AttributeValue::Sdata(v) => i128::from(v),
                AttributeValue::Udata(v) => i128::from(v),
                AttributeValue::Data1(v) => i128::from(v),
                AttributeValue::Data2(v) => i128::from(v),
                AttributeValue::Data4(v) => i128::from(v),
                AttributeValue::Data8(v) => i128::from(v),
                _ => return None,
            };
            Some((name, value))
        })
        .collect()
}

/// `a::b::Name` for the DIE at `target`: its enclosing namespaces and types.
fn qualified_name(unit: UnitRef<'_, Reader>, target: UnitOffset<usize>) -> Option<String> {
    let mut cursor = unit.entries();
    let mut path: Vec<(isize, Option<String>)> = Vec::new();
    while let Ok(Some(entry)) = cursor.next_dfs() {
        let depth = entry.depth();
        while path.last().is_some_and(|(d, _)| *d >= depth) {
            path.pop();
        }
        let name = string_attr(unit, entry, gimli::DW_AT_name);
        if entry.offset() == target {
            let mut parts: Vec<String> = path.iter().filter_map(|(_, n)| n.clone()).collect();
            parts.push(name?);
            return Some(parts.join("::"));
        }
        let scope = matches!(
            entry.tag(),
            gimli::DW_TAG_namespace
                | gimli::DW_TAG_structure_type
                | gimli::DW_TAG_enumeration_type
                | gimli::DW_TAG_union_type
                | gimli::DW_TAG_class_type
        );
        if entry.has_children() && depth > 0 {
            path.push((depth, if scope { name } else { None }));
        }
    }
    None
}

/// The `ValueType` of a base type DIE, for typed DWARF operations.
pub fn base_value_type(
    unit: UnitRef<'_, Reader>,
    offset: UnitOffset<usize>,
) -> Option<gimli::ValueType> {
    let entry = unit.entry(offset).ok()?;
    if entry.tag() != gimli::DW_TAG_base_type {
        return None;
    }
    let encoding = match entry.attr_value(gimli::DW_AT_encoding)? {
        AttributeValue::Encoding(e) => e,
        _ => return None,
    };
    gimli::ValueType::from_encoding(encoding, udata_attr(&entry, gimli::DW_AT_byte_size)?)
}

/// Strings from DWARF readers, for callers that hold raw names.
pub(crate) fn reader_string(r: &Reader) -> Option<String> {
    r.to_string_lossy().ok().map(|s| s.into_owned())
}
