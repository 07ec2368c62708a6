//! Test support: running instrumented modules under wasmtime and node and
//! fetching their dumps through the ABI.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use coredump_rewrite::Options;
use wasm_coredump::TrapKind;
use wasmparser::{Validator, WasmFeatures};
use wasmtime::{Config, Engine, Instance, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// Rewrites with `opts`, panicking with the error.
pub fn rewrite(wasm: &[u8], opts: &Options) -> Vec<u8> {
    match coredump_rewrite::rewrite(wasm, opts) {
        Ok(out) => out.wasm,
        Err(e) => panic!("rewrite failed: {e}"),
    }
}

pub fn engine() -> Engine {
    let mut config = Config::new();
    config
        .wasm_tail_call(true)
        .wasm_memory64(true)
        .wasm_multi_memory(true)
        .wasm_extended_const(true);
    Engine::new(&config).expect("engine")
}

/// How a run ended.
#[derive(Debug)]
pub struct WasiRun {
    /// Exit code, or `None` after a trap.
    pub exit: Option<i32>,
    pub trap: Option<TrapKind>,
    pub message: String,
    pub dump: Option<Vec<u8>>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Fetches the dump through the ABI exports (i32 or, for 64-bit memories, i64).
pub fn fetch_dump(store: &mut Store<impl Sized>, instance: &Instance) -> Option<Vec<u8>> {
    rewrite_differential::fetch_dump(store, instance).expect("ABI exports")
}

/// The trap kind of a wasmtime error.
pub fn trap_of(err: &wasmtime::Error) -> Option<TrapKind> {
    err.downcast_ref::<wasmtime::Trap>()
        .map(|t| coredump_host::trap_kind(*t))
}

/// Runs a WASI command module's `_start` under wasmtime.
pub fn run_wasi(engine: &Engine, module: &Module, args: &[String]) -> WasiRun {
    let out = MemoryOutputPipe::new(1 << 20);
    let err = MemoryOutputPipe::new(1 << 20);
    let mut builder = WasiCtxBuilder::new();
    builder
        .arg("crash")
        .args(args)
        .stdout(out.clone())
        .stderr(err.clone());
    let mut store: Store<WasiP1Ctx> = Store::new(engine, builder.build_p1());
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| s).expect("linker");
    let instance = linker.instantiate(&mut store, module).expect("instantiate");
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .expect("_start");
    let result = start.call(&mut store, ());
    let (exit, trap, message) = match result {
        Ok(()) => (Some(0), None, String::new()),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                (Some(exit.0), None, String::new())
            } else {
                (None, trap_of(&e), format!("{e:?}"))
            }
        }
    };
    let dump = if trap.is_some() {
        fetch_dump(&mut store, &instance)
    } else {
        None
    };
    WasiRun {
        exit,
        trap,
        message,
        dump,
        stdout: out.contents().to_vec(),
        stderr: err.contents().to_vec(),
    }
}

/// What a node run produced.
#[derive(Debug)]
pub struct NodeRun {
    pub exit_code: Option<i32>,
    pub stderr: String,
    pub stdout: String,
    pub dump: Option<Vec<u8>>,
}

impl NodeRun {
    pub fn error_line(&self) -> Option<&str> {
        crash_fixtures::v8_trap_line(&self.stderr)
    }
}

pub fn node_script() -> PathBuf {
    crash_fixtures::repo_root().join("crates/coredump-rewrite/tests/node/run-dump.mjs")
}

/// Runs an instrumented WASI module under node with `tests/node/run-dump.mjs`.
pub fn run_node(wasm: &[u8], args: &[String]) -> NodeRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("crash.wasm");
    std::fs::write(&file, wasm).expect("write module");
    let dump_path = dir.path().join("crash.core");
    let output = Command::new(crash_fixtures::node_binary())
        .arg(node_script())
        .arg(&file)
        .args(args)
        .env("COREDUMP_OUT", &dump_path)
        .output()
        .expect("node runs");
    NodeRun {
        exit_code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        dump: std::fs::read(&dump_path).ok(),
    }
}

