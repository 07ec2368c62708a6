//! The stripped module behaves exactly like the original under node 20.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

struct Run {
    code: Option<i32>,
    stdout: String,
    trap_line: Option<String>,
}

fn run_node(module: &Path, args: &[&str]) -> Run {
    let node = crash_fixtures::node_binary();
    let out = Command::new(&node)
        .arg(crash_fixtures::node_runner())
        .arg(module)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{e}: node 20 is needed (set $NODE to its path if it is not on PATH)")
        });
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        trap_line: stderr
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("RuntimeError:") || l.starts_with("RangeError:"))
            .map(str::to_string),
    }
}

#[test]
fn stripped_modules_run_like_the_originals() {
    let cases: &[(&str, &[&str])] = &[
        ("c/crash-O0.wasm", &["ok"]),
        ("c/crash-O0.wasm", &["divide-by-zero"]),
        ("c/crash-O0.wasm", &["out-of-bounds"]),
        ("rust/crash-O2.wasm", &["ok"]),
        ("rust/crash-O2.wasm", &["unwrap-none"]),
        ("zig/crash-ReleaseSafe.wasm", &["null-function-pointer"]),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (module, args)) in cases.iter().enumerate() {
        let original = fixture(module);
        let stripped = dir.path().join(format!("s{i}.wasm"));
        let out = run(
            &[
                original.as_os_str(),
                "-o".as_ref(),
                stripped.as_os_str(),
                "--strip-names".as_ref(),
            ],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(0), "{module}: {}", stderr(&out));

        let a = run_node(&original, args);
        let b = run_node(&stripped, args);
        let what = format!("{module} {args:?}");
        assert_eq!(a.code, b.code, "{what}: exit codes differ");
        assert_eq!(a.stdout, b.stdout, "{what}: stdout differs");
        assert_eq!(a.trap_line, b.trap_line, "{what}: trap differs");
        if args == &["ok"] {
            assert_eq!(a.code, Some(0), "{what}");
            assert!(!a.stdout.is_empty(), "{what}: the ok run prints a line");
        } else {
            assert_eq!(a.code, Some(134), "{what}: expected a trap");
            assert!(a.trap_line.is_some(), "{what}: no trap line");
        }
    }
}
