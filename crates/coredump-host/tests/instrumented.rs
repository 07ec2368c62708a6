//! Modules instrumented by coredump-rewrite hand the host their own dump
//! through the ABI in `crates/coredump-rewrite/ABI.md`. These hand-written
//! modules play the instrumented module's part, so the host side is checked
//! on its own: the exports, 64-bit memories, the start-function trailer, and
//! the fallbacks to wasmtime's native dump.

mod common;

use coredump_host::{Capture, Exit, Host, HostOptions, RunRequest};
use wasm_coredump::{CoreDump, TrapKind};

/// Where the hand-written modules keep "their" dump.
const DUMP_AT: u64 = 8192;

/// A dump as the rewriter would have written it: two frames with locals, in
/// the input's coordinates, and `capture = coredump-rewrite`.
fn rewriter_dump() -> Vec<u8> {
    let host = Host::new(HostOptions {
        capture: Capture::GuestDebug,
        ..HostOptions::default()
    })
    .unwrap();
    let outcome = host
        .run(&RunRequest::new("input.wasm", common::crash_module()))
        .unwrap();
    let mut dump = outcome.crash.unwrap().dump.unwrap();
    dump.threads[0].frames.truncate(2);
    dump.modules[0].path = None;
    dump.info = vec![("capture".into(), "coredump-rewrite".into())];
    dump.to_bytes()
}

/// A module exporting the ABI whose `_start` "writes" `dump` (a data
/// segment), sets the accessors to `(ptr, len)` and traps with `unreachable`.
fn abi_module(dump: &[u8], ptr: u64, len: u64, memory64: bool) -> Vec<u8> {
    let (ty, idx) = if memory64 {
        ("i64", "i64")
    } else {
        ("i32", "i32")
    };
    let pages = (DUMP_AT + dump.len() as u64).div_ceil(65536);
    let wat = format!(
        r#"(module
  (memory (export "__coredump_memory") {mem_ty} {pages})
  (global $ptr (mut {ty}) ({ty}.const 0))
  (global $len (mut {ty}) ({ty}.const 0))
  (data ({idx}.const {DUMP_AT}) "{data}")
  (func (export "__coredump_ptr") (result {ty}) global.get $ptr)
  (func (export "__coredump_len") (result {ty}) global.get $len)
  (func $fail
    (global.set $ptr ({ty}.const {ptr}))
    (global.set $len ({ty}.const {len}))
    unreachable)
  (func (export "_start") call $fail))"#,
        mem_ty = if memory64 { "i64" } else { "" },
        data = common::wat_bytes(dump),
    );
    wat::parse_str(&wat).unwrap()
}

fn run(wasm: Vec<u8>, capture: Capture) -> coredump_host::RunOutcome {
    let host = Host::new(HostOptions {
        capture,
        ..HostOptions::default()
    })
    .unwrap();
    let mut request = RunRequest::new("app.wasm", wasm);
    request.path = Some("/srv/app.wasm".into());
    request.context = vec![("request.method".into(), "GET".into())];
    host.run(&request).unwrap()
}

#[test]
fn the_modules_own_dump_is_used() {
    let written = rewriter_dump();
    let expected = CoreDump::parse(&written).unwrap();
    for memory64 in [false, true] {
        for capture in [Capture::Native, Capture::GuestDebug] {
            let what = format!("memory64 {memory64}, {capture:?}");
            let module = abi_module(&written, DUMP_AT, written.len() as u64, memory64);
            let outcome = run(module, capture);
            assert_eq!(outcome.exit, Exit::Trap, "{what}");
            let crash = outcome.crash.unwrap();
            assert_eq!(crash.kind, TrapKind::Unreachable, "{what}");
            assert_eq!(crash.dump_error, None, "{what}");
            let dump = crash.dump.unwrap();
            // The module's frames (two, with locals), not wasmtime's.
            assert_eq!(dump.main_frames(), expected.main_frames(), "{what}");
            assert!(!dump.main_frames()[0].locals.is_empty());
            assert_eq!(dump.info("capture"), Some("coredump-rewrite"), "{what}");
            // The module's own trap, plus the host's facts.
            assert_eq!(
                dump.trap.as_ref().map(|t| &t.kind),
                Some(&TrapKind::IntegerDivideByZero)
            );
            assert_eq!(dump.modules[0].path.as_deref(), Some("/srv/app.wasm"));
            assert_eq!(dump.info("request.method"), Some("GET"));
            assert!(dump.info("host").is_some());
            assert_eq!(
                dump.memory(0).unwrap().read(100, 13).unwrap(),
                b"request state"
            );
        }
    }
}