/// The smallest feature set (by greedy removal) that validates `wasm`,
/// always keeping floating point (part of Wasm 1.0; wasmparser lets it be
/// turned off for deterministic embeddings, no engine does).
pub fn minimal_features(wasm: &[u8]) -> WasmFeatures {
    let mut features = WasmFeatures::all();
    for flag in (WasmFeatures::all() - WasmFeatures::FLOATS).iter() {
        let without = features - flag;
        if Validator::new_with_features(without)
            .validate_all(wasm)
            .is_ok()
        {
            features = without;
        }
    }
    features
}

/// Checks that `output` validates with the features `input` needs.
pub fn validates_like(input: &[u8], output: &[u8]) -> Result<(), String> {
    let features = minimal_features(input);
    Validator::new_with_features(features)
        .validate_all(output)
        .map(|_| ())
        .map_err(|e| {
            format!("output does not validate with the input's features {features:?}: {e}")
        })
}

/// Number of parameters plus declared locals of every function, imports first (0 for imports).
pub fn local_counts(wasm: &[u8]) -> Vec<usize> {
    let mut types: Vec<usize> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut imported = 0;
    let mut counts = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.expect("parse") {
            wasmparser::Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    types.push(ty.expect("type").params().len());
                }
            }
            wasmparser::Payload::ImportSection(r) => {
                for i in r.into_imports() {
                    if let wasmparser::TypeRef::Func(t) = i.expect("import").ty {
                        funcs.push(t);
                        imported += 1;
                        counts.push(0);
                    }
                }
            }
            wasmparser::Payload::FunctionSection(r) => {
                for t in r {
                    funcs.push(t.expect("func"));
                }
            }
            wasmparser::Payload::CodeSectionEntry(body) => {
                let index = counts.len();
                let params = types[funcs[index] as usize];
                let mut n = params;
                for l in body.get_locals_reader().expect("locals") {
                    n += l.expect("local").0 as usize;
                }
                counts.push(n);
            }
            _ => {}
        }
    }
    let _ = imported;
    counts
}

/// Frames of a wasmtime trap: (function index, offset in the function body), youngest first.
pub fn backtrace_of(err: &wasmtime::Error) -> Vec<(u32, u32)> {
    err.downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|f| (f.func_index(), f.func_offset().unwrap_or(usize::MAX) as u32))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses and validates a dump, returning its frames.
pub fn dump_frames(bytes: &[u8]) -> (wasm_coredump::CoreDump, Vec<(u32, u32)>) {
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .unwrap_or_else(|e| panic!("dump does not validate: {e}"));
    let dump = wasm_coredump::CoreDump::parse(bytes)
        .unwrap_or_else(|e| panic!("dump does not parse: {e}"));
    let frames = dump
        .main_frames()
        .iter()
        .map(|f| (f.function, f.code_offset))
        .collect();
    (dump, frames)
}

/// Calls `export` of a module with no imports (or with `imports` given to the
/// linker) and returns the trap kind and backtrace, plus the instrumented
/// store's dump when `instrumented`.
pub struct Called {
    pub trap: Option<TrapKind>,
    pub frames: Vec<(u32, u32)>,
    pub dump: Option<Vec<u8>>,
    pub message: String,
}

pub fn call_export(engine: &Engine, wasm: &[u8], export: &str, args: &[wasmtime::Val]) -> Called {
    let module = Module::new(engine, wasm).expect("compile");
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
    call_in(&mut store, &instance, export, args)
}

