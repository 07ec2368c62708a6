//! Printing values and types the way gdb does: `print/FMT`, `ptype`,
//! `whatis` and `x/NFU`.
//!
//! Natural-format printing is wasm-symbolicate's `format_value` (shared with
//! the collector); this adds the output formats, which apply to every
//! scalar inside a struct or array, and type declarations.

use std::fmt::Write as _;

use wasm_coredump::Memory;
use wasm_symbolicate::variables::{Member, Type, TypeKind, format_value};

use crate::error::{Result, bail};
use crate::expr::{Data, Obj};

/// A `print/FMT` letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Hex,
    Signed,
    Unsigned,
    Octal,
    Binary,
    Char,
    Float,
    Address,
    String,
    ZeroHex,
}

impl Format {
    pub fn from_letter(c: char) -> Result<Format> {
        Ok(match c {
            'x' => Format::Hex,
            'd' => Format::Signed,
            'u' => Format::Unsigned,
            'o' => Format::Octal,
            't' => Format::Binary,
            'c' => Format::Char,
            'f' => Format::Float,
            'a' => Format::Address,
            's' => Format::String,
            'z' => Format::ZeroHex,
            other => bail!("Undefined output format \"{other}\"."),
        })
    }
}

/// A value as `print` shows it after `$N = `.
pub fn format_obj(obj: &Obj, format: Option<Format>, memory: Option<&Memory>) -> String {
    let bytes = match &obj.data {
        Data::Bytes(b) => b,
        Data::Missing(why) => return why.clone(),
    };
    match format {
        None | Some(Format::String) => format_value(&obj.ty, bytes, memory),
        Some(f) => {
            let mut out = String::new();
            write_formatted(&mut out, &obj.ty, bytes, f, memory, 0);
            out
        }
    }
}

fn le(bytes: &[u8]) -> u128 {
    let mut buf = [0u8; 16];
    let n = bytes.len().min(16);
    buf[..n].copy_from_slice(&bytes[..n]);
    u128::from_le_bytes(buf)
}

/// One scalar of `size` bytes in an output format.
pub fn format_scalar(raw: u128, size: usize, signed_hint: bool, format: Format) -> String {
    let bits = (size * 8).clamp(8, 128) as u32;
    let mask = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let raw = raw & mask;
    let signed = || {
        let shift = 128 - bits;
        ((raw << shift) as i128) >> shift
    };
    match format {
        Format::Hex | Format::Address => format!("{raw:#x}"),
        Format::ZeroHex => format!("0x{raw:0width$x}", width = size * 2),
        Format::Signed => signed().to_string(),
        Format::Unsigned => raw.to_string(),
        Format::Octal => {
            if raw == 0 {
                "0".into()
            } else {
                format!("0{raw:o}")
            }
        }
        Format::Binary => format!("{raw:b}"),
        Format::Char => {
            let v = signed() as i64;
            let c = (raw & 0xff) as u8;
            let shown = match c {
                b'\n' => "\\n".to_string(),
                b'\t' => "\\t".to_string(),
                0x20..=0x7e => char::from(c).to_string(),
                _ => format!("\\{c:03o}"),
            };
            format!("{v} '{shown}'")
        }
        Format::Float => match size {
            4 => wasm_symbolicate::variables::format_g(f64::from(f32::from_bits(raw as u32)), 9),
            8 => wasm_symbolicate::variables::format_g(f64::from_bits(raw as u64), 17),
            _ => {
                if signed_hint {
                    signed().to_string()
                } else {
                    raw.to_string()
                }
            }
        },
        Format::String => raw.to_string(),
    }
}

fn write_formatted(
    out: &mut String,
    ty: &Type,
    bytes: &[u8],
    format: Format,
    memory: Option<&Memory>,
    depth: u32,
) {
    if depth > 16 {
        out.push_str("...");
        return;
    }
    match &ty.kind {
        TypeKind::Struct { members } | TypeKind::Union { members } => {
            out.push('{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let Some(name) = &m.name {
                    let _ = write!(out, "{name} = ");
                }
                let start = usize::try_from(m.offset).unwrap_or(usize::MAX);
                let size = m.ty.size.and_then(|s| usize::try_from(s).ok()).unwrap_or(0);
                match bytes.get(start..start.saturating_add(size)) {
                    Some(b) => write_formatted(out, &m.ty, b, format, memory, depth + 1),
                    None => out.push_str("<outside the object>"),
                }
            }
            out.push('}');
        }
        TypeKind::Array { element, .. } => {
            let size = element
                .size
                .and_then(|s| usize::try_from(s).ok())
                .unwrap_or(0);
            if size == 0 {
                out.push_str("{...}");
                return;
            }
            out.push('{');
            for (i, chunk) in bytes.chunks(size).take(200).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_formatted(out, element, chunk, format, memory, depth + 1);
            }
            if bytes.len() / size > 200 {
                out.push_str("...");
            }
            out.push('}');
        }
        TypeKind::Base { encoding } if *encoding == gimli::DW_ATE_float => {
            if format == Format::Float {
                out.push_str(&format_value(ty, bytes, memory));
            } else {
                // gdb converts a float to an integer for integer formats.
                let value = match bytes.len() {
                    4 => f64::from(f32::from_bits(le(bytes) as u32)),
                    _ => f64::from_bits(le(bytes) as u64),
                };
                out.push_str(&format_scalar(value as i128 as u128, 8, true, format));
            }
        }
        TypeKind::Base { .. } | TypeKind::Enum { .. } | TypeKind::Pointer { .. } => {
            let signed = crate::expr::eval::is_signed(ty);
            out.push_str(&format_scalar(le(bytes), bytes.len(), signed, format));
        }
        TypeKind::Void | TypeKind::Opaque => out.push_str(&format_value(ty, bytes, memory)),
    }
}

