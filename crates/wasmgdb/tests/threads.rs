//! `thread N` and `info threads` on a dump with two threads, as runtimes with
//! wasi-threads write them (one `corestack` section per thread). The second
//! thread here is the first one's callers (`process` down to `main`), so its
//! frames and variables are known from the fixture manifest.

mod common;

use common::dumps;
use crash_fixtures::function_name_matches;
use wasm_coredump::{CoreDump, Thread};
use wasmgdb::{Options, Session};

fn run(session: &mut Session, command: &str) -> String {
    let mut out = String::new();
    session
        .execute(command, &mut out)
        .unwrap_or_else(|e| panic!("{command}: {e}"));
    out
}

#[test]
fn thread_switches_every_frame_command_to_that_thread() {
    let program_dumps = dumps("c-O0");
    let module = program_dumps.program.wasm_path();
    let mode = program_dumps.program.mode("abort").expect("abort mode");
    let original = std::fs::read(&program_dumps.modes["abort"].guest).expect("dump");

    // Where `process` (the manifest's frame 2) is among the Wasm frames.
    let session = Session::open(
        &module,
        &program_dumps.modes["abort"].guest,
        Options::default(),
    )
    .expect("session opens");
    let process = session
        .frames()
        .iter()
        .find(|f| function_name_matches(&mode.frames[2].function, f.source.function_name()))
        .map(|f| f.physical)
        .expect("process is in the backtrace");

    let mut dump = CoreDump::parse(&original).expect("dump parses");
    let callers = dump.threads[0].frames[process..].to_vec();
    dump.threads.push(Thread {
        name: "worker".into(),
        frames: callers,
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("two-threads.core.wasm");
    std::fs::write(&path, dump.to_bytes()).expect("write dump");
    let mut session = Session::open(&module, &path, Options::default()).expect("session opens");

    let threads = run(&mut session, "info threads");
    assert!(threads.contains("* 1    Thread 1 \"main\""), "{threads}");
    assert!(
        threads.contains("  2    Thread 2 \"worker\" process"),
        "{threads}"
    );
    assert!(run(&mut session, "thread").contains("[Current thread is 1"));

    let switched = run(&mut session, "thread 2");
    assert!(
        switched.starts_with("[Switching to thread 2 (\"worker\")]"),
        "{switched}"
    );
    assert!(switched.contains("process"), "{switched}");
    let bt = run(&mut session, "bt");
    let first: Vec<&str> = bt.lines().take(3).collect();
    for (line, expected) in first.iter().zip(&mode.frames[2..]) {
        assert!(
            line.contains(&expected.function)
                && line.contains(&format!("crash.c:{}", expected.line)),
            "{line} is not {expected:?}:\n{bt}"
        );
    }
    // The manifest's frame 3 (run_mode) is this thread's frame 1.
    run(&mut session, "frame 1");
    let printed = run(&mut session, "print mode");
    assert!(printed.contains("\"abort\""), "{printed}");
    let threads = run(&mut session, "info threads");
    // Thread 1's youngest Wasm frame is libc's `abort`, below fail_abort.
    assert!(
        threads.contains("  1    Thread 1 \"main\" abort"),
        "{threads}"
    );
    assert!(threads.contains("* 2    Thread 2 \"worker\""), "{threads}");

    // Back to the thread that trapped.
    run(&mut session, "thread 1");
    let bt = run(&mut session, "bt");
    assert!(
        bt.contains("fail_abort") && bt.contains("crash.c:96"),
        "{bt}"
    );
    run(&mut session, "frame function fail_abort");
    let printed = run(&mut session, "print code");
    assert!(printed.contains("= 60"), "{printed}");

    for bad in ["thread 3", "thread 0", "thread two"] {
        let mut out = String::new();
        let err = session.execute(bad, &mut out).unwrap_err().to_string();
        assert!(err.starts_with("Invalid thread ID"), "{bad}: {err}");
    }
}
