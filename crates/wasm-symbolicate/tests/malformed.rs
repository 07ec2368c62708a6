//! Malformed DWARF and garbage modules give errors, never panics: a few
//! hundred deterministic mutations of the smallest fixture, each pushed
//! through every entry point.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crash_fixtures::Manifest;
use wasm_coredump::{CodeLocation, ModuleLayout};
use wasm_symbolicate::{DebugInfoLocator, Error, ModuleFile, Symbolicator};

/// A frame with made-up locals and globals and no memory, so that location
/// expressions run to the end.
struct NoState;

impl wasm_symbolicate::variables::FrameState for NoState {
    fn local(&self, index: u32) -> Option<wasm_coredump::Value> {
        Some(wasm_coredump::Value::I32(index as i32 * 16))
    }
    fn global(&self, _: u32) -> Option<wasm_coredump::Value> {
        Some(wasm_coredump::Value::I32(0x1000))
    }
    fn stack(&self, _: u32) -> Option<wasm_coredump::Value> {
        None
    }
    fn memory(&self) -> Option<&wasm_coredump::Memory> {
        None
    }
}

/// xorshift64*: deterministic, so a failure names a reproducible iteration.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn original() -> Vec<u8> {
    let manifest = Manifest::load().expect("manifest");
    manifest
        .program("c-O0")
        .expect("c-O0")
        .wasm_bytes()
        .expect("module")
}

/// Uses every lookup; errors are fine, panics are not. Returns the number
/// of frames and functions answered and the number of errors reporting
/// malformed input.
fn exercise(bytes: Vec<u8>, debug: Option<Vec<u8>>, rng: &mut Rng) -> (usize, usize) {
    let Ok(module) = ModuleFile::from_bytes(bytes, None) else {
        return (0, 1);
    };
    let symbols = match debug {
        Some(debug) => Symbolicator::with_debug_bytes(module, debug.into(), "mutated"),
        None => Symbolicator::new(module, &DebugInfoLocator::new()),
    };
    let Ok(symbols) = symbols else { return (0, 1) };
    let layout = symbols.layout().clone();
    let mut answered = 0;
    let mut errors = 0;
    for _ in 0..24 {
        let function =
            layout.imported_functions() + rng.below(layout.function_count() as usize + 2) as u32;
        let size = layout.function_body(function).map_or(8, |b| b.len());
        let location = CodeLocation {
            function,
            offset: rng.below(size + 2) as u32,
        };
        match symbols.symbolicate(location) {
            Ok(frames) => {
                answered += frames.len();
                for frame in frames {
                    let _ = frame.to_string();
                }
            }
            // Random offsets fall outside bodies too; count malformed-input errors only.
            Err(Error::Offset(_)) => {}
            Err(err) => {
                errors += 1;
                let _ = err.to_string();
            }
        }
        let _ = symbols.function_name(function);
        if let Ok(scopes) = symbols.frame_variables(location, &NoState) {
            for scope in scopes {
                for variable in scope.variables {
                    let _ = variable.display_value(None);
                }
            }
        }
    }
    match symbols.functions() {
        Ok(functions) => answered += functions.len(),
        Err(_) => errors += 1,
    }
    let _ = symbols.source().to_string();
    (answered, errors)
}

fn run(iterations: u64, mutate: impl Fn(&[u8], &mut Rng) -> (Vec<u8>, Option<Vec<u8>>)) {
    let original = original();
    let mut answered = 0;
    let mut errors = 0;
    for i in 0..iterations {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i + 1).wrapping_mul(0x1234_5678_9abc_def1));
        let (bytes, debug) = mutate(&original, &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(bytes, debug, &mut rng)));
        match outcome {
            Ok((n, e)) => {
                answered += n;
                errors += e;
            }
            Err(_) => panic!("iteration {i} panicked (see the message above)"),
        }
    }
    // The mutations must leave most lookups working, or nothing was tested.
    // The mutations must leave many lookups working and make some fail, or
    // they tested nothing.
    assert!(answered > iterations as usize, "only {answered} answers");
    assert!(errors > 0, "no mutation was detected");
    eprintln!("{iterations} iterations: {answered} answers, {errors} errors");
}

fn debug_ranges(module: &[u8]) -> Vec<std::ops::Range<usize>> {
    let layout = ModuleLayout::parse(module).expect("layout");
    layout
        .custom_sections()
        .iter()
        .filter(|(name, _)| name.starts_with(".debug_"))
        .map(|(_, range)| range.clone())
        .collect()
}

#[test]
fn mutated_dwarf_sections() {
    let ranges = debug_ranges(&original());
    run(300, |original, rng| {
        let mut bytes = original.to_vec();
        let range = &ranges[rng.below(ranges.len())];
        for _ in 0..1 + rng.below(8) {
            let at = range.start + rng.below(range.len());
            bytes[at] = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                2 => bytes[at] ^ (1 << rng.below(8)),
                _ => rng.next() as u8,
            };
        }
        (bytes, None)
    });
}

#[test]
fn mutated_external_debug_file() {
    let ranges = debug_ranges(&original());
    run(100, |original, rng| {
        let mut debug = original.to_vec();
        let range = &ranges[rng.below(ranges.len())];
        // Zero or smear a whole run: breaks headers and lengths wholesale.
        let start = range.start + rng.below(range.len());
        let len = 1 + rng.below(64);
        let fill = rng.next() as u8;
        for b in debug
            .iter_mut()
            .skip(start)
            .take(len.min(range.end - start))
        {
            *b = fill;
        }
        (original.to_vec(), Some(debug))
    });
}

#[test]
fn garbage_modules() {
    run(200, |original, rng| {
        let mut bytes = original.to_vec();
        match rng.below(3) {
            // Flip bytes anywhere, section headers included.
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(bytes.len());
                    bytes[at] = rng.next() as u8;
                }
            }
            // Truncate.
            1 => bytes.truncate(rng.below(bytes.len())),
            // A valid header followed by noise.
            _ => {
                bytes.truncate(8 + rng.below(64));
                for b in bytes.iter_mut().skip(8) {
                    *b = rng.next() as u8;
                }
            }
        }
        (bytes, None)
    });
}
