//! Opening a large module and symbolicating a backtrace must stay cheap:
//! the symbolicator may parse unit headers, but only the units the
//! backtrace lands in. Timed on the largest fixture (about 7 MB of DWARF).

mod common;

use std::time::{Duration, Instant};

use crash_fixtures::{Manifest, run_under_node};
use wasm_symbolicate::{DebugInfoLocator, Symbolicator};

#[test]
fn a_backtrace_on_a_large_module_is_quick() {
    let manifest = Manifest::load().expect("manifest");
    let program = manifest.program("rust-debug").expect("rust-debug");
    let mode = program.mode("divide-by-zero").expect("mode");
    let run = run_under_node(program, &mode.args).expect("node");
    let frames = common::v8_frames(&run.stderr);

    let start = Instant::now();
    let symbols = Symbolicator::open(program.wasm_path(), &DebugInfoLocator::new()).expect("opens");
    let opened = start.elapsed();
    let mut backtrace = Vec::new();
    for (_, offset) in &frames {
        backtrace.extend(
            symbols
                .symbolicate_module_offset(*offset)
                .expect("symbolicates")
                .1,
        );
    }
    let total = start.elapsed();
    eprintln!("open {opened:?}, open + {} frames {total:?}", frames.len());
    common::match_frames(&backtrace, &mode.frames).expect("frames match");
    // Generous: an unoptimised test build on a busy 2-core machine. Parsing
    // every unit's functions instead takes several times longer.
    assert!(total < Duration::from_secs(3), "took {total:?}");

    // For scale: walking every unit (what `info functions` does).
    let start = Instant::now();
    let all = symbols.functions().expect("functions");
    eprintln!("all {} functions: {:?}", all.len(), start.elapsed());
}
