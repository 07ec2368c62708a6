//! Every fixture program and crash mode, instrumented, under wasmtime and node:
//! the real trap kind is the manifest's, the dump parses and validates, and
//! its frames are exactly wasmtime's native backtrace of the original module
//! (function indices and code offsets), with every local filled in.

mod common;

use coredump_host::{BacktraceFrame, Capture, Exit, Host, HostOptions, RunRequest};
use coredump_rewrite::{Checks, Options};
use crash_fixtures::{Manifest, Mode, Program, trap_kinds_from_v8_message};
use wasm_coredump::{CoreDump, ModuleLayout, TrapKind};

/// Checks a dump against the native backtrace of the original module.
#[allow(clippy::too_many_arguments)]
fn check_dump(
    what: &str,
    bytes: &[u8],
    expected: &TrapKind,
    native: &[BacktraceFrame],
    original: &[u8],
    layout: &ModuleLayout,
    locals: &[usize],
    guest: Option<&CoreDump>,
) -> Result<(), String> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|e| format!("{what}: the dump does not validate: {e}"))?;
    let dump =
        CoreDump::parse(bytes).map_err(|e| format!("{what}: the dump does not parse: {e}"))?;
    let trap = dump
        .trap
        .as_ref()
        .ok_or(format!("{what}: no trap in the dump"))?;
    if &trap.kind != expected {
        return Err(format!(
            "{what}: dump says {}, expected {expected}",
            trap.kind
        ));
    }
    if let Some(id) = layout.build_id() {
        let recorded = dump.modules.first().and_then(|m| m.build_id.as_ref());
        if recorded != Some(id) {
            return Err(format!("{what}: build id {recorded:?}, expected {id:?}"));
        }
    }
    let memory = dump.memory(0).map_err(|e| format!("{what}: {e}"))?;
    if memory.stored_bytes() == 0 {
        return Err(format!("{what}: memory 0 is empty in the dump"));
    }
    let frames = dump.main_frames();
    let got: Vec<(u32, u32)> = frames.iter().map(|f| (f.function, f.code_offset)).collect();
    // The real wasm-tools validates it and reads the same frames.
    let theirs = common::wasm_tools_frames(bytes).map_err(|e| format!("{what}: {e}"))?;
    if theirs != got {
        return Err(format!(
            "{what}: wasm-tools reads frames {theirs:?}, our reader {got:?}"
        ));
    }
    let want: Vec<(u32, Option<u32>)> = native
        .iter()
        .map(|f| (f.function, f.function_offset))
        .collect();
    if frames.len() != native.len() {
        return Err(format!(
            "{what}: {} frames, wasmtime has {}:\n  dump     {got:?}\n  wasmtime {want:?}",
            frames.len(),
            native.len()
        ));
    }
    for (i, (frame, bt)) in frames.iter().zip(native).enumerate() {
        let Some(offset) = bt.function_offset else {
            return Err(format!("{what}: wasmtime frame {i} has no offset"));
        };
        if frame.function != bt.function
            || (frame.code_offset != offset
                && !(i == 0
                    && rewrite_differential::trap_site_matches(
                        original,
                        layout,
                        frame.function,
                        offset,
                        frame.code_offset,
                    )))
        {
            return Err(format!(
                "{what}: frame {i} differs:\n  dump     {got:?}\n  wasmtime {want:?}"
            ));
        }
        let count = locals
            .get(frame.function as usize)
            .copied()
            .unwrap_or(usize::MAX);
        if frame.locals.len() != count {
            return Err(format!(
                "{what}: frame {i} (function {}) has {} locals, the function has {count}",
                frame.function,
                frame.locals.len()
            ));
        }
    }
    // Only the trapping frame's operand stack is recorded.
    if frames.iter().skip(1).any(|f| !f.stack.is_empty()) {
        return Err(format!("{what}: a caller frame has a stack"));
    }
    // Locals hold the values wasmtime's guest debugging sees in the original.
    if let Some(guest) = guest {
        let theirs = guest.main_frames();
        if theirs.len() == frames.len()
            && theirs
                .iter()
                .all(|f| !f.locals.is_empty() || locals.get(f.function as usize) == Some(&0))
        {
            COMPARED.with(|c| c.set(c.get() + 1));
            for (i, (ours, theirs)) in frames.iter().zip(theirs).enumerate() {
                if ours.locals != theirs.locals {
                    return Err(format!(
                        "{what}: frame {i} (function {}) locals differ from guest debugging's:\n  dump  {:?}\n  guest {:?}",
                        ours.function, ours.locals, theirs.locals
                    ));
                }
            }
        }
    }
    if dump.globals.is_empty() {
        return Err(format!("{what}: no globals"));
    }
    Ok(())
}

