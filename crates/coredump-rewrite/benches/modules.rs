//! The real-world modules the benchmarks and the sweep use, from
//! `scripts/fetch-modules.sh` (in `~/.cache/wasm-postmortem/modules`, or `$MODULES_DIR`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn modules_dir() -> PathBuf {
    std::env::var_os("MODULES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/wasm-postmortem/modules")
        })
}

/// Every cached `.wasm`, sorted by path.
pub fn all() -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(&modules_dir(), &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "wasm") {
            out.push(p);
        }
    }
}

/// Size of a module without its DWARF and source-map sections (what the
/// rewriter removes), so that growth compares code with code.
pub fn size_without_debug(wasm: &[u8]) -> usize {
    let mut removed = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CustomSection(c)) = payload {
            let name = c.name();
            if name.starts_with(".debug_")
                || name == "sourceMappingURL"
                || name == "external_debug_info"
            {
                // Section header: id byte, size LEB, then the payload.
                let len = c.range().len();
                removed += len + 1 + leb_len(len as u64);
            }
        }
    }
    wasm.len() - removed
}

fn leb_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

pub fn short(path: &Path) -> String {
    path.strip_prefix(modules_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return 0.0;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}