pub fn call_in(
    store: &mut Store<()>,
    instance: &Instance,
    export: &str,
    args: &[wasmtime::Val],
) -> Called {
    let func = instance.get_func(&mut *store, export).expect("export");
    let mut results = vec![wasmtime::Val::I32(0); func.ty(&*store).results().len()];
    match func.call(&mut *store, args, &mut results) {
        Ok(()) => Called {
            trap: None,
            frames: Vec::new(),
            dump: None,
            message: String::new(),
        },
        Err(e) => Called {
            trap: trap_of(&e),
            frames: backtrace_of(&e),
            dump: fetch_dump(store, instance),
            message: format!("{e:?}"),
        },
    }
}

/// Whether dump frames equal wasmtime's native frames, allowing cranelift's
/// folding of a conditional branch into the trap on the youngest frame (the
/// dump then names the `unreachable`, a few bytes after the branch).
pub fn same_frames(original: &[u8], dump: &[(u32, u32)], native: &[(u32, u32)]) -> bool {
    if dump.len() != native.len() {
        return false;
    }
    let layout = wasm_coredump::ModuleLayout::parse(original).expect("layout");
    dump.iter().zip(native).enumerate().all(|(i, (d, n))| {
        d.0 == n.0
            && (d.1 == n.1
                || (i == 0
                    && rewrite_differential::trap_site_matches(original, &layout, d.0, n.1, d.1)))
    })
}

/// Runs `tests/node/call-export.mjs` on a module.
pub fn node_call(wasm: &[u8], export: &str, args: &[&str]) -> NodeRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("m.wasm");
    std::fs::write(&file, wasm).expect("write module");
    let dump_path = dir.path().join("m.core");
    let output = Command::new(crash_fixtures::node_binary())
        .arg(crash_fixtures::repo_root().join("crates/coredump-rewrite/tests/node/call-export.mjs"))
        .arg(&file)
        .arg(export)
        .args(args)
        .env("COREDUMP_OUT", &dump_path)
        .output()
        .expect("node runs");
    NodeRun {
        exit_code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        dump: std::fs::read(&dump_path).ok(),
    }
}

/// The real `wasm-tools` binary: `$WASM_TOOLS`, the copy `scripts/test.sh`
/// installs under `~/.cache/wasm-postmortem/tools`, or one on `PATH`.
pub fn wasm_tools() -> PathBuf {
    if let Some(path) = std::env::var_os("WASM_TOOLS") {
        return PathBuf::from(path);
    }
    let cached = PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join(".cache/wasm-postmortem/tools/bin/wasm-tools");
    if cached.exists() {
        return cached;
    }
    PathBuf::from("wasm-tools")
}

/// Has `wasm-tools` validate a dump and parse its core-dump sections
/// (`wasm-tools dump`), and returns the main thread's frames as it read them.
pub fn wasm_tools_frames(bytes: &[u8]) -> Result<Vec<(u32, u32)>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("dump.core");
    std::fs::write(&file, bytes).map_err(|e| e.to_string())?;
    let tool = wasm_tools();
    let run = |command: &str| {
        let out = Command::new(&tool)
            .arg(command)
            .arg(&file)
            .output()
            .map_err(|e| {
                format!(
                    "cannot run {} ({e}): scripts/test.sh installs it, or set WASM_TOOLS",
                    tool.display()
                )
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "wasm-tools {command} rejects the dump: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    run("validate")?;
    let dump = run("dump")?;
    // `stacks: main / [CoreDumpStackFrame { instanceidx: 0, funcidx: 7, codeoffset: 12, ...`
    let stacks = dump
        .lines()
        .find_map(|l| {
            l.split_once("stacks: main / ")
                .map(|(_, rest)| rest.to_string())
        })
        .ok_or("wasm-tools dump shows no main stack")?;
    let number = |text: &str, key: &str| -> Option<u32> {
        let rest = &text[text.find(key)? + key.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Ok(stacks
        .split("CoreDumpStackFrame {")
        .skip(1)
        .filter_map(|frame| Some((number(frame, "funcidx: ")?, number(frame, "codeoffset: ")?)))
        .collect())
}
