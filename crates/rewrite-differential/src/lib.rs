//! Differential execution of `coredump-rewrite`: runs a module and its
//! instrumented build side by side under wasmtime and reports the first
//! behaviour that differs.
//!
//! The rewriter promises two things this crate checks on any module,
//! including the random ones `wasm-smith` makes (see [`arbitrary_module`]):
//!
//! - a run that does not trap behaves exactly like the original: the same
//!   results, and the same exported memories and globals afterwards;
//! - a run that traps, traps with the same kind, and the dump it leaves names
//!   the same trapping function and code offset as wasmtime's native
//!   backtrace of the original (in the input's coordinates).
//!
//! Exports are called one after another on one pair of instances, as a host
//! would; after a trap both sides start again from fresh instances with the
//! next export, so every later trap must leave a fresh dump. Runs that say
//! nothing about the rewriter (fuel or stack exhausted, resource limits) end
//! the comparison and are counted as inconclusive.
//!
//! ```no_run
//! let wasm = std::fs::read("module.wasm")?;
//! let differential = rewrite_differential::Differential::new(Default::default())?;
//! let tally = differential.check(&wasm, &mut arbitrary::Unstructured::new(&[]))?;
//! println!("{tally:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use arbitrary::Unstructured;
use coredump_rewrite::offsets::OffsetMap;
use coredump_rewrite::{Checks, Options, abi};
use wasm_coredump::{CoreDump, ModuleLayout, TrapKind};
use wasmparser::Operator;
use wasmtime::{
    Config, Engine, Extern, FuncType, Instance, Module, Store, StoreLimits, StoreLimitsBuilder,
    Trap, Val, ValType, WasmBacktrace,
};

/// The first difference found between a module and its instrumented build.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Mismatch(pub String);

/// What was compared.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// The input was not compared (wasmtime or the rewriter refused it); why.
    pub skipped: Option<String>,
    /// Instantiations and export calls run on both sides.
    pub runs: usize,
    /// Runs where both sides returned the same results and state.
    pub returned: usize,
    /// Runs where both sides trapped with the same kind.
    pub trapped: usize,
    /// Of those, dumps whose trap kind and top frame matched the native trap.
    pub dumps: usize,
    /// Traps left to the engine whose native top frame, put back in the
    /// input's coordinates through the offset map, matched the original's.
    pub mapped: usize,
    /// Runs that ended the comparison without saying anything (fuel, stack
    /// or resource limits).
    pub inconclusive: usize,
}

impl Tally {
    /// Adds another module's tally.
    pub fn add(&mut self, other: &Tally) {
        self.runs += other.runs;
        self.returned += other.returned;
        self.trapped += other.trapped;
        self.dumps += other.dumps;
        self.mapped += other.mapped;
        self.inconclusive += other.inconclusive;
    }
}

/// How the instrumented build is made, and the budget of each run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub checks: Checks,
    pub call_depth_limit: Option<u32>,
    /// Fuel for each run of the original; the instrumented build gets
    /// [`INSTRUMENTED_FUEL_FACTOR`] times as much.
    pub fuel: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            checks: Checks::default(),
            call_depth_limit: None,
            fuel: 100_000,
        }
    }
}

/// Checks, the dump writer and its memory scans all cost fuel.
pub const INSTRUMENTED_FUEL_FACTOR: u64 = 100;

/// Memory a store may allocate; well above what [`arbitrary_module`] declares,
/// so that growing memory for the dump does not hit the limit first.
const MEMORY_LIMIT: usize = 256 << 20;

/// A wasmtime engine set up for deterministic comparison, and the settings.
pub struct Differential {
    engine: Engine,
    settings: Settings,
}

