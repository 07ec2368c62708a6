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

const RUNS: usize = 21;

fn main() {
    let original = std::fs::read(
        crash_fixtures::repo_root().join("crates/coredump-rewrite/benches/workload/cpu.wasm"),
    )
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
    let modules: Vec<wasmtime::Module> = variants
        .iter()
        .map(|(_, wasm)| wasmtime::Module::new(&engine, wasm).expect("compile"))
        .collect();
    let mut expected = None;
    let times = interleaved(variants.len(), |v| {
        let t = Instant::now();
        let run = common::run_wasi(&engine, &modules[v], &args);
        let elapsed = t.elapsed().as_secs_f64();
        let name = variants[v].0;
        assert_eq!(run.exit, Some(0), "{name}: {}", run.message);
        let out = String::from_utf8_lossy(&run.stdout).into_owned();
        assert_eq!(
            expected.get_or_insert_with(|| out.clone()),
            &out,
            "{name}: different output"
        );
        elapsed
    });
    println!(
        "wasmtime ({RUNS} interleaved rounds after a warm-up round; median time and median of the per-round ratios to the original):"
    );
    report(&variants, &times, true);

    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<_> = variants
        .iter()
        .enumerate()
        .map(|(v, (_, wasm))| {
            let file = dir.path().join(format!("cpu-{v}.wasm"));
            std::fs::write(&file, wasm).expect("write");
            file
        })
        .collect();
    let probe = Command::new(crash_fixtures::node_binary())
        .arg("--version")
        .output();
    if let Err(e) = probe {
        println!("node not available: {e}");
        return;
    }
    let times = interleaved(variants.len(), |v| {
        let t = Instant::now();
        let out = Command::new(crash_fixtures::node_binary())
            .arg(common::node_script())
            .arg(&files[v])
            .arg(&rounds)
            .output()
            .expect("node");
        let elapsed = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}: node failed: {}",
            variants[v].0,
            String::from_utf8_lossy(&out.stderr)
        );
        elapsed
    });
    println!("node ({RUNS} interleaved rounds; includes node start-up):");
    report(&variants, &times, false);
}

/// Runs every variant once to warm up, then `RUNS` rounds of every variant
/// in turn, so that drift in the machine's speed falls on all variants alike.
/// Returns each variant's times, round by round.
fn interleaved(variants: usize, mut run: impl FnMut(usize) -> f64) -> Vec<Vec<f64>> {
    for v in 0..variants {
        run(v);
    }
    let mut times = vec![Vec::with_capacity(RUNS); variants];
    for round in 0..RUNS {
        // Rotate the order too, so no variant always runs first.
        for k in 0..variants {
            let v = (k + round) % variants;
            times[v].push(run(v));
        }
    }
    times
}

/// Prints each variant's median time and its overhead over the original
/// (variant 0): the median of the per-round ratios (the figure held against
/// the target), and the ratio of the best times.
fn report(variants: &[(&str, Vec<u8>)], times: &[Vec<f64>], sizes: bool) {
    let base = &times[0];
    for (v, (name, wasm)) in variants.iter().enumerate() {
        let mut ratios: Vec<f64> = times[v]
            .iter()
            .zip(base)
            .map(|(t, b)| t / b - 1.0)
            .collect();
        let paired = modules::median(&mut ratios);
        let median = modules::median(&mut times[v].clone());
        let best = times[v].iter().copied().fold(f64::MAX, f64::min);
        let of_best = best / base.iter().copied().fold(f64::MAX, f64::min) - 1.0;
        let size = if sizes {
            format!("  ({} bytes)", wasm.len())
        } else {
            String::new()
        };
        println!(
            "  {name:<20} {median:>8.3} s  {:>+6.1}%   best {best:>6.3} s {:>+6.1}%{size}",
            paired * 100.0,
            of_best * 100.0,
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
