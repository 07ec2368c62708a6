//! Differential execution of the rewriter on wasm-smith modules under
//! wasmtime (see `crates/rewrite-differential`): when the original does not
//! trap, the instrumented build returns the same results and leaves the same
//! exported state; when it traps, the instrumented build traps the same way
//! and its dump's top frame is the native trap's.
#![no_main]

use arbitrary::Unstructured;
use coredump_rewrite::Checks;
use libfuzzer_sys::fuzz_target;
use rewrite_differential::{Differential, Settings, arbitrary_module};
use std::sync::OnceLock;

/// One engine per setting, built once per process.
fn differential(bounds: bool, depth: bool) -> &'static Differential {
    static ENGINES: [OnceLock<Differential>; 4] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    ENGINES[usize::from(bounds) * 2 + usize::from(depth)].get_or_init(|| {
        let settings = Settings {
            checks: Checks {
                bounds,
                ..Checks::default()
            },
            call_depth_limit: depth.then_some(200),
            ..Settings::default()
        };
        Differential::new(settings).expect("wasmtime engine")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(bounds), Ok(depth)) = (u.arbitrary::<bool>(), u.arbitrary::<bool>()) else {
        return;
    };
    let Ok(wasm) = arbitrary_module(&mut u) else {
        return;
    };
    if let Err(mismatch) = differential(bounds, depth).check(&wasm, &mut u) {
        panic!("bounds checks {bounds}, call-depth guard {depth}: {mismatch}");
    }
});
