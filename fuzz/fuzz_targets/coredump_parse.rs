//! `CoreDump::parse` on arbitrary bytes; whatever parses must survive a
//! `to_bytes` round trip: the re-encoded dump parses again, to an equal model,
//! and encoding that again gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_coredump::CoreDump;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = CoreDump::parse(data) else {
        return;
    };
    let bytes = dump.to_bytes();
    let again = CoreDump::parse(&bytes)
        .unwrap_or_else(|e| panic!("re-encoded dump does not parse: {e}"));
    assert_eq!(dump, again, "parse(to_bytes(parse(x))) differs from parse(x)");
    let bytes2 = again.to_bytes();
    let third = CoreDump::parse(&bytes2)
        .unwrap_or_else(|e| panic!("twice re-encoded dump does not parse: {e}"));
    assert_eq!(again, third, "round trip changed the model");
    assert_eq!(bytes, bytes2, "encoding is not stable");
});
