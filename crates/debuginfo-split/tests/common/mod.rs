//! Helpers shared by the integration tests. Section framing is read here by
//! a small walker of its own, so the tests do not trust the crate's parser.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every fixture module with DWARF: the manifest's programs and the demo.
pub fn fixture_modules() -> Vec<PathBuf> {
    let manifest = crash_fixtures::Manifest::load().expect("fixtures/manifest.json");
    let mut paths: Vec<PathBuf> = manifest.programs.iter().map(|p| p.wasm_path()).collect();
    paths.push(crash_fixtures::demo_dir().join("app.wasm"));
    assert!(
        paths.len() >= 7,
        "expected the six fixture builds and the demo"
    );
    paths
}

pub fn fixture(relative: &str) -> PathBuf {
    crash_fixtures::fixtures_dir().join(relative)
}

/// One raw section: id, custom name, and the exact bytes (id + size + payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    pub id: u8,
    pub name: Option<String>,
    pub bytes: Vec<u8>,
    /// Payload range in the module (after the size LEB).
    pub payload: std::ops::Range<usize>,
}

impl RawSection {
    pub fn is_custom(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name)
    }
    pub fn is_dwarf(&self) -> bool {
        self.name
            .as_deref()
            .is_some_and(|n| n.starts_with(".debug_"))
    }
}

fn leb(bytes: &[u8], at: &mut usize) -> usize {
    let mut value = 0usize;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// Splits a well-formed module into its raw sections.
pub fn raw_sections(module: &[u8]) -> Vec<RawSection> {
    assert_eq!(&module[..4], b"\0asm");
    let mut at = 8;
    let mut out = Vec::new();
    while at < module.len() {
        let start = at;
        let id = module[at];
        at += 1;
        let size = leb(module, &mut at);
        let payload = at..at + size;
        let name = (id == 0).then(|| {
            let mut p = at;
            let len = leb(module, &mut p);
            String::from_utf8(module[p..p + len].to_vec()).expect("utf-8 section name")
        });
        at += size;
        out.push(RawSection {
            id,
            name,
            bytes: module[start..at].to_vec(),
            payload,
        });
    }
    out
}

/// The Code section's payload bytes.
pub fn code_payload(module: &[u8]) -> Vec<u8> {
    let code = raw_sections(module)
        .into_iter()
        .find(|s| s.id == 10)
        .expect("a code section");
    module[code.payload].to_vec()
}

pub fn validate(bytes: &[u8], what: &str) {
    crash_fixtures::validate_wasm(bytes)
        .unwrap_or_else(|e| panic!("{what} does not validate: {e}"));
}

/// Runs the built `debuginfo-split` binary.
pub fn run(args: &[&std::ffi::OsStr], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_debuginfo-split"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run debuginfo-split")
}

/// `run` with string arguments.
pub fn run_str(args: &[&str], dir: &Path) -> Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    run(&args, dir)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a clean, panic-free failure with the given exit code.
pub fn assert_fails(out: &Output, code: i32, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{what}: stderr: {err}");
    assert!(!err.contains("panicked"), "{what}: panicked: {err}");
    assert!(err.contains("error"), "{what}: no error message: {err}");
}

/// The files in a directory, sorted, with their contents.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("dir entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Copies a fixture into `dir` and returns the copy's file name.
pub fn copy_in(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let dest = dir.join(name);
    std::fs::copy(src, &dest).expect("copy fixture");
    dest
}