impl Differential {
    pub fn new(settings: Settings) -> Result<Self, wasmtime::Error> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            // Register allocation may swap the operands of a commutative
            // float operation, which changes a NaN's payload.
            .cranelift_nan_canonicalization(true)
            .wasm_multi_value(true)
            .wasm_bulk_memory(true)
            .wasm_simd(true)
            .wasm_relaxed_simd(false)
            .wasm_tail_call(true)
            .wasm_multi_memory(true)
            .wasm_memory64(true)
            .wasm_extended_const(true)
            .max_wasm_stack(256 << 10);
        Ok(Differential {
            engine: Engine::new(&config)?,
            settings,
        })
    }

    /// Compares `wasm` with its instrumented build. Export arguments come
    /// from `args` (zeros once it runs dry).
    pub fn check(&self, wasm: &[u8], args: &mut Unstructured<'_>) -> Result<Tally, Mismatch> {
        let mut tally = Tally::default();
        let original = match Module::new(&self.engine, wasm) {
            Ok(m) => m,
            Err(e) => {
                tally.skipped = Some(format!("wasmtime does not compile the input: {e:#}"));
                return Ok(tally);
            }
        };
        let options = Options {
            checks: self.settings.checks,
            call_depth_limit: self.settings.call_depth_limit,
            ..Options::default()
        };
        let output = coredump_rewrite::rewrite(wasm, &options)
            .map_err(|e| Mismatch(format!("the rewriter refused a module wasmtime runs: {e}")))?;
        let passed_through = !output.report.warnings.is_empty();
        let instrumented = Module::new(&self.engine, &output.wasm).map_err(|e| {
            Mismatch(format!(
                "wasmtime does not compile the instrumented module: {e:?}"
            ))
        })?;
        let layout = ModuleLayout::parse(wasm)
            .map_err(|e| Mismatch(format!("the input's layout does not parse: {e}")))?;
        let exports: Vec<(String, FuncType)> = original
            .exports()
            .filter_map(|e| Some((e.name().to_string(), e.ty().func()?.clone())))
            .collect();
        let ctx = Compare {
            wasm,
            layout: &layout,
            checks: self.settings.checks,
            passed_through,
            offsets: OffsetMap::from_module(&output.wasm)
                .map_err(|e| Mismatch(format!("the instrumented module's offset map: {e}")))?,
            exports: &original,
        };

        let mut next = 0;
        loop {
            let mut a = Side::new(&self.engine, self.settings.fuel);
            let mut b = Side::new(
                &self.engine,
                self.settings.fuel.saturating_mul(INSTRUMENTED_FUEL_FACTOR),
            );
            let ra = a.instantiate(&original);
            let rb = b.instantiate(&instrumented);
            match ctx.compare("instantiation", &mut a, ra, &mut b, rb, &mut tally)? {
                Next::Continue => {}
                // A start function that traps traps every time.
                Next::Restart | Next::Stop => return Ok(tally),
            }
            let mut restart = false;
            while let Some((name, ty)) = exports.get(next) {
                next += 1;
                let Some(values) = arguments(ty, args) else {
                    continue;
                };
                let ra = a.call(name, &values);
                let rb = b.call(name, &values);
                match ctx.compare(
                    &format!("export {name:?}"),
                    &mut a,
                    ra,
                    &mut b,
                    rb,
                    &mut tally,
                )? {
                    Next::Continue => {}
                    Next::Restart => {
                        restart = true;
                        break;
                    }
                    Next::Stop => return Ok(tally),
                }
            }
            if !restart {
                return Ok(tally);
            }
        }
    }
}

/// A `wasm-smith` module that [`Differential`] can run: no imports, every
/// item exported, the features wasmtime runs here, and small memories.
pub fn arbitrary_module(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut config: wasm_smith::Config = u.arbitrary()?;
    config.max_imports = 0;
    config.min_funcs = config.min_funcs.max(1);
    config.max_funcs = config.max_funcs.max(1);
    config.min_imports = 0;
    config.available_imports = None;
    config.export_everything = true;
    config.allow_start_export = true;
    config.threads_enabled = false;
    config.shared_everything_threads_enabled = false;
    config.gc_enabled = false;
    // This wasmtime is built without GC, which `externref` needs.
    config.reference_types_enabled = false;
    config.exceptions_enabled = false;
    config.custom_descriptors_enabled = false;
    config.custom_page_sizes_enabled = false;
    config.relaxed_simd_enabled = false;
    config.wide_arithmetic_enabled = false;
    config.max_memories = config.max_memories.min(3);
    config.max_memory32_bytes = config.max_memory32_bytes.min(16 << 20);
    config.max_memory64_bytes = config.max_memory64_bytes.min(16 << 20);
    config.max_tables = config.max_tables.min(4);
    config.max_table_elements = config.max_table_elements.min(10_000);
    Ok(wasm_smith::Module::new(config, u)?.to_bytes())
}

