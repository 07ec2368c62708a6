//! `debuginfo_split::split` on arbitrary modules: on success both outputs
//! must validate with wasmparser (when the input itself validates).
#![no_main]

use debuginfo_split::{SplitOptions, split};
use libfuzzer_sys::fuzz_target;
use wasmparser::{Validator, WasmFeatures};

fn validate(bytes: &[u8]) -> wasmparser::Result<()> {
    Validator::new_with_features(WasmFeatures::all()).validate_all(bytes).map(|_| ())
}

fuzz_target!(|data: &[u8]| {
    let Ok(out) = split(data, &SplitOptions::default()) else {
        return;
    };
    // The split copies sections byte for byte: an invalid input gives an
    // invalid output, which is not the splitter's fault.
    if validate(data).is_err() {
        return;
    }
    if let Err(e) = validate(&out.stripped) {
        panic!("stripped module does not validate: {e}");
    }
    if let Err(e) = validate(&out.debug) {
        panic!("debug file does not validate: {e}");
    }
});
