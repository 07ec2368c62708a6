//! Printing values the way gdb does: `3`, `-1`, `2.5`, `1e+20`, `66 'B'`,
//! `true`, `GREEN`, `0x1010 "widget"`, `{x = 3, y = 4}`, `{10, 20, 30}`,
//! with `<repeats N times>` for long runs.

use std::fmt::Write as _;

use wasm_coredump::Memory;

use super::types::{Type, TypeKind};

/// gdb's `repeat_count_threshold`: runs longer than this are folded.
const REPEAT_THRESHOLD: usize = 10;
/// gdb's `print elements` limit.
const MAX_ELEMENTS: usize = 200;

/// Formats a value of `ty` held in `bytes` (little-endian); `memory` lets
/// strings behind pointers and slices be read.
pub fn format_value(ty: &Type, bytes: &[u8], memory: Option<&Memory>) -> String {
    let mut out = String::new();
    write_value(&mut out, ty, bytes, memory, 0);
    out
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(buf)
}

fn le_i64(bytes: &[u8]) -> i64 {
    let n = bytes.len().min(8);
    let raw = le_u64(bytes);
    if n == 0 || n >= 8 {
        return raw as i64;
    }
    let shift = 64 - 8 * n as u32;
    ((raw << shift) as i64) >> shift
}

fn write_value(out: &mut String, ty: &Type, bytes: &[u8], memory: Option<&Memory>, depth: u32) {
    if depth > 16 {
        out.push_str("...");
        return;
    }
    let size = ty
        .size
        .map_or(bytes.len(), |s| usize::try_from(s).unwrap_or(usize::MAX));
    if bytes.len() < size && !matches!(ty.kind, TypeKind::Array { .. }) {
        out.push_str("<incomplete>");
        return;
    }
    let bytes = &bytes[..size.min(bytes.len())];
    match &ty.kind {
        TypeKind::Void => out.push_str("void"),
        TypeKind::Opaque => {
            let _ = write!(out, "<{} of {} bytes>", ty.name, bytes.len());
        }
        TypeKind::Base { encoding } => write_base(out, ty, *encoding, bytes),
        TypeKind::Enum {
            enumerators,
            signed,
            qualifier,
        } => {
            let value = if *signed {
                i128::from(le_i64(bytes))
            } else {
                i128::from(le_u64(bytes))
            };
            match enumerators.iter().find(|(_, v)| *v == value) {
                Some((name, _)) => match qualifier {
                    Some(q) if !q.is_empty() => {
                        let _ = write!(out, "{q}::{name}");
                    }
                    _ => out.push_str(name),
                },
                None => {
                    let _ = write!(out, "{value}");
                }
            }
        }
        TypeKind::Pointer { pointee } => {
            let address = le_u64(bytes);
            match pointee {
                Some(p) if p.is_char_like() => {
                    let _ = write!(out, "{address:#x}");
                    if address != 0 {
                        out.push(' ');
                        write_c_string(out, address, memory);
                    }
                }
                _ => {
                    let _ = write!(out, "({}) {address:#x}", ty.name);
                }
            }
        }
        TypeKind::Struct { members } | TypeKind::Union { members } => {
            if let Some(text) = string_slice(members, bytes, memory) {
                out.push_str(&text);
                return;
            }
            out.push('{');
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let Some(name) = &member.name {
                    let _ = write!(out, "{name} = ");
                }
                let start = usize::try_from(member.offset).unwrap_or(usize::MAX);
                match bytes.get(start..) {
                    Some(rest) => match member.bit_size {
                        Some(bits) => write_bitfield(out, member, rest, bits),
                        None => write_value(out, &member.ty, rest, memory, depth + 1),
                    },
                    None => out.push_str("<outside the object>"),
                }
            }
            out.push('}');
        }
        TypeKind::Array { element, count } => {
            write_array(out, element, *count, bytes, memory, depth)
        }
    }
}

fn write_bitfield(out: &mut String, member: &super::types::Member, bytes: &[u8], bits: u64) {
    let raw = le_u64(bytes);
    let offset = member.bit_offset.unwrap_or(0) % 64;
    let bits = bits.min(64);
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let value = (raw >> offset) & mask;
    let signed = matches!(
        member.ty.kind,
        TypeKind::Base {
            encoding: gimli::DW_ATE_signed
        }
    );
    if signed && bits > 0 && bits < 64 && value >> (bits - 1) & 1 == 1 {
        let _ = write!(out, "{}", (value | !mask) as i64);
    } else {
        let _ = write!(out, "{value}");
    }
}

