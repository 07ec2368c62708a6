//! Run-time overhead of the instrumentation on a CPU-bound program
//! (`benches/workload/cpu.c`: calls, division, float conversions, function
//! pointers, recursion, array traffic), under wasmtime and under node.
//! Prints the time of each variant and its ratio to the original. Target: at
//! most 5% with the default checks.

#[path = "../tests/common/mod.rs"]
mod common;
mod modules;

use std::process::Command;
use std::time::Instant;

use coredump_rewrite::{Checks, Options};

const RUNS: usize = 9;

fn main() {
    let original = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/workload/cpu.wasm"
    ))
    .expect("workload");
    let rounds = std::env::var("ROUNDS").unwrap_or_else(|_| "400".to_string());
    let mut variants: Vec<(&str, Vec<u8>)> = vec![
        ("original", original.clone()),
        (
            "default checks",
            rewrite(&original, Checks::default(), None),
        ),
        (
            "+ bounds checks",
            rewrite(
                &original,
                Checks {
                    bounds: true,
                    ..Checks::default()
                },
                None,
            ),
        ),
        (
            "+ call-depth guard",
            rewrite(&original, Checks::default(), Some(50_000)),
        ),
        (
            "+ both",
            rewrite(
                &original,
                Checks {
                    bounds: true,
                    ..Checks::default()
                },
                Some(50_000),
            ),
        ),
    ];
    if std::env::var_os("DETAIL").is_some() {
        let none = Checks {
            unreachable: false,
            div: false,
            trunc: false,
            call_indirect: false,
            bulk_memory: false,
            table: false,
            bounds: false,
        };
        variants.push((
            "only unreachable",
            rewrite(
                &original,
                Checks {
                    unreachable: true,
                    ..none
                },
                None,
            ),
        ));
        variants.push((
            "only div",
            rewrite(&original, Checks { div: true, ..none }, None),
        ));
        variants.push((
            "only trunc",
            rewrite(
                &original,
                Checks {
                    trunc: true,
                    ..none
                },
                None,
            ),
        ));
        variants.push((
            "only call_indirect",
            rewrite(
                &original,
                Checks {
                    call_indirect: true,
                    ..none
                },
                None,
            ),
        ));
    }
    let engine = common::engine();
    let args = vec![rounds.clone()];
    println!("wasmtime ({RUNS} runs each, median):");
    let mut base = 0.0;
    let mut expected = None;
    for (name, wasm) in &variants {
        let module = wasmtime::Module::new(&engine, wasm).expect("compile");
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let run = common::run_wasi(&engine, &module, &args);
            times.push(t.elapsed().as_secs_f64());
            assert_eq!(run.exit, Some(0), "{name}: {}", run.message);
            let out = String::from_utf8_lossy(&run.stdout).into_owned();
            assert_eq!(
                expected.get_or_insert_with(|| out.clone()),
                &out,
                "{name}: different output"
            );
        }
        let t = modules::median(&mut times);
        if base == 0.0 {
            base = t;
        }
        println!(
            "  {name:<20} {:>8.3} s  {:>+6.1}%  ({} bytes)",
            t,
            (t / base - 1.0) * 100.0,
            wasm.len()
        );
    }

    println!("node ({RUNS} runs each, median; includes node start-up):");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut base = 0.0;
    for (name, wasm) in &variants {
        let file = dir.path().join("cpu.wasm");
        std::fs::write(&file, wasm).expect("write");
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let out = Command::new(crash_fixtures::node_binary())
                .arg(common::node_script())
                .arg(&file)
                .arg(&rounds)
                .output();
            times.push(t.elapsed().as_secs_f64());
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => panic!(
                    "{name}: node failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) => {
                    println!("  node not available: {e}");
                    return;
                }
            }
        }
        let t = modules::median(&mut times);
        if base == 0.0 {
            base = t;
        }
        println!(
            "  {name:<20} {:>8.3} s  {:>+6.1}%",
            t,
            (t / base - 1.0) * 100.0
        );
    }
}

fn rewrite(wasm: &[u8], checks: Checks, depth: Option<u32>) -> Vec<u8> {
    coredump_rewrite::rewrite(
        wasm,
        &Options {
            checks,
            call_depth_limit: depth,
            ..Options::default()
        },
    )
    .expect("rewrite")
    .wasm
}