/// Whether a dump's code offset names the trap wasmtime reported at
/// `native` in `function`. They are equal, except in two places where
/// wasmtime's trap offset is not the instruction that traps in Wasm terms:
///
/// - Cranelift folds a conditional branch to an `unreachable` into one
///   conditional trap carrying the branch's offset; the dump (like V8) names
///   the `unreachable` itself, a few bytes later.
/// - A load whose value is the address of the next load or store is fused
///   into that instruction's address computation, so its fault carries the
///   next instruction's offset; the dump names the load that faulted.
pub fn trap_site_matches(
    wasm: &[u8],
    layout: &ModuleLayout,
    function: u32,
    native: u32,
    recorded: u32,
) -> bool {
    if native == recorded {
        return true;
    }
    let Some(body) = layout.function_body(function) else {
        return false;
    };
    let at = |offset: u32| {
        let start = body.start + offset as usize;
        let code = wasm.get(start..body.end)?;
        let mut ops = wasmparser::OperatorsReader::new(wasmparser::BinaryReader::new(code, 0));
        let op = ops.read().ok()?;
        Some((op, ops.original_position() as u32))
    };
    let is_load = |op: &Operator<'_>| {
        matches!(
            op,
            Operator::I32Load { .. }
                | Operator::I64Load { .. }
                | Operator::F32Load { .. }
                | Operator::F64Load { .. }
                | Operator::I32Load8S { .. }
                | Operator::I32Load8U { .. }
                | Operator::I32Load16S { .. }
                | Operator::I32Load16U { .. }
                | Operator::I64Load8S { .. }
                | Operator::I64Load8U { .. }
                | Operator::I64Load16S { .. }
                | Operator::I64Load16U { .. }
                | Operator::I64Load32S { .. }
                | Operator::I64Load32U { .. }
        )
    };
    let is_access = |op: &Operator<'_>| {
        is_load(op)
            || matches!(
                op,
                Operator::I32Store { .. }
                    | Operator::I64Store { .. }
                    | Operator::F32Store { .. }
                    | Operator::F64Store { .. }
                    | Operator::I32Store8 { .. }
                    | Operator::I32Store16 { .. }
                    | Operator::I64Store8 { .. }
                    | Operator::I64Store16 { .. }
                    | Operator::I64Store32 { .. }
                    | Operator::V128Load { .. }
                    | Operator::V128Store { .. }
            )
    };
    let (Some((theirs, _)), Some((ours, ours_len))) = (at(native), at(recorded)) else {
        return false;
    };
    let folded_branch = native < recorded
        && matches!(theirs, Operator::If { .. } | Operator::BrIf { .. })
        && matches!(ours, Operator::Unreachable);
    let fused_load = recorded + ours_len == native && is_load(&ours) && is_access(&theirs);
    folded_branch || fused_load
}