fn write_base(out: &mut String, ty: &Type, encoding: gimli::DwAte, bytes: &[u8]) {
    match encoding {
        gimli::DW_ATE_boolean => out.push_str(if le_u64(bytes) != 0 { "true" } else { "false" }),
        gimli::DW_ATE_float => match bytes.len() {
            4 => out.push_str(&format_g(
                f64::from(f32::from_bits(le_u64(bytes) as u32)),
                9,
            )),
            8 => out.push_str(&format_g(f64::from_bits(le_u64(bytes)), 17)),
            n => {
                let _ = write!(out, "<{n}-byte float>");
            }
        },
        gimli::DW_ATE_UTF => {
            let code = le_u64(bytes);
            let _ = write!(out, "{code} ");
            match u32::try_from(code).ok().and_then(char::from_u32) {
                Some(c) => write_char_literal(out, c),
                None => out.push_str("'?'"),
            }
        }
        gimli::DW_ATE_signed | gimli::DW_ATE_signed_char => {
            let value = le_i64(bytes);
            let _ = write!(out, "{value}");
            if ty.is_char_like() {
                out.push(' ');
                write_char_literal(out, char::from(value as u8));
            }
        }
        _ => {
            let value = le_u64(bytes);
            let _ = write!(out, "{value}");
            if ty.is_char_like() {
                out.push(' ');
                write_char_literal(out, char::from(value as u8));
            }
        }
    }
}

fn escape_char(out: &mut String, c: char, quote: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20
            || c as u32 == 0x7f
            || ((c as u32) >= 0x80 && (c as u32) < 0x100) =>
        {
            let _ = write!(out, "\\{:03o}", c as u32);
        }
        c => out.push(c),
    }
}

fn write_char_literal(out: &mut String, c: char) {
    out.push('\'');
    escape_char(out, c, '\'');
    out.push('\'');
}

/// `"text"` from bytes, gdb-style: runs longer than the threshold become
/// `'c' <repeats N times>` segments.
fn write_string_bytes(out: &mut String, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let chars: Vec<char> = if std::str::from_utf8(bytes).is_ok() {
        text.chars().collect()
    } else {
        bytes.iter().map(|b| char::from(*b)).collect()
    };
    let mut segments: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|x| **x == c).count();
        if run > REPEAT_THRESHOLD - 1 {
            if !current.is_empty() {
                segments.push(format!("\"{current}\""));
                current.clear();
            }
            let mut lit = String::new();
            write_char_literal(&mut lit, c);
            segments.push(format!("{lit} <repeats {run} times>"));
            i += run;
        } else {
            escape_char(&mut current, c, '"');
            i += 1;
        }
    }
    if !current.is_empty() || segments.is_empty() {
        segments.push(format!("\"{current}\""));
    }
    out.push_str(&segments.join(", "));
}

fn write_c_string(out: &mut String, address: u64, memory: Option<&Memory>) {
    let Some(memory) = memory else {
        out.push_str("<memory not available>");
        return;
    };
    match memory.read_c_string(address, MAX_ELEMENTS) {
        Ok(s) => {
            write_string_bytes(out, &s.bytes);
            if !matches!(s.end, wasm_coredump::StringEnd::Terminated) {
                out.push_str("...");
            }
        }
        Err(e) => {
            let _ = write!(out, "<error: {e}>");
        }
    }
}

/// Rust `&str`/`&[u8]` (`data_ptr`, `length`) and Zig `[]const u8`
/// (`ptr`, `len`) slices of bytes print as strings.
fn string_slice(
    members: &[super::types::Member],
    bytes: &[u8],
    memory: Option<&Memory>,
) -> Option<String> {
    let [ptr, len] = members else { return None };
    let names = (ptr.name.as_deref()?, len.name.as_deref()?);
    if !matches!(names, ("data_ptr", "length") | ("ptr", "len")) {
        return None;
    }
    let TypeKind::Pointer {
        pointee: Some(pointee),
    } = &ptr.ty.kind
    else {
        return None;
    };
    let byte_like = pointee.size == Some(1) && matches!(pointee.kind, TypeKind::Base { .. });
    if !byte_like {
        return None;
    }
    let field = |m: &super::types::Member| {
        let start = usize::try_from(m.offset).ok()?;
        let size = usize::try_from(m.ty.size?).ok()?;
        Some(le_u64(bytes.get(start..start.checked_add(size)?)?))
    };
    let (address, length) = (field(ptr)?, field(len)?);
    let memory = memory?;
    let shown = usize::try_from(length)
        .unwrap_or(usize::MAX)
        .min(MAX_ELEMENTS);
    let data = memory.read(address, shown).ok()?;
    let mut out = String::new();
    write_string_bytes(&mut out, &data);
    if (shown as u64) < length {
        out.push_str("...");
    }
    Some(out)
}

