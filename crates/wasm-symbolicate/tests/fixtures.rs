//! End to end against the crash fixtures: every program and crash mode is
//! run under node, V8's `wasm-function[N]:0xOFF` frames (whole-module
//! offsets) are converted to dump code locations and symbolicated with the
//! module's embedded DWARF, and the manifest's expected frames must appear
//! as a contiguous run of the symbolicated backtrace (inlined frames
//! expanded), starting at the first frame named like `frames[0]`.

mod common;

use crash_fixtures::{Manifest, Program, function_name_matches, run_under_node};
use wasm_symbolicate::{DebugInfoLocator, DebugInfoSource, SourceFrame, Symbolicator};

/// One line of a symbolicated backtrace.
struct Line {
    frame: SourceFrame,
    module_offset: u64,
}

impl Line {
    fn describe(&self) -> String {
        format!(
            "{} {}:{} @{:#x}{}",
            self.frame.function_name(),
            self.frame.file_name().unwrap_or("??"),
            self.frame.line.unwrap_or(0),
            self.module_offset,
            if self.frame.inlined { " [inlined]" } else { "" }
        )
    }
}

fn check_program(id: &str) {
    check_in(&Manifest::load().expect("manifest loads"), id);
}

/// Checks every crashing mode of one program; returns how many backtrace
/// lines were inlined frames.
fn check_in(manifest: &Manifest, id: &str) -> usize {
    let program: &Program = manifest
        .program(id)
        .unwrap_or_else(|| panic!("no program {id}"));
    let symbols = Symbolicator::open(program.wasm_path(), &DebugInfoLocator::new())
        .expect("the fixture opens");
    assert_eq!(symbols.source(), &DebugInfoSource::Embedded);

    let mut failures = Vec::new();
    let mut checked = 0;
    let mut inlined = 0;
    for mode in program.modes.iter().filter(|m| m.crashes()) {
        let what = format!("{id} {}", mode.mode);
        let run = run_under_node(program, &mode.args)
            .unwrap_or_else(|e| panic!("{e}: node is needed to run the fixtures"));
        let v8 = common::v8_frames(&run.stderr);
        assert!(
            !v8.is_empty(),
            "{what}: no Wasm frames in node's output:\n{}",
            run.stderr
        );

        let mut backtrace = Vec::new();
        for (index, offset) in v8 {
            let (location, frames) = symbols
                .symbolicate_module_offset(offset)
                .unwrap_or_else(|e| panic!("{what}: symbolicating {offset}: {e}"));
            // The coordinate conversion must land in the function V8 names.
            assert_eq!(
                location.function, index,
                "{what}: {offset} is in function {index}"
            );
            backtrace.extend(frames.into_iter().map(|frame| Line {
                frame,
                module_offset: offset.0,
            }));
        }

        inlined += backtrace.iter().filter(|l| l.frame.inlined).count();
        if std::env::var_os("SHOW_BACKTRACES").is_some() {
            eprintln!("{what}:");
            for line in &backtrace {
                eprintln!("  {}", line.describe());
            }
        }
        let expected = &mode.frames;
        let shown = || {
            backtrace
                .iter()
                .map(Line::describe)
                .take(40)
                .collect::<Vec<_>>()
                .join("\n  ")
        };
        let Some(first) = backtrace
            .iter()
            .position(|l| function_name_matches(&expected[0].function, l.frame.function_name()))
        else {
            failures.push(format!(
                "{what}: no frame named {}\n  {}",
                expected[0].function,
                shown()
            ));
            continue;
        };
        for (i, want) in expected.iter().enumerate() {
            let got = backtrace.get(first + i);
            let ok = got.is_some_and(|l| {
                function_name_matches(&want.function, l.frame.function_name())
                    && l.frame.file_name() == Some(want.file.as_str())
                    && l.frame.line == Some(want.line)
            });
            if !ok {
                failures.push(format!(
                    "{what}: frame {i}: got {}, expected {} {}:{}\n  {}",
                    got.map_or("nothing".to_string(), Line::describe),
                    want.function,
                    want.file,
                    want.line,
                    shown()
                ));
                break;
            }
        }
        checked += 1;
    }
    assert!(checked > 0, "{id}: no crashing modes");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    inlined
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
    // The optimised Rust build inlines library code (panics, `Option::unwrap`,
    // `read_volatile`) into user frames: the chains must show it.
    assert!(check_in(&Manifest::load().expect("manifest loads"), "rust-O2") > 0);
}

#[test]
fn demo() {
    check_in(&Manifest::load_demo().expect("demo manifest"), "demo");
}
