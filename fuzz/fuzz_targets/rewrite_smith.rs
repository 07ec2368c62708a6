//! `coredump_rewrite::rewrite` on wasm-smith modules: every output must
//! validate (the rewriter's own `verify` is switched off so that the check
//! here is independent of it).
#![no_main]

use arbitrary::Unstructured;
use coredump_rewrite::{Checks, Options, rewrite};
use libfuzzer_sys::fuzz_target;
use wasm_smith::{Config, Module};
use wasmparser::{Validator, WasmFeatures};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mut config) = u.arbitrary::<Config>() else {
        return;
    };
    // Stay within what the rewriter documents as supported: core Wasm with
    // the MVP-era proposals wasmtime 48 enables by default.
    config.threads_enabled = false;
    config.exceptions_enabled = false;
    config.gc_enabled = false;
    config.custom_page_sizes_enabled = false;
    config.wide_arithmetic_enabled = false;
    config.max_memories = config.max_memories.min(2);
    let Ok(module) = Module::new(config, &mut u) else {
        return;
    };
    let wasm = module.to_bytes();
    let checks = Checks {
        bounds: u.arbitrary().unwrap_or(false),
        ..Checks::default()
    };
    let opts = Options {
        checks,
        call_depth_limit: if u.arbitrary().unwrap_or(false) { Some(64) } else { None },
        verify: false,
        threads: 1,
        ..Options::default()
    };
    let Ok(out) = rewrite(&wasm, &opts) else {
        return;
    };
    if let Err(e) = Validator::new_with_features(WasmFeatures::all()).validate_all(&out.wasm) {
        panic!("rewritten module does not validate: {e}");
    }
});