fn write_array(
    out: &mut String,
    element: &Type,
    count: Option<u64>,
    bytes: &[u8],
    memory: Option<&Memory>,
    depth: u32,
) {
    let Some(size) = element
        .size
        .filter(|s| *s > 0)
        .and_then(|s| usize::try_from(s).ok())
    else {
        out.push_str("{...}");
        return;
    };
    let count = count
        .and_then(|c| usize::try_from(c).ok())
        .unwrap_or(bytes.len() / size)
        .min(bytes.len() / size);
    if element.is_char_like() {
        let data = &bytes[..count.min(MAX_ELEMENTS)];
        // gdb stops at the trailing NULs of a char array: "abc", '\000' <repeats 13 times>
        write_string_bytes(out, data);
        if count > MAX_ELEMENTS {
            out.push_str("...");
        }
        return;
    }
    let items: Vec<String> = (0..count.min(MAX_ELEMENTS))
        .map(|i| {
            let mut s = String::new();
            write_value(
                &mut s,
                element,
                &bytes[i * size..(i + 1) * size],
                memory,
                depth + 1,
            );
            s
        })
        .collect();
    out.push('{');
    let mut i = 0;
    let mut first = true;
    while i < items.len() {
        let run = items[i..].iter().take_while(|x| **x == items[i]).count();
        if !first {
            out.push_str(", ");
        }
        first = false;
        if run >= REPEAT_THRESHOLD {
            let _ = write!(out, "{} <repeats {run} times>", items[i]);
            i += run;
        } else {
            out.push_str(&items[i]);
            i += 1;
        }
    }
    if count > MAX_ELEMENTS {
        out.push_str("...");
    }
    out.push('}');
}