/// Fetches the instrumented module's last dump through its ABI exports
/// (`Ok(None)` when it wrote none, or has no ABI because the rewriter found
/// nothing to instrument).
pub fn fetch_dump<T>(store: &mut Store<T>, instance: &Instance) -> Result<Option<Vec<u8>>, String> {
    if instance.get_export(&mut *store, abi::EXPORT_LEN).is_none() {
        return Ok(None);
    }
    let mut call = |name: &str| -> Result<u64, String> {
        let f = instance
            .get_func(&mut *store, name)
            .ok_or(format!("no export {name}"))?;
        let mut out = [Val::I32(0)];
        f.call(&mut *store, &[], &mut out)
            .map_err(|e| format!("{name} failed: {e}"))?;
        match out[0] {
            Val::I32(v) => Ok(u64::from(v as u32)),
            Val::I64(v) => Ok(v as u64),
            _ => Err(format!("{name} returned a {:?}", out[0])),
        }
    };
    let len = call(abi::EXPORT_LEN)? as usize;
    let ptr = call(abi::EXPORT_PTR)? as usize;
    if len == 0 {
        return Ok(None);
    }
    let memory = instance
        .get_memory(&mut *store, abi::EXPORT_MEMORY)
        .ok_or(format!("no export {}", abi::EXPORT_MEMORY))?;
    memory
        .data(&*store)
        .get(ptr..ptr.saturating_add(len))
        .map(|d| Some(d.to_vec()))
        .ok_or(format!("dump at {ptr}+{len} is outside the memory"))
}

/// One side of the comparison: a store and, once instantiated, its instance.
struct Side {
    store: Store<StoreLimits>,
    instance: Option<Instance>,
}

/// How a run ended.
#[derive(Debug)]
enum Ran {
    Returned(Vec<Value>),
    /// The trap and the native top frame (function, code offset).
    Trapped(Trap, Option<(u32, u32)>),
    /// Anything else (a resource limit, say).
    Failed(#[allow(dead_code)] String),
}

impl Side {
    fn new(engine: &Engine, fuel: u64) -> Side {
        let limits = StoreLimitsBuilder::new()
            .memory_size(MEMORY_LIMIT)
            .table_elements(1 << 20)
            .build();
        let mut store = Store::new(engine, limits);
        store.limiter(|limits| limits);
        // Fuel is on in the engine, so this cannot fail.
        let _ = store.set_fuel(fuel);
        Side {
            store,
            instance: None,
        }
    }

    fn instantiate(&mut self, module: &Module) -> Ran {
        match Instance::new(&mut self.store, module, &[]) {
            Ok(instance) => {
                self.instance = Some(instance);
                Ran::Returned(Vec::new())
            }
            Err(e) => ended(&e),
        }
    }

    fn call(&mut self, name: &str, args: &[Val]) -> Ran {
        let Some(instance) = self.instance else {
            return Ran::Failed("not instantiated".into());
        };
        let Some(func) = instance.get_func(&mut self.store, name) else {
            return Ran::Failed(format!("no export {name}"));
        };
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty
            .results()
            .map(|t| Val::default_for_ty(&t).unwrap_or(Val::I32(0)))
            .collect();
        match func.call(&mut self.store, args, &mut results) {
            Ok(()) => Ran::Returned(results.iter().map(Value::of).collect()),
            Err(e) => ended(&e),
        }
    }

    /// Every exported memory and global of the original, by name.
    fn state(&mut self, exports: &Module) -> Vec<(String, State)> {
        let Some(instance) = self.instance else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for export in exports.exports() {
            let name = export.name();
            match instance.get_export(&mut self.store, name) {
                Some(Extern::Memory(m)) => out.push((
                    name.to_string(),
                    State::Memory(m.data(&self.store).to_vec()),
                )),
                Some(Extern::Global(g)) => out.push((
                    name.to_string(),
                    State::Global(Value::of(&g.get(&mut self.store))),
                )),
                _ => {}
            }
        }
        out
    }
}

fn ended(e: &wasmtime::Error) -> Ran {
    match e.downcast_ref::<Trap>() {
        Some(trap) => {
            let top = e
                .downcast_ref::<WasmBacktrace>()
                .and_then(|bt| bt.frames().first())
                .and_then(|f| Some((f.func_index(), u32::try_from(f.func_offset()?).ok()?)));
            Ran::Trapped(*trap, top)
        }
        None => Ran::Failed(format!("{e:#}")),
    }
}

/// A value as compared: floats by their bits, references by whether they are null.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    Ref { null: bool },
}

