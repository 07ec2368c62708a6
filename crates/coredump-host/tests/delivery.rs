//! Spooling and delivery against a scripted collector on loopback.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use common::scripted_collector;
use coredump_host::{Collector, DUMP_SUFFIX, flush, pending_dumps, write_dump_atomically};

fn quick(url: String) -> Collector {
    let mut c = Collector::new(url, Some("secret".into()));
    c.first_backoff = Duration::from_millis(10);
    c.timeout = Duration::from_secs(5);
    c
}

fn spool_dumps(dir: &Path, n: usize) {
    for i in 0..n {
        write_dump_atomically(
            dir,
            &format!("app-{i}{DUMP_SUFFIX}"),
            format!("dump {i}").as_bytes(),
        )
        .unwrap();
    }
}

#[test]
fn dumps_wait_in_the_spool_while_the_collector_is_down_then_all_arrive() {
    let dir = tempfile::tempdir().unwrap();
    spool_dumps(dir.path(), 5);
    // Reserve a port, then close it: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let report = flush(&quick(url.clone()), dir.path()).unwrap();
    assert_eq!(report.pending.len(), 5, "{report:?}");
    assert!(report.delivered.is_empty());
    assert_eq!(pending_dumps(dir.path()).unwrap().len(), 5);

    // The collector comes up, first failing with 503s: retries get through.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let received = scripted_collector(listener, vec![503, 503, 201]);
    let report = flush(&quick(url), dir.path()).unwrap();
    assert_eq!(report.delivered.len(), 5, "{report:?}");
    assert!(pending_dumps(dir.path()).unwrap().is_empty());

    let received = received.lock().unwrap();
    let mut keys: Vec<_> = received.iter().map(|r| r.idempotency_key.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 5, "every dump once, each with its own key");
    for r in received.iter() {
        assert_eq!(r.authorization, "Bearer secret");
        assert_eq!(r.content_type, "application/wasm");
        let i: usize = r
            .idempotency_key
            .trim_start_matches("app-")
            .trim_end_matches(DUMP_SUFFIX)
            .parse()
            .unwrap();
        assert_eq!(r.body, format!("dump {i}").as_bytes());
    }
}

#[test]
fn rejected_dumps_are_marked_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    spool_dumps(dir.path(), 1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    scripted_collector(listener, vec![400]);
    let report = flush(&quick(url), dir.path()).unwrap();
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(report.rejected[0].1.contains("400"));
    assert!(pending_dumps(dir.path()).unwrap().is_empty());
    assert!(
        dir.path()
            .join(format!("app-0{DUMP_SUFFIX}.rejected"))
            .exists()
    );
    // The dump itself is kept.
    assert!(dir.path().join(format!("app-0{DUMP_SUFFIX}")).exists());
}