/// C's `%.{precision}g`, which gdb uses for floats (17 digits for double,
/// 9 for float): `2.5`, `1e+20`, `0.10000000000000001`.
pub fn format_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if value.is_infinite() {
        return if value < 0.0 {
            "-inf".into()
        } else {
            "inf".into()
        };
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let precision = precision.max(1);
    let scientific = format!("{value:.*e}", precision - 1);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        let decimals = usize::try_from(precision as i32 - 1 - exponent).unwrap_or(0);
        trim_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables::types::Member;
    use wasm_coredump::MemoryLimits;

    fn base(name: &str, encoding: gimli::DwAte, size: u64) -> Type {
        Type {
            name: name.into(),
            size: Some(size),
            kind: TypeKind::Base { encoding },
        }
    }

    fn member(name: &str, offset: u64, ty: Type) -> Member {
        Member {
            name: Some(name.into()),
            offset,
            ty,
            bit_size: None,
            bit_offset: None,
        }
    }

    #[test]
    fn floats_like_printf_g() {
        assert_eq!(format_g(2.5, 17), "2.5");
        assert_eq!(format_g(1e20, 17), "1e+20");
        assert_eq!(format_g(0.1, 17), "0.10000000000000001");
        assert_eq!(format_g(-3.0, 17), "-3");
        assert_eq!(format_g(1.5e-7, 17), "1.4999999999999999e-07");
        assert_eq!(format_g(f64::from(2.5f32), 9), "2.5");
        assert_eq!(format_g(f64::from(0.1f32), 9), "0.100000001");
        assert_eq!(format_g(123456789.0, 17), "123456789");
        assert_eq!(format_g(f64::NAN, 17), "nan");
    }

    #[test]
    fn base_types() {
        let int = base("int", gimli::DW_ATE_signed, 4);
        assert_eq!(
            format_value(&int, &(-2147483648i32).to_le_bytes(), None),
            "-2147483648"
        );
        assert_eq!(format_value(&int, &3i32.to_le_bytes(), None), "3");
        let char_ = base("char", gimli::DW_ATE_signed_char, 1);
        assert_eq!(format_value(&char_, b"B", None), "66 'B'");
        assert_eq!(format_value(&char_, &[0], None), "0 '\\000'");
        let boolean = base("bool", gimli::DW_ATE_boolean, 1);
        assert_eq!(format_value(&boolean, &[1], None), "true");
        let double = base("double", gimli::DW_ATE_float, 8);
        assert_eq!(format_value(&double, &1e20f64.to_le_bytes(), None), "1e+20");
        let float = base("float", gimli::DW_ATE_float, 4);
        assert_eq!(format_value(&float, &2.5f32.to_le_bytes(), None), "2.5");
        let u64_ = base("u64", gimli::DW_ATE_unsigned, 8);
        assert_eq!(
            format_value(&u64_, &u64::MAX.to_le_bytes(), None),
            "18446744073709551615"
        );
        let rust_char = base("char", gimli::DW_ATE_UTF, 4);
        assert_eq!(
            format_value(&rust_char, &u32::from('a').to_le_bytes(), None),
            "97 'a'"
        );
        assert_eq!(format_value(&int, &[1, 2], None), "<incomplete>");
    }

    #[test]
    fn enums_in_each_style() {
        let enumerators = vec![("RED".to_string(), 0), ("GREEN".to_string(), 1)];
        let c = Type {
            name: "enum color".into(),
            size: Some(4),
            kind: TypeKind::Enum {
                enumerators: enumerators.clone(),
                signed: false,
                qualifier: None,
            },
        };
        assert_eq!(format_value(&c, &1u32.to_le_bytes(), None), "GREEN");
        assert_eq!(format_value(&c, &7u32.to_le_bytes(), None), "7");
        let rust = Type {
            name: "Color".into(),
            size: Some(1),
            kind: TypeKind::Enum {
                enumerators: vec![("Red".into(), 0), ("Green".into(), 1)],
                signed: false,
                qualifier: Some("crash::Color".into()),
            },
        };
        assert_eq!(format_value(&rust, &[1], None), "crash::Color::Green");
    }

    #[test]
    fn pointers_strings_structs_arrays() {
        let mut memory = Memory::new(MemoryLimits::pages(1));
        memory.write(0x1010, b"widget\0").expect("write");
        let char_ = base("char", gimli::DW_ATE_signed_char, 1);
        let int = base("int", gimli::DW_ATE_signed, 4);
        let char_ptr = Type {
            name: "char *".into(),
            size: Some(4),
            kind: TypeKind::Pointer {
                pointee: Some(Box::new(char_.clone())),
            },
        };
        assert_eq!(
            format_value(&char_ptr, &0x1010u32.to_le_bytes(), Some(&memory)),
            "0x1010 \"widget\""
        );
        assert_eq!(
            format_value(&char_ptr, &0u32.to_le_bytes(), Some(&memory)),
            "0x0"
        );
        let int_ptr = Type {
            name: "int *".into(),
            size: Some(4),
            kind: TypeKind::Pointer {
                pointee: Some(Box::new(int.clone())),
            },
        };
        assert_eq!(
            format_value(&int_ptr, &0x20u32.to_le_bytes(), None),
            "(int *) 0x20"
        );

        let point = Type {
            name: "struct point".into(),
            size: Some(8),
            kind: TypeKind::Struct {
                members: vec![member("x", 0, int.clone()), member("y", 4, int.clone())],
            },
        };
        let mut bytes = 3i32.to_le_bytes().to_vec();
        bytes.extend(4i32.to_le_bytes());
        assert_eq!(format_value(&point, &bytes, None), "{x = 3, y = 4}");

        let array = Type {
            name: "int [4]".into(),
            size: Some(16),
            kind: TypeKind::Array {
                element: Box::new(int.clone()),
                count: Some(4),
            },
        };
        let bytes: Vec<u8> = [10, 20, 30, 40]
            .iter()
            .flat_map(|v: &i32| v.to_le_bytes())
            .collect();
        assert_eq!(format_value(&array, &bytes, None), "{10, 20, 30, 40}");
        let zeros = Type {
            name: "int [12]".into(),
            size: Some(48),
            kind: TypeKind::Array {
                element: Box::new(int),
                count: Some(12),
            },
        };
        assert_eq!(
            format_value(&zeros, &[0; 48], None),
            "{0 <repeats 12 times>}"
        );
        let name = Type {
            name: "char [16]".into(),
            size: Some(16),
            kind: TypeKind::Array {
                element: Box::new(char_),
                count: Some(16),
            },
        };
        let mut bytes = b"abc".to_vec();
        bytes.resize(16, 0);
        assert_eq!(
            format_value(&name, &bytes, None),
            "\"abc\", '\\000' <repeats 13 times>"
        );

        // A Rust &str and a Zig []const u8.
        let u8_ = base("u8", gimli::DW_ATE_unsigned, 1);
        let u8_ptr = Type {
            name: "*const u8".into(),
            size: Some(4),
            kind: TypeKind::Pointer {
                pointee: Some(Box::new(u8_)),
            },
        };
        let usize_ = base("usize", gimli::DW_ATE_unsigned, 4);
        for (ptr, len) in [("data_ptr", "length"), ("ptr", "len")] {
            let slice = Type {
                name: "&str".into(),
                size: Some(8),
                kind: TypeKind::Struct {
                    members: vec![
                        member(ptr, 0, u8_ptr.clone()),
                        member(len, 4, usize_.clone()),
                    ],
                },
            };
            let mut bytes = 0x1010u32.to_le_bytes().to_vec();
            bytes.extend(6u32.to_le_bytes());
            assert_eq!(format_value(&slice, &bytes, Some(&memory)), "\"widget\"");
        }
    }
}