impl Value {
    fn of(v: &Val) -> Value {
        match v {
            Val::I32(x) => Value::I32(*x),
            Val::I64(x) => Value::I64(*x),
            Val::F32(x) => Value::F32(*x),
            Val::F64(x) => Value::F64(*x),
            Val::V128(x) => Value::V128(x.as_u128()),
            Val::FuncRef(r) => Value::Ref { null: r.is_none() },
            Val::ExternRef(r) => Value::Ref { null: r.is_none() },
            Val::AnyRef(r) => Value::Ref { null: r.is_none() },
            Val::ExnRef(r) => Value::Ref { null: r.is_none() },
            Val::ContRef(r) => Value::Ref { null: r.is_none() },
        }
    }
}

#[derive(PartialEq)]
enum State {
    Memory(Vec<u8>),
    Global(Value),
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Memory(m) => write!(f, "memory of {} bytes", m.len()),
            State::Global(v) => write!(f, "global {v:?}"),
        }
    }
}

/// Arguments for an export, or `None` when one cannot be made (a
/// non-nullable reference).
fn arguments(ty: &FuncType, u: &mut Unstructured<'_>) -> Option<Vec<Val>> {
    ty.params()
        .map(|t| {
            Some(match t {
                ValType::I32 => Val::I32(u.arbitrary().unwrap_or(0)),
                ValType::I64 => Val::I64(u.arbitrary().unwrap_or(0)),
                ValType::F32 => Val::F32(u.arbitrary().unwrap_or(0)),
                ValType::F64 => Val::F64(u.arbitrary().unwrap_or(0)),
                ValType::V128 => Val::V128(u.arbitrary::<u128>().unwrap_or(0).into()),
                ValType::Ref(_) => Val::default_for_ty(&t)?,
            })
        })
        .collect()
}

/// What to do after a run.
enum Next {
    Continue,
    /// Both trapped: go on with fresh instances.
    Restart,
    /// Nothing more can be compared.
    Stop,
}

struct Compare<'a> {
    wasm: &'a [u8],
    layout: &'a ModuleLayout,
    checks: Checks,
    passed_through: bool,
    /// The instrumented module's offset map.
    offsets: Option<OffsetMap>,
    /// The original, whose exports are compared.
    exports: &'a Module,
}

