//! An independent check of the lines wasmgdb shows: wasmtime's own DWARF
//! backtrace (`WasmBacktraceDetails::Enable`, what
//! `WASMTIME_BACKTRACE_DETAILS=1` turns on) for the same crash must name
//! the same file:line for every frame, inlined frames included.

mod common;

use common::{crash_cases, dumps};
use wasmgdb::{Options, Session};
use wasmtime::{Config, Engine, Linker, Module, Store, WasmBacktrace, WasmBacktraceDetails};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// wasmtime's (function index, offset in the body, [(file base name, line)]
/// innermost first) per frame.
type Frames = Vec<(u32, Option<u32>, Vec<(String, u32)>)>;

fn wasmtime_backtrace(engine: &Engine, module: &Module, args: &[String]) -> Frames {
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx).expect("wasi");
    let mut argv = vec!["crash".to_string()];
    argv.extend(args.iter().cloned());
    let wasi = WasiCtxBuilder::new().args(&argv).build_p1();
    let mut store = Store::new(engine, wasi);
    let instance = linker
        .instantiate(&mut store, module)
        .expect("instantiates");
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .expect("_start");
    let err = start.call(&mut store, ()).expect_err("the mode traps");
    let bt = err.downcast_ref::<WasmBacktrace>().expect("a backtrace");
    bt.frames()
        .iter()
        .map(|f| {
            let lines = f
                .symbols()
                .iter()
                .filter_map(|s| {
                    let file = s.file()?;
                    let base = file.rsplit(['/', '\\']).next().unwrap_or(file).to_string();
                    Some((base, s.line()?))
                })
                .collect();
            (f.func_index(), f.func_offset().map(|o| o as u32), lines)
        })
        .collect()
}

fn check(id: &str) {
    let mut config = Config::new();
    config.wasm_backtrace_details(WasmBacktraceDetails::Enable);
    config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(100_000));
    let engine = Engine::new(&config).expect("engine");
    let program_dumps = dumps(id);
    let wasm = program_dumps.program.wasm_bytes().expect("module");
    let module = Module::new(&engine, &wasm).expect("compiles");
    let mut failures = Vec::new();
    let mut compared = 0;
    for (_, mode) in crash_cases(id) {
        let theirs = wasmtime_backtrace(&engine, &module, &mode.args);
        let dump = &program_dumps.modes[&mode.mode].guest;
        let session = Session::open(&program_dumps.program.wasm_path(), dump, Options::default())
            .expect("opens");
        // Compare the youngest frames (deep recursions: the first 50).
        for (physical, (function, offset, lines)) in theirs.iter().enumerate().take(50) {
            let ours: Vec<_> = session
                .frames()
                .iter()
                .filter(|f| f.physical == physical)
                .collect();
            let Some(first) = ours.first() else {
                failures.push(format!(
                    "{id} {}: wasmgdb has no Wasm frame {physical}",
                    mode.mode
                ));
                break;
            };
            if first.location.function != *function {
                failures.push(format!(
                    "{id} {}: frame {physical} is function {} for wasmgdb, {function} for wasmtime",
                    mode.mode, first.location.function
                ));
                break;
            }
            // wasmtime reports a `br_if` folded with the `unreachable` it
            // guards; wasmgdb moves frame 0 to the `unreachable` (see the
            // session docs). Elsewhere the code offsets must be the same.
            let Some(offset) = *offset else { continue };
            if first.location.offset != offset
                && !(physical == 0 && mode.trap == Some(crash_fixtures::TrapKind::Unreachable))
            {
                failures.push(format!(
                    "{id} {}: frame {physical} at offset {:#x} for wasmgdb, {offset:#x} for wasmtime",
                    mode.mode, first.location.offset
                ));
            }
            if lines.is_empty() {
                continue;
            }
            // The lines wasmgdb gives wasmtime's code location.
            let location = wasm_coredump::CodeLocation {
                function: *function,
                offset,
            };
            let our_lines: Vec<(String, u32)> = session
                .symbols()
                .symbolicate(location)
                .expect("symbolicates")
                .iter()
                .filter_map(|f| Some((f.file_name()?.to_string(), f.line?)))
                .collect();
            compared += 1;
            if &our_lines != lines {
                failures.push(format!(
                    "{id} {} frame {physical}: wasmgdb {our_lines:?}, wasmtime {lines:?}",
                    mode.mode
                ));
            }
        }
    }
    assert!(compared > 0, "{id}: wasmtime gave no lines to compare");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn c_lines_agree_with_wasmtime() {
    check("c-O0");
    check("c-O2");
}

#[test]
fn zig_lines_agree_with_wasmtime() {
    check("zig-Debug");
    check("zig-ReleaseSafe");
}

#[test]
fn rust_lines_agree_with_wasmtime() {
    check("rust-debug");
    check("rust-O2");
    check("demo");
}
