//! Native wasmtime dumps of every fixture crash: the reader must parse them,
//! their frames must name the manifest's functions, and the three code-offset
//! systems must agree with what wasmtime and node print for the same trap.

use coredump_host::{Capture, Exit, Host, HostOptions, RunRequest};
use crash_fixtures::{Manifest, Mode, Program, function_name_matches, run_under_node};
use wasm_coredump::{CodeLocation, CoreDump, ModuleLayout, ModuleOffset};

/// The source-level name of a `name`-section entry: Rust symbols demangled
/// without their hash; clang's `__main_argc_argv` (its symbol for a
/// `main(argc, argv)`) is the `main` gdb users know.
fn source_name(name_section_name: &str) -> String {
    match name_section_name {
        "__main_argc_argv" => "main".to_string(),
        other => format!("{:#}", rustc_demangle::demangle(other)),
    }
}

/// The manifest's frames must appear, in order and contiguous, starting at
/// the first frame that names the manifest's youngest user function.
fn check_frame_names(what: &str, names: &[String], mode: &Mode) -> Result<(), String> {
    let first = &mode.frames[0].function;
    let start = names
        .iter()
        .position(|n| function_name_matches(first, &source_name(n)))
        .ok_or_else(|| format!("{what}: no frame named {first} in {names:?}"))?;
    for (i, expected) in mode.frames.iter().enumerate() {
        let actual = names
            .get(start + i)
            .map(|n| source_name(n))
            .unwrap_or_default();
        if !function_name_matches(&expected.function, &actual) {
            return Err(format!(
                "{what}: frame {} is {actual}, expected {} (all: {names:?})",
                start + i,
                expected.function
            ));
        }
    }
    Ok(())
}

/// Cranelift folds a conditional branch to an `unreachable` into one
/// conditional trap that carries the branch's offset, so for the trapping
/// frame wasmtime may name the `br_if`/`if` where V8 names the `unreachable`
/// itself, a few bytes later in the same function.
fn check_folded_trap(
    what: &str,
    wasm: &[u8],
    layout: &ModuleLayout,
    wasmtime_offset: u32,
    node: CodeLocation,
) {
    let body = layout
        .function_body(node.function)
        .expect("defined function");
    let byte_at = |offset: u32| wasm[body.start + offset as usize];
    const IF: u8 = 0x04;
    const BR_IF: u8 = 0x0d;
    const UNREACHABLE: u8 = 0x00;
    assert!(
        wasmtime_offset < node.offset
            && matches!(byte_at(wasmtime_offset), IF | BR_IF)
            && byte_at(node.offset) == UNREACHABLE,
        "{what}: wasmtime says {wasmtime_offset:#x}, node says {:#x}, and that is not a folded conditional trap",
        node.offset
    );
}

