//! Output size growth over the real-world modules (default checks, without
//! the offset map, and with the opt-in bounds checks), relative to the input without its DWARF (which
//! the rewriter removes). Prints a table, the median and the worst case.
//!
//!   cargo bench -p coredump-rewrite --bench size
//!   VALIDATE=1 cargo bench ...   also validate each output with the input's features

mod modules;

use coredump_rewrite::{Checks, Options};

fn main() {
    let paths = modules::all();
    if paths.is_empty() {
        println!(
            "no modules in {}: run crates/coredump-rewrite/scripts/fetch-modules.sh",
            modules::modules_dir().display()
        );
        return;
    }
    let validate = std::env::var_os("VALIDATE").is_some();
    let default = Options::default();
    let bounds = Options {
        checks: Checks {
            bounds: true,
            ..Checks::default()
        },
        ..Options::default()
    };
    let no_map = Options {
        offset_map: false,
        ..Options::default()
    };
    let mut growth_default = Vec::new();
    let mut growth_no_map = Vec::new();
    let mut growth_bounds = Vec::new();
    println!(
        "{:<62} {:>11} {:>11} {:>8} {:>8} {:>8} {:>8}",
        "module", "input", "no-debug", "default", "no-map", "bounds", "rewrite"
    );
    for path in &paths {
        let Ok(wasm) = std::fs::read(path) else {
            continue;
        };
        let base = modules::size_without_debug(&wasm) as f64;
        let t = std::time::Instant::now();
        let d = match coredump_rewrite::rewrite(&wasm, &default) {
            Ok(o) => o,
            Err(e) => {
                println!("{:<62} ERROR {e}", modules::short(path));
                continue;
            }
        };
        let ms = t.elapsed().as_millis();
        let b = coredump_rewrite::rewrite(&wasm, &bounds)
            .map(|o| o.wasm.len())
            .unwrap_or(0);
        let n = coredump_rewrite::rewrite(&wasm, &no_map)
            .map(|o| o.wasm.len())
            .unwrap_or(0);
        let gn = n as f64 / base - 1.0;
        growth_no_map.push(gn);
        let gd = d.wasm.len() as f64 / base - 1.0;
        let gb = b as f64 / base - 1.0;
        growth_default.push(gd);
        growth_bounds.push(gb);
        println!(
            "{:<62} {:>11} {:>11} {:>+7.1}% {:>+7.1}% {:>+7.1}% {:>6}ms",
            modules::short(path),
            wasm.len(),
            base as usize,
            gd * 100.0,
            gn * 100.0,
            gb * 100.0,
            ms
        );
        if validate {
            let features = minimal_features(&wasm);
            if let Err(e) = wasmparser::Validator::new_with_features(features).validate_all(&d.wasm)
            {
                println!("    INVALID with the input's features {features:?}: {e}");
            }
        }
    }
    let worst_d = growth_default.iter().copied().fold(f64::MIN, f64::max);
    let worst_b = growth_bounds.iter().copied().fold(f64::MIN, f64::max);
    println!(
        "\n{} modules. default checks: median {:+.1}%, worst {:+.1}% (targets: 25% / 60%)",
        growth_default.len(),
        modules::median(&mut growth_default) * 100.0,
        worst_d * 100.0
    );
    let worst_n = growth_no_map.iter().copied().fold(f64::MIN, f64::max);
    println!(
        "--no-offset-map:       median {:+.1}%, worst {:+.1}%",
        modules::median(&mut growth_no_map) * 100.0,
        worst_n * 100.0
    );
    println!(
        "with --bounds-checks:  median {:+.1}%, worst {:+.1}%",
        modules::median(&mut growth_bounds) * 100.0,
        worst_b * 100.0
    );
}

fn minimal_features(wasm: &[u8]) -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures;
    let mut features = WasmFeatures::all();
    for flag in (WasmFeatures::all() - WasmFeatures::FLOATS).iter() {
        let without = features - flag;
        if wasmparser::Validator::new_with_features(without)
            .validate_all(wasm)
            .is_ok()
        {
            features = without;
        }
    }
    features
}
