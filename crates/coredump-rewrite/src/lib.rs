//! Instruments a WebAssembly module so that, when it traps, it writes a
//! complete spec core dump of itself (tool-conventions `Coredump.md`) before
//! trapping for real with the same trap kind.
//!
//! This is for engines with no native core dumps (V8 in node, browsers,
//! Cloudflare Workers): every host gets the dump by copying bytes out of
//! linear memory through a three-export ABI (see `ABI.md`).
//!
//! ```
//! let wasm = wat::parse_str(r#"(module (memory 1)
//!     (func (export "run") (param i32) (result i32)
//!         i32.const 10 local.get 0 i32.div_s))"#).unwrap();
//! let out = coredump_rewrite::rewrite(&wasm, &coredump_rewrite::Options::default())?;
//! wasmparser::validate(&out.wasm).unwrap();
//! assert!(out.report.counts.checked_sites >= 1);
//! # Ok::<(), coredump_rewrite::Error>(())
//! ```
//!
//! # How it works
//!
//! One streaming pass per function with `wasmparser` (validating as it
//! goes) and `wasm-encoder`; unchanged bytes are copied as they are.
//!
//! - **Trap sites** (`unreachable`, integer division, float-to-int
//!   conversions, `call_indirect`, bulk memory and table instructions, and
//!   optionally every load and store) get a check, inline where it is hot.
//!   When it would trap, the failing path records the trap kind and the
//!   operands and branches to the function's landing pad instead.
//! - **Unwinding**: every instrumented body is wrapped in blocks whose exit is
//!   a landing pad that writes the frame (function index, code offset in the
//!   *input* module, every parameter and local) and returns dummy results;
//!   after each call that may unwind, `br_if` on a global flag takes the
//!   caller to its own landing pad, passing the call's offset.
//! - **Roots**: exports, the start function and functions the host can reach
//!   through tables get wrappers; when unwinding reaches one, it finishes the
//!   dump (memories, globals) and re-executes an instruction that traps with
//!   the same kind.
//!
//! The analysis leaves functions that cannot reach a trap site untouched.

mod analysis;
mod asm;
mod emit;
mod error;
mod instrument;
mod layout;
mod module;
pub mod offsets;
mod parallel;
mod runtime;
mod sites;

use std::time::Instant;

pub use error::Error;
pub use instrument::Counts;
pub use runtime::TRAILER_MAGIC;

/// Export names of the ABI (see `ABI.md`).
pub mod abi {
    pub use crate::layout::{EXPORT_LEN, EXPORT_MEMORY, EXPORT_PTR};
    /// Bytes of the trailer at the very end of memory 0 after a dump
    /// (`u64` address, `u32` length, magic `WCD1`), for hosts that never get
    /// the instance (a trap in the start function).
    pub const TRAILER_LEN: usize = 16;
}

/// Which trap sites get checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    pub unreachable: bool,
    /// Integer division and remainder by zero, signed `MIN / -1`.
    pub div: bool,
    /// Non-saturating float-to-int conversions (NaN, out of range).
    pub trunc: bool,
    /// `call_indirect`: slot out of range, null, signature mismatch.
    pub call_indirect: bool,
    /// `memory.fill`, `memory.copy`, `memory.init` out of bounds.
    pub bulk_memory: bool,
    /// `table.get/set/fill/copy/init` out of bounds.
    pub table: bool,
    /// Every load and store (opt-in: it costs size and time).
    pub bounds: bool,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            unreachable: true,
            div: true,
            trunc: true,
            call_indirect: true,
            bulk_memory: true,
            table: true,
            bounds: false,
        }
    }
}

/// Rewriter settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Name recorded as the executable and module name in dumps.
    pub name: String,
    pub checks: Checks,
    /// Trap with `stack-overflow` (and dump) when Wasm calls nest deeper than this.
    pub call_depth_limit: Option<u32>,
    /// Validate the output before returning it.
    pub verify: bool,
    /// Keep the offset map (the `postmortem.offsets` section, see
    /// [`offsets`]), so that native dumps of traps the rewriter does not
    /// check can be put back in the input's coordinates. It adds about 3
    /// bytes per call or check in an instrumented function.
    pub offset_map: bool,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "module.wasm".to_string(),
            checks: Checks::default(),
            call_depth_limit: None,
            verify: true,
            offset_map: true,
            threads: 0,
        }
    }
}