fn check_program(id: &str) {
    let manifest = Manifest::load().expect("manifest");
    let program: &Program = manifest.program(id).expect("program in manifest");
    let wasm = program.wasm_bytes().expect("fixture bytes");
    let layout = ModuleLayout::parse(&wasm).expect("fixture layout");
    let host = Host::new(HostOptions::default()).expect("engine");
    let module = host.compile(id, &wasm).expect("compile");
    let mut failures = Vec::new();

    for mode in &program.modes {
        let what = format!("{id} {}", mode.mode);
        let mut request = RunRequest::new("crash", wasm.clone());
        request.args = mode.args.clone();
        let outcome = host.run_compiled(&module, &request).expect("run");

        let Some(expected_trap) = &mode.trap else {
            assert_eq!(
                outcome.exit,
                Exit::Code(mode.exit_code.unwrap_or(0)),
                "{what}"
            );
            if let Some(stdout) = &mode.stdout {
                assert_eq!(&String::from_utf8_lossy(&outcome.stdout), stdout, "{what}");
            }
            assert!(outcome.crash.is_none(), "{what}");
            continue;
        };
        assert_eq!(
            outcome.exit,
            Exit::Trap,
            "{what}: {:?}",
            String::from_utf8_lossy(&outcome.stderr)
        );
        let crash = outcome.crash.expect("crash");
        assert_eq!(&crash.kind, expected_trap, "{what}: {}", crash.message);

        // The dump survives our own writer and reader and is a valid module.
        let dump = crash.dump.expect("native dump");
        let bytes = dump.to_bytes();
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&bytes)
            .unwrap_or_else(|e| panic!("{what}: dump does not validate: {e}"));
        let dump = CoreDump::parse(&bytes).expect("re-read dump");
        assert_eq!(dump.trap.as_ref().map(|t| &t.kind), Some(expected_trap));
        assert_eq!(dump.executable_name.as_deref(), Some("crash"));
        assert!(
            dump.memory(0).expect("memory 0").stored_bytes() > 0,
            "{what}"
        );
        assert!(!dump.globals.is_empty(), "{what}: __stack_pointer at least");

        // Dump frames equal wasmtime's own backtrace, in dump coordinates,
        // and the whole-module offset wasmtime prints converts to the same place.
        let frames = dump.main_frames();
        assert_eq!(frames.len(), crash.backtrace.len(), "{what}");
        for (frame, bt) in frames.iter().zip(&crash.backtrace) {
            assert_eq!(frame.function, bt.function, "{what}");
            assert_eq!(Some(frame.code_offset), bt.function_offset, "{what}");
            let loc = CodeLocation {
                function: frame.function,
                offset: frame.code_offset,
            };
            let module_offset = layout.to_module_offset(loc).expect("offset converts");
            assert_eq!(Some(module_offset.0), bt.module_offset, "{what}");
            assert_eq!(
                layout.location_of_module_offset(module_offset),
                Ok(loc),
                "{what}"
            );
            let dwarf = layout.to_dwarf_address(loc).expect("dwarf address");
            assert_eq!(layout.location_of_dwarf_address(dwarf), Ok(loc), "{what}");
        }

        // Frames name the manifest's functions through the name section.
        let names: Vec<String> = frames
            .iter()
            .map(|f| {
                layout
                    .function_name(f.function)
                    .unwrap_or("<unnamed>")
                    .to_string()
            })
            .collect();
        if let Err(e) = check_frame_names(&what, &names, mode) {
            failures.push(e);
        }

        // node prints whole-module offsets for the same crash; converted to
        // dump coordinates they must give the same frames.
        let node = run_under_node(program, &mode.args).expect("node runs");
        let node_frames = node.wasm_frames();
        assert!(
            !node_frames.is_empty(),
            "{what}: node printed no wasm frames:\n{}",
            node.stderr
        );
        for (i, (function, offset)) in node_frames.iter().enumerate().take(frames.len()) {
            let loc = layout
                .location_of_module_offset(ModuleOffset(*offset))
                .expect("node offset is in code");
            assert_eq!(loc.function, *function, "{what}: node frame {i}");
            let dump_frame = &frames[i];
            assert_eq!(
                loc.function, dump_frame.function,
                "{what}: node frame {i} vs wasmtime"
            );
            if i == 0 && loc.offset != dump_frame.code_offset {
                check_folded_trap(&what, &wasm, &layout, dump_frame.code_offset, loc);
            } else {
                assert_eq!(
                    loc.offset, dump_frame.code_offset,
                    "{what}: node frame {i} vs wasmtime"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
    let manifest = Manifest::load().unwrap();
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

#[test]
fn capture_off_reports_the_trap_without_a_dump() {
    let manifest = Manifest::load().unwrap();
    let program = manifest.program("c-O0").unwrap();
    let host = Host::new(HostOptions {
        capture: Capture::Off,
        ..HostOptions::default()
    })
    .unwrap();
    let mut request = RunRequest::new("crash", program.wasm_bytes().unwrap());
    request.args = vec!["divide-by-zero".into()];
    let outcome = host.run(&request).unwrap();
    let crash = outcome.crash.unwrap();
    assert_eq!(crash.kind, wasm_coredump::TrapKind::IntegerDivideByZero);
    assert!(crash.dump.is_none());
    assert_eq!(outcome.exit.status(), 134);
}

#[test]
fn usage_errors_exit_with_the_programs_code() {
    let manifest = Manifest::load().unwrap();
    let program = manifest.program("rust-debug").unwrap();
    let host = Host::new(HostOptions::default()).unwrap();
    let outcome = host
        .run(&RunRequest::new("crash", program.wasm_bytes().unwrap()))
        .unwrap();
    assert_eq!(outcome.exit, Exit::Code(2));
    assert!(outcome.crash.is_none());
}

#[test]
fn malformed_modules_are_errors() {
    let host = Host::new(HostOptions::default()).unwrap();
    let err = host
        .run(&RunRequest::new(
            "junk",
            b"\0asm\x01\0\0\0\x01\xff".to_vec(),
        ))
        .unwrap_err();
    assert!(err.to_string().contains("cannot compile junk"), "{err}");
    let err = host
        .run(&RunRequest::new("lib", wat::parse_str("(module)").unwrap()))
        .unwrap_err();
    assert!(err.to_string().contains("no `_start`"), "{err}");
}

/// Number of locals (params included) of each defined function, by function index.
fn local_counts(wasm: &[u8]) -> std::collections::HashMap<u32, u32> {
    use wasmparser::{Parser, Payload, TypeRef};
    let mut types = Vec::new();
    let mut func_types = Vec::new();
    let mut imported = 0u32;
    let mut counts = std::collections::HashMap::new();
    let mut next_body = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    types.push(ty.unwrap().params().len() as u32);
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    if let TypeRef::Func(_) = import.unwrap().ty {
                        imported += 1;
                    }
                }
            }
            Payload::FunctionSection(r) => func_types.extend(r.into_iter().map(|t| t.unwrap())),
            Payload::CodeSectionEntry(body) => {
                let params = types[func_types[next_body as usize] as usize];
                let mut declared = 0;
                for local in body.get_locals_reader().unwrap() {
                    declared += local.unwrap().0;
                }
                counts.insert(imported + next_body, params + declared);
                next_body += 1;
            }
            _ => {}
        }
    }
    counts
}

