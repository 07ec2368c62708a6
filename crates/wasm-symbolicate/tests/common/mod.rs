//! Helpers shared by the integration tests.

#![allow(dead_code)]

use wasm_coredump::ModuleOffset;

/// The `wasm-function[N]:0xOFF` frames of a V8 stack trace, youngest first:
/// (function index, whole-module offset).
pub fn v8_frames(stderr: &str) -> Vec<(u32, ModuleOffset)> {
    let mut frames = Vec::new();
    for line in stderr.lines() {
        let Some(at) = line.find("wasm-function[") else {
            continue;
        };
        let rest = &line[at + "wasm-function[".len()..];
        let Some(close) = rest.find("]:0x") else {
            continue;
        };
        let Ok(index) = rest[..close].parse::<u32>() else {
            continue;
        };
        let hex: String = rest[close + 4..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        let Ok(offset) = u64::from_str_radix(&hex, 16) else {
            continue;
        };
        frames.push((index, ModuleOffset(offset)));
    }
    frames
}

/// One top-level section of a module: id, name (custom sections), and its
/// full byte range (id byte, size and payload).
pub struct RawSection {
    pub id: u8,
    pub name: Option<String>,
    pub range: std::ops::Range<usize>,
}

fn leb(bytes: &[u8], pos: &mut usize) -> u64 {
    let mut result = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*pos];
        *pos += 1;
        result |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return result;
        }
    }
}

/// Walks a (well-formed) module's sections.
pub fn sections(module: &[u8]) -> Vec<RawSection> {
    let mut out = Vec::new();
    let mut pos = 8;
    while pos < module.len() {
        let start = pos;
        let id = module[pos];
        pos += 1;
        let size = leb(module, &mut pos) as usize;
        let payload = pos;
        let end = payload + size;
        let name = (id == 0).then(|| {
            let mut p = payload;
            let len = leb(module, &mut p) as usize;
            String::from_utf8_lossy(&module[p..p + len]).into_owned()
        });
        out.push(RawSection {
            id,
            name,
            range: start..end,
        });
        pos = end;
    }
    out
}

/// The module without its `.debug_*` custom sections (and, optionally,
/// without `build_id` / `external_debug_info`), every other byte copied as it is.
pub fn strip_debug(module: &[u8], strip_ids: bool) -> Vec<u8> {
    let mut out = module[..8].to_vec();
    for section in sections(module) {
        let name = section.name.as_deref().unwrap_or("");
        let drop = name.starts_with(".debug_")
            || (strip_ids && (name == "build_id" || name == "external_debug_info"));
        if !drop {
            out.extend_from_slice(&module[section.range]);
        }
    }
    out
}

/// Whether `expected` appears in `backtrace` as a contiguous run starting at
/// the first frame named like `expected[0]` (function, file base name, line).
pub fn match_frames(
    backtrace: &[wasm_symbolicate::SourceFrame],
    expected: &[crash_fixtures::ExpectedFrame],
) -> Result<(), String> {
    use crash_fixtures::function_name_matches;
    let shown = || {
        backtrace
            .iter()
            .map(|f| {
                format!(
                    "{} {}:{}",
                    f.function_name(),
                    f.file_name().unwrap_or("??"),
                    f.line.unwrap_or(0)
                )
            })
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    let first = expected.first().ok_or("no expected frames")?;
    let start = backtrace
        .iter()
        .position(|f| function_name_matches(&first.function, f.function_name()))
        .ok_or_else(|| format!("no frame named {}:\n  {}", first.function, shown()))?;
    for (i, want) in expected.iter().enumerate() {
        let ok = backtrace.get(start + i).is_some_and(|f| {
            function_name_matches(&want.function, f.function_name())
                && f.file_name() == Some(want.file.as_str())
                && f.line == Some(want.line)
        });
        if !ok {
            return Err(format!(
                "frame {i}: expected {} {}:{}, backtrace:\n  {}",
                want.function,
                want.file,
                want.line,
                shown()
            ));
        }
    }
    Ok(())
}
