//! Ctrl-C during a command stops the command, not the session, as in gdb.
//! Its own test binary: the request is process-wide.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{dumps, path_str};
use wasmgdb::{Error, Options, Session, interrupt};

#[test]
fn a_requested_stop_ends_the_command_and_the_next_one_runs() {
    let program_dumps = dumps("c-O0");
    let dump = &program_dumps.modes["abort"].guest;
    let mut session = Session::open(&program_dumps.program.wasm_path(), dump, Options::default())
        .expect("session opens");

    interrupt::request();
    let mut out = String::new();
    let stopped = session.execute("bt", &mut out);
    assert!(
        matches!(stopped, Err(Error::Interrupted)),
        "bt after Ctrl-C: {stopped:?}\n{out}"
    );
    assert_eq!(Error::Interrupted.to_string(), "Quit");
    assert!(!out.contains("main"), "bt ran on after the stop:\n{out}");
    let mut out = String::new();
    let stopped = session.execute("find 0, +65536, (char)0", &mut out);
    assert!(
        matches!(stopped, Err(Error::Interrupted)),
        "find: {stopped:?}"
    );

    // The REPL clears the request before the next command.
    interrupt::clear();
    let mut out = String::new();
    session.execute("bt", &mut out).expect("bt runs");
    assert!(out.contains("fail_abort") && out.contains("main"), "{out}");
}

/// Ctrl-C (SIGINT, the terminal no longer raw) while a long command runs
/// stops the command: `Quit`, the prompt again, and the next command runs.
/// The command is a `find` over a dump whose memory is 4 GiB, almost all of
/// it zeros the sparse dump does not store, which takes many seconds.
#[test]
fn ctrl_c_stops_a_long_command_not_the_session() {
    let program_dumps = dumps("c-O0");
    let home = tempfile::tempdir().expect("tempdir");
    let original = std::fs::read(&program_dumps.modes["abort"].guest).expect("dump");
    let mut dump = wasm_coredump::CoreDump::parse(&original).expect("dump parses");
    let small = &dump.memories[0];
    let mut limits = *small.limits();
    limits.pages = 65536;
    limits.maximum = None;
    let mut big = wasm_coredump::Memory::new(limits);
    for region in small.regions() {
        big.write(region.address, &region.bytes)
            .expect("region fits");
    }
    dump.memories[0] = big;
    let dump_path = home.path().join("big.core.wasm");
    std::fs::write(&dump_path, dump.to_bytes()).expect("write dump");

    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmgdb"));
    command
        .arg(path_str(&program_dumps.program.wasm_path()))
        .arg(path_str(&dump_path))
        .env("WASMGDB_HISTORY", home.path().join("history"))
        .env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(command, Some(20_000)).expect("spawns");
    p.exp_string("(wasmgdb) ").expect("prompt");
    std::thread::sleep(Duration::from_millis(300));
    p.send_line("find 0, +4294967295, (char)7, (char)1, (char)7, (char)9")
        .expect("send");
    std::thread::sleep(Duration::from_millis(700));
    p.send_control('c').expect("ctrl-c");
    p.exp_string("Quit").expect("the find stops at Ctrl-C");
    p.exp_string("(wasmgdb) ").expect("prompt");
    p.send_line("bt").expect("send");
    p.exp_string("fail_abort")
        .expect("the session lives on and bt runs");
    p.exp_string("(wasmgdb) ").expect("prompt");
    p.send_line("quit").expect("quit");
    p.exp_eof().expect("exits");
}
