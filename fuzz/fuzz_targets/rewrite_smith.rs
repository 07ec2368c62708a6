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
    // Every feature wasm-smith offers: the rewriter validates its input
    // with `WasmFeatures::all()` and documents that nothing it accepts makes
    // it panic or emit an invalid module.
    config.max_memories = config.max_memories.min(4);
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
