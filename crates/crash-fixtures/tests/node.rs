//! Runs every program and mode under node 20 (`fixtures/run-node.mjs`) and
//! checks that the run ends as the manifest says: in the expected trap, or
//! with the expected exit code and output.

use crash_fixtures::{Manifest, NodeRun, Program, run_under_node};

fn run(program: &Program, args: &[String]) -> NodeRun {
    run_under_node(program, args).unwrap_or_else(|e| {
        panic!("{e}: node 20 is needed to run the fixtures (set $NODE to its path if it is not on PATH)")
    })
}

fn check_program(manifest: &Manifest, id: &str) {
    let program = manifest
        .program(id)
        .unwrap_or_else(|| panic!("no program {id}"));
    let mut failures = Vec::new();
    for mode in &program.modes {
        let outcome = run(program, &mode.args);
        let what = format!("{} {}", program.id, mode.mode);
        match &mode.trap {
            Some(trap) => {
                if outcome.exit_code != Some(134) {
                    failures.push(format!(
                        "{what}: exit code {:?}, expected a trap\nstderr: {}",
                        outcome.exit_code, outcome.stderr
                    ));
                } else if !outcome.trap_kinds().contains(trap) {
                    failures.push(format!(
                        "{what}: node reported {:?}, expected {trap}\nstderr: {}",
                        outcome.error_line(),
                        outcome.stderr
                    ));
                }
            }
            None => {
                if outcome.exit_code != mode.exit_code {
                    failures.push(format!(
                        "{what}: exit code {:?}, expected {:?}\nstderr: {}",
                        outcome.exit_code, mode.exit_code, outcome.stderr
                    ));
                }
                if let Some(expected) = &mode.stdout
                    && &outcome.stdout != expected
                {
                    failures.push(format!(
                        "{what}: stdout {:?}, expected {expected:?}",
                        outcome.stdout
                    ));
                }
            }
        }
    }
    // A missing or unknown mode prints usage and exits 2.
    if program.id != "demo" {
        for args in [vec![], vec!["no-such-mode".to_owned()]] {
            let outcome = run(program, &args);
            if outcome.exit_code != Some(2) || !outcome.stderr.contains("usage") {
                failures.push(format!(
                    "{} {args:?}: expected usage and exit 2, got {:?}\nstderr: {}",
                    program.id, outcome.exit_code, outcome.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn fixtures() -> Manifest {
    Manifest::load().expect("manifest loads")
}

#[test]
fn c_o0_runs_as_expected() {
    check_program(&fixtures(), "c-O0");
}

#[test]
fn c_o2_runs_as_expected() {
    check_program(&fixtures(), "c-O2");
}

#[test]
fn zig_debug_runs_as_expected() {
    check_program(&fixtures(), "zig-Debug");
}

#[test]
fn zig_release_safe_runs_as_expected() {
    check_program(&fixtures(), "zig-ReleaseSafe");
}

#[test]
fn rust_debug_runs_as_expected() {
    check_program(&fixtures(), "rust-debug");
}

#[test]
fn rust_o2_runs_as_expected() {
    check_program(&fixtures(), "rust-O2");
}

#[test]
fn demo_runs_as_expected() {
    let demo = Manifest::load_demo().expect("demo manifest loads");
    check_program(&demo, "demo");
    let outcome = run(demo.program("demo").expect("demo program"), &[]);
    assert!(
        outcome.stderr.contains("attempt to multiply with overflow"),
        "demo panics on the overflow: {}",
        outcome.stderr
    );
}

#[test]
fn every_program_has_a_test_above() {
    let ids: Vec<String> = fixtures().programs.iter().map(|p| p.id.clone()).collect();
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
