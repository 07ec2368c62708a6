//! A run's own limits (`RunRequest::limits`) over the host's.

mod common;

use std::time::{Duration, Instant};

use common::{grow_module, spin_module};
use coredump_host::{Exit, Host, HostOptions, RunRequest};
use wasm_coredump::TrapKind;

#[test]
fn a_run_timeout_needs_a_host_with_one_and_then_wins() {
    let mut request = RunRequest::new("spin.wasm", spin_module());
    request.limits.timeout = Some(Duration::from_millis(50));

    let untimed = Host::new(HostOptions::default()).unwrap();
    let err = untimed.run(&request).unwrap_err().to_string();
    assert!(err.contains("per-run timeout"), "{err}");

    let timed = Host::new(HostOptions {
        timeout: Some(Duration::from_secs(120)),
        ..HostOptions::default()
    })
    .unwrap();
    let started = Instant::now();
    let outcome = timed.run(&request).unwrap();
    assert_eq!(outcome.exit, Exit::Trap);
    assert_eq!(outcome.crash.map(|c| c.kind), Some(TrapKind::Interrupt));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_run_memory_cap_overrides_the_hosts() {
    // 1 + 32 pages: 2.1 MiB.
    let host = Host::new(HostOptions {
        max_memory_bytes: Some(4 << 20),
        ..HostOptions::default()
    })
    .unwrap();
    let mut request = RunRequest::new("grow.wasm", grow_module(32));
    assert_eq!(host.run(&request).unwrap().exit, Exit::Code(0));
    request.limits.max_memory_bytes = Some(1 << 20);
    let outcome = host.run(&request).unwrap();
    assert_eq!(outcome.exit, Exit::Trap);
    assert_eq!(outcome.crash.map(|c| c.kind), Some(TrapKind::Unreachable));
}