impl Compare<'_> {
    fn compare(
        &self,
        what: &str,
        a: &mut Side,
        ra: Ran,
        b: &mut Side,
        rb: Ran,
        tally: &mut Tally,
    ) -> Result<Next, Mismatch> {
        tally.runs += 1;
        let differ = |why: &str| {
            Err(Mismatch(format!(
                "{what}: {why}: original {ra:?}, instrumented {rb:?}"
            )))
        };
        match (&ra, &rb) {
            (Ran::Trapped(Trap::OutOfFuel, _), _)
            | (_, Ran::Trapped(Trap::OutOfFuel, _))
            | (Ran::Failed(_), _) => {
                tally.inconclusive += 1;
                Ok(Next::Stop)
            }
            // The instrumented build's frames are larger, so recursion may
            // overflow at another depth; with no guard the dump is native's.
            (Ran::Trapped(Trap::StackOverflow, _), _)
            | (_, Ran::Trapped(Trap::StackOverflow, _)) => {
                tally.inconclusive += 1;
                Ok(Next::Restart)
            }
            (Ran::Returned(x), Ran::Returned(y)) => {
                if x != y {
                    return differ("different results");
                }
                let (sa, sb) = (a.state(self.exports), b.state(self.exports));
                if let Some(((name, va), (_, vb))) =
                    sa.iter().zip(&sb).find(|((_, va), (_, vb))| va != vb)
                {
                    return differ(&format!(
                        "export {name:?} differs afterwards ({va:?} / {vb:?})"
                    ));
                }
                if sa.len() != sb.len() {
                    return differ("different exports");
                }
                tally.returned += 1;
                Ok(Next::Continue)
            }
            (Ran::Trapped(ka, top), Ran::Trapped(kb, _)) => {
                if ka != kb {
                    return differ("different traps");
                }
                tally.trapped += 1;
                // A start function's trap leaves no instance to ask.
                if let Some(instance) = b.instance.filter(|_| what != "instantiation") {
                    let dump = fetch_dump(&mut b.store, &instance)
                        .map_err(|e| Mismatch(format!("{what}: fetching the dump: {e}")))?;
                    match dump {
                        Some(bytes) => {
                            self.check_dump(what, &bytes, *ka, *top)?;
                            tally.dumps += 1;
                        }
                        None if self.dump_expected(*ka) => {
                            return differ("no dump after a trap the rewriter checks for");
                        }
                        None => {
                            if let Ran::Trapped(_, Some(theirs)) = &rb {
                                self.check_mapped_top(what, *top, *theirs)?;
                                tally.mapped += 1;
                            }
                        }
                    }
                }
                Ok(Next::Restart)
            }
            _ => differ("different outcomes"),
        }
    }

    /// Whether the settings cover this trap kind everywhere.
    fn dump_expected(&self, trap: Trap) -> bool {
        if self.passed_through {
            return false;
        }
        let c = &self.checks;
        match trap {
            Trap::UnreachableCodeReached => c.unreachable,
            Trap::IntegerDivisionByZero | Trap::IntegerOverflow => c.div,
            Trap::BadConversionToInteger => c.trunc,
            Trap::IndirectCallToNull | Trap::BadSignature => c.call_indirect,
            Trap::TableOutOfBounds => c.table && c.call_indirect,
            // Bulk memory is checked by default, loads and stores only with bounds.
            Trap::MemoryOutOfBounds => c.bounds && c.bulk_memory,
            _ => false,
        }
    }

    /// A trap left to the engine: the instrumented module's native top frame,
    /// through its offset map, is the original's.
    fn check_mapped_top(
        &self,
        what: &str,
        ours: Option<(u32, u32)>,
        theirs: (u32, u32),
    ) -> Result<(), Mismatch> {
        let (Some(map), Some((function, native))) = (&self.offsets, ours) else {
            return Ok(());
        };
        let mapped = map.to_input(theirs.0, theirs.1);
        if theirs.0 != function
            || !mapped.is_some_and(|offset| {
                trap_site_matches(self.wasm, self.layout, function, native, offset)
            })
        {
            return Err(Mismatch(format!(
                "{what}: no dump, and the instrumented module's native top frame \
                 (function {} at {:#x}) maps to {mapped:?}, the original's is function {function} at {native:#x}",
                theirs.0, theirs.1
            )));
        }
        Ok(())
    }

    fn check_dump(
        &self,
        what: &str,
        bytes: &[u8],
        trap: Trap,
        top: Option<(u32, u32)>,
    ) -> Result<(), Mismatch> {
        let fail = |why: String| Err(Mismatch(format!("{what}: {why}")));
        let dump = match CoreDump::parse(bytes) {
            Ok(d) => d,
            Err(e) => return fail(format!("the dump does not parse: {e}")),
        };
        let expected: TrapKind = coredump_host::trap_kind(trap);
        let recorded = dump.trap.as_ref().map(|t| &t.kind);
        if recorded != Some(&expected) {
            return fail(format!(
                "the dump says {recorded:?}, the trap was {expected}"
            ));
        }
        let Some((function, native)) = top else {
            return fail("wasmtime gave no backtrace for the original".into());
        };
        let Some(frame) = dump.main_frames().first() else {
            return fail("the dump has no frames".into());
        };
        if frame.function != function
            || !trap_site_matches(self.wasm, self.layout, function, native, frame.code_offset)
        {
            return fail(format!(
                "the dump's top frame is function {} at {:#x}, wasmtime's is function {function} at {native:#x}",
                frame.function, frame.code_offset
            ));
        }
        Ok(())
    }
}
