//! Real dumps of the fixture programs, made once per test binary with
//! coredump-host (guest debugging: every local; native: none), plus helpers
//! to compare wasmgdb's output with the manifest.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use coredump_host::{BacktraceFrame, Capture, Host, HostOptions, RunRequest};
use crash_fixtures::{ExpectedVariable, Manifest, Mode, Program, function_name_matches};

/// The dumps of one crash mode.
pub struct ModeDumps {
    pub guest: PathBuf,
    pub native: PathBuf,
    /// wasmtime's own backtrace of the trap.
    pub backtrace: Vec<BacktraceFrame>,
}

pub struct ProgramDumps {
    pub program: Program,
    pub modes: HashMap<String, ModeDumps>,
    _dir: tempfile::TempDir,
}

pub fn manifest() -> &'static Manifest {
    static MANIFEST: OnceLock<Manifest> = OnceLock::new();
    MANIFEST.get_or_init(|| Manifest::load().expect("fixtures/manifest.json loads"))
}

pub fn demo() -> &'static Manifest {
    static DEMO: OnceLock<Manifest> = OnceLock::new();
    DEMO.get_or_init(|| Manifest::load_demo().expect("demo/expected.json loads"))
}

fn hosts() -> &'static (Host, Host) {
    static HOSTS: OnceLock<(Host, Host)> = OnceLock::new();
    HOSTS.get_or_init(|| {
        let guest = Host::new(HostOptions {
            capture: Capture::GuestDebug,
            ..HostOptions::default()
        })
        .expect("guest-debug host");
        let native = Host::new(HostOptions::default()).expect("native host");
        (guest, native)
    })
}

fn make_dumps(program: &Program) -> ProgramDumps {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = program.wasm_bytes().expect("fixture module");
    let (guest_host, native_host) = hosts();
    let guest_module = guest_host.compile(&program.id, &wasm).expect("compiles");
    let native_module = native_host.compile(&program.id, &wasm).expect("compiles");
    let mut modes = HashMap::new();
    for mode in program.modes.iter().filter(|m| m.crashes()) {
        let request = RunRequest {
            args: mode.args.clone(),
            ..RunRequest::new(format!("{}.wasm", program.id), wasm.clone())
        };
        let mut paths = Vec::new();
        let mut backtrace = Vec::new();
        for (host, module, kind) in [
            (guest_host, &guest_module, "guest"),
            (native_host, &native_module, "native"),
        ] {
            let outcome = host.run_compiled(module, &request).expect("runs");
            let crash = outcome
                .crash
                .unwrap_or_else(|| panic!("{} {} did not crash", program.id, mode.mode));
            let dump = crash.dump.unwrap_or_else(|| {
                panic!(
                    "{} {}: no dump: {:?}",
                    program.id, mode.mode, crash.dump_error
                )
            });
            if kind == "guest" {
                assert!(
                    crash.dump_error.is_none(),
                    "{} {}: {:?}",
                    program.id,
                    mode.mode,
                    crash.dump_error
                );
            }
            let path = dir
                .path()
                .join(format!("{}-{}.{kind}.core", program.id, mode.mode));
            std::fs::write(&path, dump.to_bytes()).expect("write dump");
            paths.push(path);
            backtrace = crash.backtrace;
        }
        let native = paths.pop().expect("native");
        let guest = paths.pop().expect("guest");
        modes.insert(
            mode.mode.clone(),
            ModeDumps {
                guest,
                native,
                backtrace,
            },
        );
    }
    ProgramDumps {
        program: program.clone(),
        modes,
        _dir: dir,
    }
}

/// The dumps of a fixture program (`c-O0`, …, or `demo`), made on first use.
pub fn dumps(id: &str) -> &'static ProgramDumps {
    static SLOTS: [OnceLock<ProgramDumps>; 8] = [const { OnceLock::new() }; 8];
    let (index, program) = if id == "demo" {
        (7, demo().programs.first().expect("demo program"))
    } else {
        let index = manifest()
            .programs
            .iter()
            .position(|p| p.id == id)
            .unwrap_or_else(|| panic!("no program {id}"));
        (index, &manifest().programs[index])
    };
    assert!(index < 8);
    SLOTS[index].get_or_init(|| make_dumps(program))
}

/// The first backtrace frame that is the manifest's frame 0.
pub fn first_user_frame(session: &wasmgdb::Session, mode: &Mode) -> Option<usize> {
    let first = mode.frames.first()?;
    session
        .frames()
        .iter()
        .position(|f| function_name_matches(&first.function, f.source.function_name()))
}

/// Checks the backtrace against the manifest; `Err` says what differs.
pub fn check_backtrace(session: &wasmgdb::Session, mode: &Mode) -> Result<usize, String> {
    let shown = || {
        session
            .frames()
            .iter()
            .enumerate()
            .map(|(i, _)| session.frame_line(i))
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    let start = first_user_frame(session, mode)
        .ok_or_else(|| format!("no frame named {}:\n  {}", mode.frames[0].function, shown()))?;
    for (i, want) in mode.frames.iter().enumerate() {
        let ok = session.frames().get(start + i).is_some_and(|f| {
            function_name_matches(&want.function, f.source.function_name())
                && f.source.file_name() == Some(want.file.as_str())
                && f.source.line == Some(want.line)
        });
        let line = session.frame_line(start + i);
        let text_ok = line.contains(&format!(" at {}:{}", want.file, want.line));
        if !ok || !text_ok {
            return Err(format!(
                "frame {i}: expected {} {}:{}, backtrace:\n  {}",
                want.function,
                want.file,
                want.line,
                shown()
            ));
        }
    }
    Ok(start)
}

/// Whether a printed value is the manifest's.
pub fn value_matches(expected: &ExpectedVariable, printed: &str) -> bool {
    expected.matches_printed(printed)
}

/// Whether a print says the value is not there.
pub fn is_missing(printed: &str) -> bool {
    crash_fixtures::printed_as_missing(printed)
}

/// Runs the real binary.
pub fn wasmgdb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmgdb"))
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("wasmgdb runs")
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Every (program, crash mode) pair of the manifest.
pub fn crash_cases(id: &str) -> Vec<(&'static Program, &'static Mode)> {
    let manifest = if id == "demo" { demo() } else { manifest() };
    manifest
        .cases()
        .filter(|(p, m)| (id == "demo" || p.id == id) && m.crashes())
        .collect()
}
