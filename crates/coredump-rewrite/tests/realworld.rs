//! A smoke subset of the real-world sweep: a few real modules (fetched from
//! npm by `scripts/fetch-modules.sh`, which `scripts/test.sh` runs first) are
//! rewritten with and without bounds checks and must validate with exactly
//! the features they use, keep their exports and imports, and never grow past
//! the size targets. A missing module fails the test. The full sweep over
//! every module is `scripts/sweep.sh`.

mod common;

use std::path::PathBuf;

use coredump_rewrite::{Checks, Options};

fn modules_dir() -> PathBuf {
    std::env::var_os("MODULES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/wasm-postmortem/modules")
        })
}

/// The npm packages that hold [`SMOKE`].
const SMOKE_PACKAGES: &[&str] = &[
    "tree-sitter-wasms",
    "@sqlite.org/sqlite-wasm",
    "sql.js",
    "@resvg/resvg-wasm",
];

const SMOKE: &[&str] = &[
    "tree-sitter-wasms/out__tree-sitter-json.wasm",
    "tree-sitter-wasms/out__tree-sitter-lua.wasm",
    "sqlite.org__sqlite-wasm/sqlite-wasm__jswasm__sqlite3.wasm",
    "sql.js/dist__sql-wasm.wasm",
    "resvg__resvg-wasm/index_bg.wasm",
];

fn interface(wasm: &[u8]) -> (Vec<(String, String)>, Vec<String>) {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.expect("parse") {
            wasmparser::Payload::ImportSection(r) => {
                for i in r.into_imports() {
                    let i = i.expect("import");
                    imports.push((i.module.to_string(), i.name.to_string()));
                }
            }
            wasmparser::Payload::ExportSection(r) => {
                for e in r {
                    exports.push(e.expect("export").name.to_string());
                }
            }
            _ => {}
        }
    }
    (imports, exports)
}

#[test]
fn cached_real_world_modules() {
    let dir = modules_dir();
    let (present, missing): (Vec<PathBuf>, Vec<PathBuf>) =
        SMOKE.iter().map(|m| dir.join(m)).partition(|p| p.exists());
    assert!(
        missing.is_empty(),
        "real-world modules missing: {missing:?} (run crates/coredump-rewrite/scripts/fetch-modules.sh {})",
        SMOKE_PACKAGES.join(" ")
    );
    for path in present {
        let original = std::fs::read(&path).expect("read");
        let (imports, exports) = interface(&original);
        for bounds in [false, true] {
            let opts = Options {
                checks: Checks {
                    bounds,
                    ..Checks::default()
                },
                ..Options::default()
            };
            let out = coredump_rewrite::rewrite(&original, &opts)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            common::validates_like(&original, &out.wasm)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let (imports_out, exports_out) = interface(&out.wasm);
            assert_eq!(imports_out, imports, "{}: imports changed", path.display());
            assert_eq!(
                &exports_out[..exports.len()],
                &exports[..],
                "{}: exports changed",
                path.display()
            );
            let growth = out.wasm.len() as f64 / original.len() as f64 - 1.0;
            if !bounds {
                assert!(
                    growth < 0.6,
                    "{}: grew {:.0}%",
                    path.display(),
                    growth * 100.0
                );
            }
            eprintln!(
                "{}: {:+.1}% ({}), {} functions instrumented",
                path.display(),
                growth * 100.0,
                if bounds { "bounds" } else { "default" },
                out.report.counts.padded
            );
        }
    }
}