/// What the rewrite did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub input_size: usize,
    pub output_size: usize,
    /// Bytes of DWARF, source-map and `external_debug_info` sections removed.
    pub debug_bytes_removed: usize,
    /// Defined functions in the input.
    pub functions: u32,
    pub counts: Counts,
    /// Wrappers added for exports, the start function and table slots.
    pub wrappers: u32,
    /// Helper functions added (the dump writer and checks).
    pub helpers: u32,
    /// Things the rewriter could not instrument; the output is still valid.
    pub warnings: Vec<String>,
    /// Time spent, in milliseconds: parse+analysis, rewrite, verify.
    pub timings_ms: [u128; 3],
}

/// The instrumented module and what was done.
#[derive(Debug, Clone)]
pub struct Output {
    pub wasm: Vec<u8>,
    pub report: Report,
}

/// Instruments `wasm`.
pub fn rewrite(wasm: &[u8], opts: &Options) -> Result<Output, Error> {
    let t0 = Instant::now();
    let mut input = module::Input::parse(wasm)?;
    for e in &input.exports {
        if [abi::EXPORT_PTR, abi::EXPORT_LEN, abi::EXPORT_MEMORY].contains(&e.name) {
            return Err(Error::AlreadyInstrumented(e.name.to_string()));
        }
    }
    // Function validators are handed to the workers one by one.
    let validators = std::sync::Mutex::new(
        std::mem::take(&mut input.validators)
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>(),
    );
    let plan = analysis::analyse(&input, opts)?;
    let lay = layout::Layout::new(&input, &plan, opts)?;
    let t1 = Instant::now();

    let ctx = instrument::Ctx {
        input: &input,
        plan: &plan,
        lay: &lay,
        opts,
    };
    let results = parallel::map(input.bodies.len(), opts.threads, |i| {
        let to_validate = validators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(i)
            .and_then(Option::take);
        let mut counts = Counts::default();
        let body = match to_validate {
            Some(v) => instrument::rewrite(&ctx, i, v, &mut counts),
            None => Err(Error::Limit("internal: function validator missing".into())),
        };
        body.map(|b| (b, counts))
    });
    let mut counts = Counts::default();
    let mut bodies = Vec::with_capacity(results.len());
    let mut offsets = offsets::OffsetMap {
        input_functions: input.imported_funcs + input.bodies.len() as u32,
        bodies: Vec::new(),
    };
    for (i, r) in results.into_iter().enumerate() {
        let (b, c) = r?;
        counts.add(&c);
        bodies.push(b.map(|(body, runs)| {
            offsets.bodies.push((input.imported_funcs + i as u32, runs));
            body
        }));
    }
    let rt = runtime::Runtime {
        input: &input,
        plan: &plan,
        lay: &lay,
        opts,
    };
    let helpers = if plan.active() {
        lay.helpers
            .iter()
            .map(|h| rt.helper_body(*h))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let wrappers = plan
        .wrappers
        .iter()
        .map(|w| rt.wrapper_body(w))
        .collect::<Result<Vec<_>, _>>()?;
    let emitter = emit::Emitter {
        input: &input,
        plan: &plan,
        lay: &lay,
    };
    let out = emitter.emit(emit::Additions {
        bodies,
        helpers,
        wrappers,
        offsets: if opts.offset_map {
            Some(offsets.encode())
        } else {
            None
        },
    })?;
    let t2 = Instant::now();
    if opts.verify {
        verify(&out)?;
    }
    let t3 = Instant::now();
    let mut warnings = plan.warnings.clone();
    if !plan.active() {
        warnings.push(
            "nothing to instrument: no trap site can be reached; the module is unchanged".into(),
        );
    }
    Ok(Output {
        report: Report {
            input_size: wasm.len(),
            output_size: out.len(),
            debug_bytes_removed: if plan.active() {
                input
                    .sections
                    .iter()
                    .filter(|s| {
                        s.name.is_some_and(|n| {
                            n.starts_with(".debug_")
                                || n == "sourceMappingURL"
                                || n == wasm_coredump::EXTERNAL_DEBUG_INFO_SECTION
                        })
                    })
                    .map(|s| {
                        let name = s.name.unwrap_or("").len();
                        let body = s.payload.len() + name + leb_len(name);
                        1 + leb_len(body) + body
                    })
                    .sum()
            } else {
                0
            },
            functions: input.defined_funcs(),
            counts,
            wrappers: plan.wrappers.len() as u32,
            helpers: lay.helpers.len() as u32,
            warnings,
            timings_ms: [
                (t1 - t0).as_millis(),
                (t2 - t1).as_millis(),
                (t3 - t2).as_millis(),
            ],
        },
        wasm: out,
    })
}

fn leb_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Validates an output module with every feature wasmparser knows.
fn verify(wasm: &[u8]) -> Result<(), Error> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(wasm)
        .map(|_| ())
        .map_err(|e| Error::InvalidOutput {
            offset: e.offset(),
            message: e.message().to_string(),
        })
}