/// Source language conventions for type declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    C,
    Rust,
}

/// `ptype`: the type, with struct, union and enum bodies expanded one level.
pub fn ptype(ty: &Type, lang: Lang) -> String {
    let (inner, suffix) = strip_pointers(ty);
    let mut out = String::from("type = ");
    match &inner.kind {
        TypeKind::Struct { members } | TypeKind::Union { members } => {
            let _ = writeln!(out, "{} {{", declared_name(inner, lang));
            for m in members {
                out.push_str(&member_line(m, lang));
            }
            out.push('}');
        }
        TypeKind::Enum { enumerators, .. } => {
            let names: Vec<&str> = enumerators.iter().map(|(n, _)| n.as_str()).collect();
            let _ = write!(
                out,
                "{} {{{}}}",
                declared_name(inner, lang),
                names.join(", ")
            );
        }
        _ => out.push_str(&inner.name),
    }
    if !suffix.is_empty()
        && !matches!(
            inner.kind,
            TypeKind::Base { .. } | TypeKind::Void | TypeKind::Opaque
        )
    {
        out.push(' ');
        out.push_str(&suffix);
    } else if !suffix.is_empty() {
        out = format!("type = {}", ty.name);
    }
    out
}

fn declared_name(ty: &Type, lang: Lang) -> String {
    let keyword = match ty.kind {
        TypeKind::Union { .. } => "union",
        TypeKind::Enum { .. } => "enum",
        _ => "struct",
    };
    if ty.name.starts_with(keyword) {
        ty.name.clone()
    } else if lang == Lang::Rust || ty.name.contains("::") {
        format!("{keyword} {}", ty.name)
    } else {
        ty.name.clone()
    }
}

fn strip_pointers(ty: &Type) -> (&Type, String) {
    let mut t = ty;
    let mut stars = String::new();
    while let TypeKind::Pointer { pointee: Some(p) } = &t.kind {
        stars.push('*');
        t = p;
    }
    (t, stars)
}

fn member_line(m: &Member, lang: Lang) -> String {
    let name = m.name.as_deref().unwrap_or("");
    let bits = m.bit_size.map(|b| format!(" : {b}")).unwrap_or_default();
    match lang {
        Lang::Rust => format!("  {name}: {},\n", m.ty.name),
        Lang::C => {
            // Arrays put the bounds after the name: `int values[4];`.
            let ty = &m.ty.name;
            match ty.find(" [") {
                Some(at) => format!(
                    "    {}{}{};\n",
                    &ty[..at],
                    format_args!(" {name}"),
                    &ty[at + 1..]
                ),
                None if ty.ends_with('*') => format!("    {ty}{name}{bits};\n"),
                None => format!("    {ty} {name}{bits};\n"),
            }
        }
    }
}

/// The unit and format of an `x` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Examine {
    pub count: u64,
    pub format: char,
    pub unit: u64,
}

impl Default for Examine {
    fn default() -> Self {
        Examine {
            count: 1,
            format: 'x',
            unit: 4,
        }
    }
}

/// Parses `/NFU` (without the slash); missing parts keep `last`'s.
pub fn parse_examine(spec: &str, last: Examine) -> Result<Examine> {
    let mut out = Examine { count: 1, ..last };
    let digits: String = spec.chars().take_while(char::is_ascii_digit).collect();
    if !digits.is_empty() {
        out.count = match digits.parse() {
            Ok(n) => n,
            Err(_) => bail!("Invalid number \"{digits}\"."),
        };
    }
    let mut unit_given = false;
    for c in spec[digits.len()..].chars() {
        match c {
            'b' => (out.unit, unit_given) = (1, true),
            'h' => (out.unit, unit_given) = (2, true),
            'w' => (out.unit, unit_given) = (4, true),
            'g' => (out.unit, unit_given) = (8, true),
            'x' | 'd' | 'u' | 'o' | 't' | 'a' | 'c' | 'f' | 's' | 'z' => out.format = c,
            'i' => bail!("x/i: linear memory holds no code in WebAssembly; use `disassemble`"),
            other => bail!("Invalid format letter '{other}'."),
        }
    }
    if !unit_given {
        match out.format {
            'c' => out.unit = 1,
            'a' => out.unit = 4,
            'f' if out.unit != 4 && out.unit != 8 => out.unit = 8,
            _ => {}
        }
    }
    Ok(out)
}

