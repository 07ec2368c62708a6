//! wasmgdb's command parser and expression evaluator against one fixed
//! dump: the session is opened once (fixture module + dump written by
//! `coredump-host run --capture guest-debug ... divide-by-zero`, see
//! fuzz/fixtures/README.md) and each input line is a command for
//! `Session::execute`. Override the files with WASMGDB_FUZZ_MODULE and
//! WASMGDB_FUZZ_CORE.
#![no_main]

use std::cell::RefCell;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use wasmgdb::{Options, Session};

fn path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(default))
}

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new({
        let module = path("WASMGDB_FUZZ_MODULE", "../fixtures/c/crash-O0.wasm");
        let core = path("WASMGDB_FUZZ_CORE", "fixtures/crash-O0-divide-by-zero.core.wasm");
        Session::open(&module, &core, Options::default())
            .unwrap_or_else(|e| panic!("cannot open {} with {}: {e}", module.display(), core.display()))
    });
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    SESSION.with(|session| {
        let mut session = session.borrow_mut();
        for line in text.lines().take(8) {
            let mut out = String::new();
            let _ = session.execute(line, &mut out);
        }
    });
});