thread_local! {
    /// Dumps whose locals were compared with guest debugging's.
    static COMPARED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn needs_bounds(kind: &TrapKind) -> bool {
    *kind == TrapKind::MemoryOutOfBounds
}

fn check_program(id: &str) {
    let manifest = Manifest::load().expect("manifest");
    let program: &Program = manifest.program(id).expect("program");
    let original = program.wasm_bytes().expect("fixture");
    let layout = ModuleLayout::parse(&original).expect("layout");
    let locals = common::local_counts(&original);
    let host = Host::new(HostOptions::default()).expect("host");
    let native_module = host.compile(id, &original).expect("compile original");
    let guest_host = Host::new(HostOptions {
        capture: Capture::GuestDebug,
        ..HostOptions::default()
    })
    .expect("guest-debug host");
    let guest_module = guest_host.compile(id, &original).expect("compile original");

    let default = Options {
        name: "crash.wasm".into(),
        ..Options::default()
    };
    let bounds = Options {
        checks: Checks {
            bounds: true,
            ..Checks::default()
        },
        ..default.clone()
    };
    let plain = common::rewrite(&original, &default);
    let checked = common::rewrite(&original, &bounds);
    for (what, out) in [("default", &plain), ("bounds", &checked)] {
        common::validates_like(&original, out).unwrap_or_else(|e| panic!("{id} {what}: {e}"));
    }
    let engine = common::engine();
    let plain_module = wasmtime::Module::new(&engine, &plain).expect("compile instrumented");
    let checked_module = wasmtime::Module::new(&engine, &checked).expect("compile instrumented");

    let plain_in_host = host.compile(id, &plain).expect("compile instrumented");

    let mut failures = Vec::new();
    for mode in &program.modes {
        let what = format!("{id} {}", mode.mode);
        let mut request = RunRequest::new("crash", original.clone());
        request.args = mode.args.clone();
        let native = host
            .run_compiled(&native_module, &request)
            .expect("native run");
        if mode.trap.as_ref().is_some_and(needs_bounds) {
            let mut request = RunRequest::new("crash", plain.clone());
            request.args = mode.args.clone();
            let run = host
                .run_compiled(&plain_in_host, &request)
                .expect("instrumented run");
            if let Err(e) = check_native_fallback(&what, &run, &native, &original) {
                failures.push(e);
            }
        }
        let guest = if mode.trap.is_some() {
            guest_host
                .run_compiled(&guest_module, &request)
                .ok()
                .and_then(|o| o.crash)
                .and_then(|c| c.dump)
        } else {
            None
        };
        if let Err(e) = check_mode(
            &what,
            mode,
            &native,
            guest.as_ref(),
            &engine,
            &plain_module,
            &checked_module,
            &plain,
            &checked,
            &original,
            &layout,
            &locals,
        ) {
            failures.push(e);
        }
    }
    // Usage errors (no arguments) exit with the program's code, unchanged.
    let usage = host
        .run_compiled(&native_module, &RunRequest::new("crash", original.clone()))
        .expect("native run");
    for (variant, module, wasm) in [
        ("default", &plain_module, &plain),
        ("bounds", &checked_module, &checked),
    ] {
        let run = common::run_wasi(&engine, module, &[]);
        if Some(usage.exit.status()) != run.exit
            || run.stdout != usage.stdout
            || run.stderr != usage.stderr
        {
            failures.push(format!(
                "{id} usage [{variant}]: wasmtime exit {:?}",
                run.exit
            ));
        }
        let node = common::run_node(wasm, &[]);
        if node.exit_code != Some(usage.exit.status()) || node.stdout.as_bytes() != usage.stdout {
            failures.push(format!(
                "{id} usage [{variant}]: node exit {:?}",
                node.exit_code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let crashes = program.modes.iter().filter(|m| m.trap.is_some()).count();
    let compared = COMPARED.with(|c| c.get());
    assert!(
        compared >= crashes * 2,
        "{id}: only {compared} dumps had their locals compared with guest debugging"
    );
}

/// A trap the default checks leave to the engine (a plain out-of-bounds
/// access): the host's native dump of the instrumented module, mapped through
/// its offset map, has exactly the original's native frames.
fn check_native_fallback(
    what: &str,
    run: &coredump_host::RunOutcome,
    native: &coredump_host::RunOutcome,
    original: &[u8],
) -> Result<(), String> {
    let what = format!("{what} [default, native capture in the host]");
    let frames_of = |outcome: &coredump_host::RunOutcome| -> Option<Vec<(u32, u32)>> {
        let dump = outcome.crash.as_ref()?.dump.as_ref()?;
        Some(
            dump.main_frames()
                .iter()
                .map(|f| (f.function, f.code_offset))
                .collect(),
        )
    };
    let want: Vec<(u32, u32)> = native
        .crash
        .as_ref()
        .ok_or(format!("{what}: the original did not trap"))?
        .backtrace
        .iter()
        .map(|f| (f.function, f.function_offset.unwrap_or(u32::MAX)))
        .collect();
    let got = frames_of(run).ok_or(format!("{what}: no dump"))?;
    if !common::same_frames(original, &got, &want) {
        return Err(format!(
            "{what}: frames differ:\n  host dump {got:?}\n  original  {want:?}"
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn check_mode(
    what: &str,
    mode: &Mode,
    native: &coredump_host::RunOutcome,
    guest: Option<&CoreDump>,
    engine: &wasmtime::Engine,
    plain_module: &wasmtime::Module,
    checked_module: &wasmtime::Module,
    plain: &[u8],
    checked: &[u8],
    original: &[u8],
    layout: &ModuleLayout,
    locals: &[usize],
) -> Result<(), String> {
    let Some(expected) = &mode.trap else {
        // A run that does not trap behaves identically.
        let Exit::Code(code) = native.exit else {
            return Err(format!("{what}: the original trapped"));
        };
        for (variant, module, wasm) in [
            ("default", plain_module, plain),
            ("bounds", checked_module, checked),
        ] {
            let run = common::run_wasi(engine, module, &mode.args);
            if run.exit != Some(code) || run.stdout != native.stdout || run.stderr != native.stderr
            {
                return Err(format!(
                    "{what} {variant}: wasmtime exit {:?} stdout {:?}, original exit {code} stdout {:?} ({})",
                    run.exit,
                    String::from_utf8_lossy(&run.stdout),
                    String::from_utf8_lossy(&native.stdout),
                    run.message
                ));
            }
            let node = common::run_node(wasm, &mode.args);
            if node.exit_code != Some(code) || node.stdout.as_bytes() != native.stdout {
                return Err(format!(
                    "{what} {variant}: node exit {:?} stdout {:?}, original exit {code}:\n{}",
                    node.exit_code, node.stdout, node.stderr
                ));
            }
        }
        return Ok(());
    };
    let crash = native
        .crash
        .as_ref()
        .ok_or(format!("{what}: the original did not trap"))?;
    let backtrace = &crash.backtrace;

    // Default checks: the real trap kind always; a dump when the kind is covered.
    let covered_by_default = !needs_bounds(expected);
    let variants: Vec<(&str, &wasmtime::Module, &[u8], bool)> = vec![
        ("default", plain_module, plain, covered_by_default),
        ("bounds", checked_module, checked, true),
    ];
    for (variant, module, wasm, dumps) in variants {
        let what = format!("{what} [{variant}]");
        let run = common::run_wasi(engine, module, &mode.args);
        if run.trap.as_ref() != Some(expected) {
            return Err(format!(
                "{what}: wasmtime trap {:?}, expected {expected} ({})",
                run.trap, run.message
            ));
        }
        if run.stdout != native.stdout {
            return Err(format!("{what}: stdout differs"));
        }
        match (&run.dump, dumps) {
            (Some(bytes), true) => check_dump(
                &format!("{what} wasmtime"),
                bytes,
                expected,
                backtrace,
                original,
                layout,
                locals,
                guest,
            )?,
            (None, true) => {
                return Err(format!(
                    "{what}: wasmtime run wrote no dump ({})",
                    run.message
                ));
            }
            // Out-of-bounds `memory.fill`/`memory.copy` are checked by default
            // (Zig's memset), plain loads and stores are not.
            (Some(bytes), false) => check_dump(
                &format!("{what} wasmtime"),
                bytes,
                expected,
                backtrace,
                original,
                layout,
                locals,
                guest,
            )?,
            (None, false) => {}
        }

        let node = common::run_node(wasm, &mode.args);
        let line = node.error_line().unwrap_or("").to_string();
        let kinds = trap_kinds_from_v8_message(&line);
        if !kinds.contains(expected) {
            return Err(format!(
                "{what}: node says {line:?}, expected {expected}:\n{}",
                node.stderr
            ));
        }
        match (&node.dump, dumps) {
            (Some(bytes), true) => check_dump(
                &format!("{what} node"),
                bytes,
                expected,
                backtrace,
                original,
                layout,
                locals,
                guest,
            )?,
            (None, true) => {
                return Err(format!("{what}: node run wrote no dump:\n{}", node.stderr));
            }
            (Some(bytes), false) => check_dump(
                &format!("{what} node"),
                bytes,
                expected,
                backtrace,
                original,
                layout,
                locals,
                guest,
            )?,
            (None, false) => {}
        }
    }
    Ok(())
}

#[test]
fn c_o0() {
    check_program("c-O0");
}

#[test]
fn c_o2() {
    check_program("c-O2");
}

#[test]
fn zig_debug() {
    check_program("zig-Debug");
}

#[test]
fn zig_release_safe() {
    check_program("zig-ReleaseSafe");
}

#[test]
fn rust_debug() {
    check_program("rust-debug");
}

#[test]
fn rust_o2() {
    check_program("rust-O2");
}

#[test]
fn every_program_is_checked() {
    let manifest = Manifest::load().expect("manifest");
    let ids: Vec<&str> = manifest.programs.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "c-O0",
            "c-O2",
            "zig-Debug",
            "zig-ReleaseSafe",
            "rust-debug",
            "rust-O2"
        ]
    );
}