/// The most units one `x` prints (gdb has no limit; a dump reader should).
pub const MAX_EXAMINE_UNITS: u64 = 4096;

/// Runs `x`: returns the text and the address after the last unit.
pub fn examine(memory: &Memory, address: u64, spec: Examine) -> Result<(String, u64)> {
    let mut out = String::new();
    let mut at = address;
    let count = spec.count.min(MAX_EXAMINE_UNITS);
    if spec.format == 's' {
        for _ in 0..count {
            crate::interrupt::check()?;
            let s = match memory.read_c_string(at, 200) {
                Ok(s) => s,
                Err(_) => bail!("Cannot access memory at address {at:#x}"),
            };
            let ty = crate::expr::eval::base_type("char", gimli::DW_ATE_signed_char, 1);
            let arr = Type {
                name: "char []".into(),
                size: Some(s.bytes.len() as u64),
                kind: TypeKind::Array {
                    element: Box::new(ty),
                    count: Some(s.bytes.len() as u64),
                },
            };
            let _ = writeln!(out, "{at:#x}:\t{}", format_value(&arr, &s.bytes, None));
            at += s.bytes.len() as u64 + 1;
        }
    } else {
        let per_line = match (spec.format, spec.unit) {
            ('c', _) | (_, 1) => 8,
            (_, 2) => 8,
            (_, 8) => 2,
            _ => 4,
        };
        let format = match spec.format {
            'a' => Format::Address,
            other => Format::from_letter(other)?,
        };
        let float_ok = matches!(spec.unit, 4 | 8);
        for i in 0..count {
            if i % 256 == 0 {
                crate::interrupt::check()?;
            }
            if i % per_line == 0 {
                if i > 0 {
                    out.push('\n');
                }
                let _ = write!(out, "{at:#x}:");
            }
            let bytes = match memory.read(at, spec.unit as usize) {
                Ok(b) => b,
                Err(_) => {
                    out.push('\n');
                    let _ = write!(out, "Cannot access memory at address {at:#x}");
                    return Ok((out, at));
                }
            };
            let raw = le(&bytes);
            let text = match format {
                Format::Float if !float_ok => format_scalar(raw, bytes.len(), true, Format::Signed),
                Format::Hex => format!("0x{raw:0width$x}", width = spec.unit as usize * 2),
                f => format_scalar(raw, bytes.len(), true, f),
            };
            let _ = write!(out, "\t{text}");
            at += spec.unit;
        }
        out.push('\n');
    }
    if spec.count > MAX_EXAMINE_UNITS {
        let _ = writeln!(
            out,
            "(output limited to {MAX_EXAMINE_UNITS} units of the {} asked for)",
            spec.count
        );
    }
    Ok((out, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_coredump::MemoryLimits;

    #[test]
    fn scalars_in_each_format() {
        assert_eq!(format_scalar(255, 4, false, Format::Hex), "0xff");
        assert_eq!(format_scalar(0xffff_ffff, 4, true, Format::Signed), "-1");
        assert_eq!(
            format_scalar(0xffff_ffff, 4, true, Format::Unsigned),
            "4294967295"
        );
        assert_eq!(format_scalar(8, 4, false, Format::Octal), "010");
        assert_eq!(format_scalar(5, 4, false, Format::Binary), "101");
        assert_eq!(format_scalar(66, 1, true, Format::Char), "66 'B'");
        assert_eq!(format_scalar(1, 2, false, Format::ZeroHex), "0x0001");
    }

    #[test]
    fn examine_words_and_limits() {
        let mut m = Memory::new(MemoryLimits::pages(1));
        m.write(0x100, &[1, 0, 0, 0, 2, 0, 0, 0]).expect("write");
        let spec = parse_examine("2xw", Examine::default()).expect("spec");
        let (text, next) = examine(&m, 0x100, spec).expect("x");
        assert_eq!(text, "0x100:\t0x00000001\t0x00000002\n");
        assert_eq!(next, 0x108);
        let spec = parse_examine("100000000xb", Examine::default()).expect("spec");
        let (text, _) = examine(&m, 0xfff0, spec).expect("x");
        assert!(
            text.contains("Cannot access memory at address 0x10000"),
            "{text}"
        );
        assert!(parse_examine("3q", Examine::default()).is_err());
    }
}
