//! Differential runs of the rewriter on a fixed set of `wasm-smith` modules
//! (the same generator the `rewrite_differential` fuzz target uses): every
//! compared run must behave like the original, and enough of them must
//! return, trap and leave dumps for the check to mean something.

use arbitrary::Unstructured;
use coredump_rewrite::Checks;
use rewrite_differential::{Differential, Settings, Tally, arbitrary_module};

/// Deterministic bytes for module `seed` (xorshift64*).
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn sweep(settings: Settings, seeds: std::ops::Range<u64>) -> (Tally, usize, usize) {
    let differential = Differential::new(settings).expect("engine");
    let mut total = Tally::default();
    let (mut compared, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for seed in seeds {
        let data = bytes(seed, 8192);
        let mut u = Unstructured::new(&data);
        let Ok(wasm) = arbitrary_module(&mut u) else {
            continue;
        };
        match differential.check(&wasm, &mut u) {
            Ok(Tally {
                skipped: Some(why), ..
            }) => {
                skipped += 1;
                if std::env::var_os("SHOW_SKIPPED").is_some() {
                    println!("seed {seed} skipped: {why}");
                }
            }
            Ok(tally) => {
                compared += 1;
                total.add(&tally);
            }
            Err(mismatch) => {
                let path = std::env::temp_dir().join(format!("rewrite-differential-{seed}.wasm"));
                let _ = std::fs::write(&path, &wasm);
                failures.push(format!("seed {seed} ({}): {mismatch}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("compared {compared} modules, skipped {skipped}: {total:?}");
    (total, compared, skipped)
}

#[test]
fn default_checks_behave_like_the_original() {
    let (total, compared, skipped) = sweep(Settings::default(), 0..1000);
    assert!(
        compared >= 800,
        "only {compared} modules compared ({skipped} skipped)"
    );
    assert!(total.returned >= 200, "{total:?}");
    assert!(total.trapped >= 100, "{total:?}");
    assert!(total.dumps >= 50, "{total:?}");
    assert!(total.mapped >= 50, "{total:?}");
}

#[test]
fn bounds_checks_and_call_depth_guard_behave_like_the_original() {
    let settings = Settings {
        checks: Checks {
            bounds: true,
            ..Checks::default()
        },
        call_depth_limit: Some(200),
        ..Settings::default()
    };
    let (total, compared, _) = sweep(settings, 1000..1500);
    assert!(compared >= 400, "only {compared} modules compared");
    assert!(total.dumps >= 40, "{total:?}");
}