#[test]
fn no_dump_from_the_module_falls_back_to_wasmtimes() {
    let written = rewriter_dump();
    let outcome = run(abi_module(&written, 0, 0, false), Capture::Native);
    let crash = outcome.crash.unwrap();
    assert_eq!(crash.dump_error, None);
    let dump = crash.dump.unwrap();
    assert_eq!(dump.info("capture"), Some("wasmtime-native"));
    assert!(dump.info("instrumented").is_some(), "{:?}", dump.info);
    assert_eq!(dump.trap.as_ref().unwrap().kind, TrapKind::Unreachable);
    assert_eq!(dump.main_frames().len(), 2, "$fail and _start");
}

#[test]
fn a_bad_pointer_is_reported_and_the_native_dump_kept() {
    let written = rewriter_dump();
    for (ptr, len) in [(u64::from(u32::MAX) - 4, 64), (DUMP_AT, 1 << 30)] {
        let outcome = run(abi_module(&written, ptr, len, false), Capture::Native);
        let crash = outcome.crash.unwrap();
        let why = crash.dump_error.unwrap();
        assert!(why.contains("outside its memory"), "{why}");
        assert_eq!(crash.dump.unwrap().info("capture"), Some("wasmtime-native"));
    }
    // Bytes that are not a dump.
    let outcome = run(
        abi_module(b"not a dump", DUMP_AT, 10, false),
        Capture::Native,
    );
    let crash = outcome.crash.unwrap();
    assert!(crash.dump_error.unwrap().contains("did not parse"));
    assert!(crash.dump.is_some());
}

#[test]
fn a_trapping_start_function_leaves_a_trailer() {
    let written = rewriter_dump();
    let len = written.len();
    let pages = (DUMP_AT as usize + len).div_ceil(65536) + 1;
    let end = pages * 65536;
    let wat = format!(
        r#"(module
  (memory (export "__coredump_memory") {pages})
  (data (i32.const {DUMP_AT}) "{data}")
  (func (export "__coredump_ptr") (result i32) i32.const 0)
  (func (export "__coredump_len") (result i32) i32.const 0)
  (func $init
    (i64.store (i32.const {addr_at}) (i64.const {DUMP_AT}))
    (i32.store (i32.const {len_at}) (i32.const {len}))
    (i32.store (i32.const {magic_at}) (i32.const 0x31444357))
    unreachable)
  (start $init)
  (func (export "_start")))"#,
        data = common::wat_bytes(&written),
        addr_at = end - 16,
        len_at = end - 8,
        magic_at = end - 4,
    );
    let outcome = run(wat::parse_str(&wat).unwrap(), Capture::Native);
    let crash = outcome.crash.unwrap();
    assert_eq!(crash.dump_error, None);
    let dump = crash.dump.unwrap();
    assert_eq!(dump.info("capture"), Some("coredump-rewrite"));
    assert_eq!(
        dump.main_frames(),
        CoreDump::parse(&written).unwrap().main_frames()
    );

    // With capture off, nothing is fetched.
    let outcome = run(
        abi_module(&written, DUMP_AT, len as u64, false),
        Capture::Off,
    );
    let crash = outcome.crash.unwrap();
    assert!(crash.dump.is_none() && crash.dump_error.is_none());
}

#[test]
fn accessors_that_never_return_are_stopped() {
    let wat = r#"(module
  (memory (export "__coredump_memory") 1)
  (func (export "__coredump_ptr") (result i32) i32.const 0)
  (func (export "__coredump_len") (result i32) (loop $l (br $l)) i32.const 0)
  (func (export "_start") unreachable))"#;
    let wasm = wat::parse_str(wat).unwrap();
    for options in [
        HostOptions {
            timeout: Some(std::time::Duration::from_millis(200)),
            ..HostOptions::default()
        },
        HostOptions {
            fuel: Some(10_000_000),
            ..HostOptions::default()
        },
    ] {
        let host = Host::new(options.clone()).unwrap();
        let started = std::time::Instant::now();
        let outcome = host
            .run(&RunRequest::new("app.wasm", wasm.clone()))
            .unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let crash = outcome.crash.unwrap();
        assert_eq!(crash.kind, TrapKind::Unreachable, "{options:?}");
        let why = crash.dump_error.unwrap();
        assert!(why.contains("__coredump_len failed"), "{why}");
        assert_eq!(crash.dump.unwrap().info("capture"), Some("wasmtime-native"));
    }
}