#[test]
fn guest_debug_capture_fills_every_frames_locals() {
    let manifest = Manifest::load().unwrap();
    let native_host = Host::new(HostOptions::default()).unwrap();
    let debug_host = Host::new(HostOptions {
        capture: Capture::GuestDebug,
        ..HostOptions::default()
    })
    .unwrap();
    for program in &manifest.programs {
        let wasm = program.wasm_bytes().unwrap();
        let layout = ModuleLayout::parse(&wasm).unwrap();
        let counts = local_counts(&wasm);
        let native_module = native_host.compile(&program.id, &wasm).unwrap();
        let debug_module = debug_host.compile(&program.id, &wasm).unwrap();
        for mode in program.modes.iter().filter(|m| m.trap.is_some()) {
            let what = format!("{} {}", program.id, mode.mode);
            let mut request = RunRequest::new("crash", wasm.clone());
            request.args = mode.args.clone();
            let native = native_host.run_compiled(&native_module, &request).unwrap();
            let debug = debug_host.run_compiled(&debug_module, &request).unwrap();
            let native = native.crash.unwrap().dump.unwrap();
            let crash = debug.crash.unwrap();
            assert_eq!(crash.dump_error, None, "{what}");
            let dump = crash.dump.unwrap();
            assert_eq!(dump.info("locals"), Some("wasmtime-guest-debug"), "{what}");
            let (a, b) = (native.main_frames(), dump.main_frames());
            assert_eq!(a.len(), b.len(), "{what}");
            for (i, (n, g)) in a.iter().zip(b).enumerate() {
                assert_eq!(n.function, g.function, "{what}");
                if i == 0 && n.code_offset != g.code_offset {
                    // Guest-debug code keeps every trap at its own instruction.
                    let loc = CodeLocation {
                        function: g.function,
                        offset: g.code_offset,
                    };
                    check_folded_trap(&what, &wasm, &layout, n.code_offset, loc);
                } else {
                    assert_eq!(n.code_offset, g.code_offset, "{what}: frame {i}");
                }
                assert_eq!(
                    g.locals.len() as u32,
                    counts[&g.function],
                    "{what}: func {}",
                    g.function
                );
                assert!(
                    g.locals.iter().all(|v| *v != wasm_coredump::Value::Missing)
                        || g.locals.is_empty(),
                    "{what}"
                );
            }
            // Survives the writer and reader.
            let reread = CoreDump::parse(&dump.to_bytes()).unwrap();
            assert_eq!(reread.main_frames(), dump.main_frames());
        }
    }
}
