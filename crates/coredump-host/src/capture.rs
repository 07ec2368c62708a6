//! Turning wasmtime's view of a trap into the project's dump model.

use coredump_rewrite::offsets::OffsetMap;
use std::time::{SystemTime, UNIX_EPOCH};

use wasm_coredump::{
    CoreDump, DumpedModule, Frame, Global, Instance as DumpInstance, Memory, MemoryLimits,
    ModuleLayout, ModuleOffset, RefKind, Thread, TrapInfo, TrapKind, ValType, Value,
};
use wasmtime::{
    AsContextMut, DebugEvent, DebugHandler, FrameHandle, Instance, StoreContextMut, Val,
    WasmBacktrace, WasmCoreDump,
};

use crate::run::{Capture, Crash, HostState, RunRequest};

/// A frame as guest debugging sees it at the trap.
#[derive(Debug, Clone)]
pub(crate) struct GuestFrame {
    /// Index among the module's defined functions.
    defined_function: u32,
    /// Offset from the start of the module file.
    module_offset: u32,
    locals: Vec<Value>,
    stack: Vec<Value>,
}

/// Records every frame's locals and operand stack when a trap happens.
#[derive(Clone)]
pub(crate) struct GuestFrameRecorder;

impl DebugHandler for GuestFrameRecorder {
    type Data = HostState;

    fn handle(
        &self,
        mut store: StoreContextMut<'_, HostState>,
        event: DebugEvent<'_>,
    ) -> impl Future<Output = ()> + Send {
        if let DebugEvent::Trap(_) = event {
            let frames = guest_frames(&mut store);
            store.data_mut().guest_frames = Some(frames);
        }
        async {}
    }
}

/// All Wasm frames of every activation, youngest first; trampolines skipped.
fn guest_frames(store: &mut StoreContextMut<'_, HostState>) -> Vec<GuestFrame> {
    let exits: Vec<FrameHandle> = store.debug_exit_frames().collect();
    let mut frames = Vec::new();
    for exit in exits {
        let mut next = Some(exit);
        while let Some(frame) = next {
            if let Some(recorded) = guest_frame(store, &frame) {
                frames.push(recorded);
            }
            next = frame.parent(&mut *store).ok().flatten();
        }
    }
    frames
}

fn guest_frame(
    store: &mut StoreContextMut<'_, HostState>,
    frame: &FrameHandle,
) -> Option<GuestFrame> {
    let (function, pc) = frame.wasm_function_index_and_pc(&mut *store).ok()??;
    let read =
        |store: &mut StoreContextMut<'_, HostState>,
         count: u32,
         get: &dyn Fn(&mut StoreContextMut<'_, HostState>, u32) -> wasmtime::Result<Val>| {
            (0..count)
                .map(|i| get(store, i).map_or(Value::Missing, |v| dump_value(&v)))
                .collect::<Vec<_>>()
        };
    let num_locals = frame.num_locals(&mut *store).unwrap_or(0);
    let num_stack = frame.num_stacks(&mut *store).unwrap_or(0);
    let locals = read(store, num_locals, &|s, i| frame.local(&mut *s, i));
    let stack = read(store, num_stack, &|s, i| frame.stack(&mut *s, i));
    Some(GuestFrame {
        defined_function: function.as_u32(),
        module_offset: pc.raw(),
        locals,
        stack,
    })
}

fn dump_value(value: &Val) -> Value {
    match value {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(bits) => Value::F32(*bits),
        Val::F64(bits) => Value::F64(*bits),
        _ => Value::Missing,
    }
}

/// A frame of wasmtime's trap backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktraceFrame {
    /// Function index in the module, imports counted.
    pub function: u32,
    /// The name wasmtime gives the function, if any.
    pub name: Option<String>,
    /// Offset of the frame's instruction from the start of the module file.
    pub module_offset: Option<u64>,
    /// Offset of the frame's instruction from the start of the function body.
    pub function_offset: Option<u32>,
}

/// The project's name for a wasmtime trap code.
pub fn trap_kind(trap: wasmtime::Trap) -> TrapKind {
    use wasmtime::Trap as T;
    match trap {
        T::StackOverflow => TrapKind::StackOverflow,
        T::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        T::HeapMisaligned => TrapKind::UnalignedAtomic,
        T::TableOutOfBounds => TrapKind::TableOutOfBounds,
        T::IndirectCallToNull => TrapKind::IndirectCallToNull,
        T::BadSignature => TrapKind::BadSignature,
        T::IntegerOverflow => TrapKind::IntegerOverflow,
        T::IntegerDivisionByZero => TrapKind::IntegerDivideByZero,
        T::BadConversionToInteger => TrapKind::BadConversionToInteger,
        T::UnreachableCodeReached => TrapKind::Unreachable,
        T::Interrupt => TrapKind::Interrupt,
        T::OutOfFuel => TrapKind::OutOfFuel,
        T::NullReference => TrapKind::NullReference,
        other => TrapKind::Other(kebab_case(&format!("{other:?}"))),
    }
}

fn kebab_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Builds the [`Crash`] for a trap: the instrumented module's own dump when it
/// has one (see `crates/coredump-rewrite/ABI.md`), otherwise wasmtime's native
/// dump, with guest-debug locals filled in when they were recorded.
pub(crate) async fn crash(
    store: &mut wasmtime::Store<HostState>,
    instance: Option<Instance>,
    err: &wasmtime::Error,
    trap: wasmtime::Trap,
    request: &RunRequest,
    capture: Capture,
    instrumented: bool,
) -> Crash {
    let kind = trap_kind(trap);
    let message = trap.to_string();
    let backtrace = err
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|f| BacktraceFrame {
                    function: f.func_index(),
                    name: f.func_name().map(str::to_string),
                    module_offset: f.module_offset().map(|o| o as u64),
                    function_offset: f.func_offset().and_then(|o| u32::try_from(o).ok()),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut crash = Crash {
        kind,
        message,
        backtrace,
        dump: None,
        dump_error: None,
    };
    if capture == Capture::Off {
        return crash;
    }
    let layout = ModuleLayout::parse(&request.wasm).ok();
    let mut abi_error = None;
    if instrumented && let Some(instance) = instance {
        match abi::fetch(store, instance).await {
            Ok(Some(bytes)) => match CoreDump::parse(&bytes) {
                Ok(mut dump) => {
                    enrich_instrumented(&mut dump, &crash, request);
                    crash.dump = Some(dump);
                    return crash;
                }
                Err(err) => abi_error = Some(format!("the module's own dump did not parse: {err}")),
            },
            // Traps the rewriter does not check for leave no dump.
            Ok(None) => {}
            Err(why) => abi_error = Some(why),
        }
    }
    let Some(native) = err.downcast_ref::<WasmCoreDump>() else {
        crash.dump_error =
            Some(abi_error.unwrap_or_else(|| "wasmtime recorded no core dump".into()));
        return crash;
    };
    let fast = if store.data().native_via_serialize {
        None
    } else {
        native_dump(store, native, &request.name)
    };
    let mut parsed = match fast {
        Some(dump) => dump,
        None => {
            let bytes = native.serialize(store.as_context_mut(), &request.name);
            match CoreDump::parse(&bytes) {
                Ok(parsed) => parsed,
                Err(err) => {
                    crash.dump_error = Some(format!("wasmtime's core dump did not parse: {err}"));
                    return crash;
                }
            }
        }
    };
    // A start function that traps leaves no instance: an instrumented module
    // then points at its dump from a trailer at the end of memory 0.
    if instrumented && instance.is_none() {
        match abi::from_trailer(&parsed) {
            Ok(Some(bytes)) => match CoreDump::parse(&bytes) {
                Ok(mut dump) => {
                    enrich_instrumented(&mut dump, &crash, request);
                    crash.dump = Some(dump);
                    return crash;
                }
                Err(err) => abi_error = Some(format!("the module's own dump did not parse: {err}")),
            },
            Ok(None) => {}
            Err(why) => abi_error = Some(why),
        }
    }
    enrich(
        &mut parsed,
        crash.kind.clone(),
        &crash.message,
        request,
        layout.as_ref(),
    );
    if let (Some(frames), Some(layout)) = (store.data_mut().guest_frames.take(), &layout)
        && let Err(why) = add_guest_frames(&mut parsed, &frames, layout)
    {
        crash.dump_error = Some(why);
    }
    if instrumented {
        // A trap the rewriter does not check: wasmtime's frames name the
        // instrumented code. Its offset map puts them back in the input's
        // coordinates, where the input's DWARF resolves them.
        let note = match OffsetMap::from_module(&request.wasm) {
            Ok(Some(map)) => {
                to_input_coordinates(&mut parsed, &map);
                "coredump-rewrite; native frames mapped to the input's offsets".to_string()
            }
            Ok(None) => "coredump-rewrite; native offsets (the module has no offset map)".into(),
            Err(err) => {
                format!("coredump-rewrite; native offsets (its offset map is unreadable: {err})")
            }
        };
        parsed.info.push(("instrumented".into(), note));
    }
    if let Some(why) = abi_error {
        crash.dump_error = Some(why);
    }
    crash.dump = Some(parsed);
    crash
}

/// Maps every frame of a native dump of an instrumented module to the
/// input's code offsets, dropping the frames of the rewriter's own functions
/// (its export wrappers and helpers).
fn to_input_coordinates(dump: &mut CoreDump, map: &OffsetMap) {
    for thread in &mut dump.threads {
        thread.frames.retain_mut(
            |frame| match map.to_input(frame.function, frame.code_offset) {
                Some(offset) => {
                    frame.code_offset = offset;
                    true
                }
                None => false,
            },
        );
    }
}

/// wasmtime's native dump as our model, read straight from the store.
///
/// It holds what `WasmCoreDump::serialize` writes, but skips that function's
/// byte-by-byte scan of every memory and our parse of its output, which
/// together cost far more than the 50 ms budget for a 64 MiB memory. Only
/// for the host's own stores (one module, one instance, which defines every
/// memory and global in order); anything else returns `None` and goes the
/// serialising way.
fn native_dump(
    store: &mut wasmtime::Store<HostState>,
    native: &WasmCoreDump,
    name: &str,
) -> Option<CoreDump> {
    let ([module], [_instance]) = (native.modules(), native.instances()) else {
        return None;
    };
    let module_name = module
        .name()
        .map_or_else(|| "<anonymous-module-0>".to_string(), str::to_string);
    let mut memories = Vec::with_capacity(native.memories().len());
    for memory in native.memories() {
        let ty = memory.ty(&*store);
        let log2 = ty.page_size_log2();
        let limits = MemoryLimits {
            pages: memory.size(&*store),
            maximum: ty.maximum(),
            memory64: ty.is_64(),
            shared: ty.is_shared(),
            page_size_log2: (log2 != 16).then_some(u32::from(log2)),
        };
        let mut dumped = Memory::new(limits);
        let data = memory.data(&*store);
        for range in non_zero_runs(data) {
            dumped.write(range.start as u64, &data[range]).ok()?;
        }
        memories.push(dumped);
    }
    let mut globals = Vec::with_capacity(native.globals().len());
    for global in native.globals() {
        let ty = global.ty(&*store);
        let mutable = matches!(ty.mutability(), wasmtime::Mutability::Var);
        let (ty, value) = match global.get(&mut *store) {
            Val::I32(v) => (ValType::I32, Value::I32(v)),
            Val::I64(v) => (ValType::I64, Value::I64(v)),
            Val::F32(bits) => (ValType::F32, Value::F32(bits)),
            Val::F64(bits) => (ValType::F64, Value::F64(bits)),
            Val::V128(v) => (ValType::V128, Value::V128(v.as_u128())),
            // As wasmtime does: every reference as a null of its top type.
            Val::FuncRef(_) => (ValType::Ref(RefKind::Func), Value::RefNull(RefKind::Func)),
            Val::ExternRef(_) => (
                ValType::Ref(RefKind::Extern),
                Value::RefNull(RefKind::Extern),
            ),
            Val::AnyRef(_) => (ValType::Ref(RefKind::Any), Value::RefNull(RefKind::Any)),
            // Rare enough to leave to the serialising path.
            Val::ExnRef(_) | Val::ContRef(_) => return None,
        };
        globals.push(Global { ty, mutable, value });
    }
    let frames = native
        .frames()
        .iter()
        .map(|frame| Frame {
            instance: 0,
            function: frame.func_index(),
            code_offset: frame
                .func_offset()
                .and_then(|o| u32::try_from(o).ok())
                .unwrap_or(0),
            locals: Vec::new(),
            stack: Vec::new(),
        })
        .collect();
    let instance = DumpInstance {
        module: 0,
        memories: (0..memories.len() as u32).collect(),
        globals: (0..globals.len() as u32).collect(),
    };
    #[cfg(test)]
    tests::DIRECT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(CoreDump {
        executable_name: Some(name.to_string()),
        modules: vec![DumpedModule {
            name: module_name,
            build_id: None,
            path: None,
        }],
        instances: vec![instance],
        threads: vec![Thread {
            name: "main".into(),
            frames,
        }],
        memories,
        globals,
        trap: None,
        info: Vec::new(),
    })
}

/// Byte ranges of `data` worth storing: each 4 KiB chunk that is not all
/// zero, trimmed of zeros at both ends (wasmtime's granularity), with ranges
/// that touch merged.
fn non_zero_runs(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    const CHUNK: usize = 4096;
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, chunk) in data.chunks(CHUNK).enumerate() {
        if all_zero(chunk) {
            continue;
        }
        let (Some(first), Some(last)) = (
            chunk.iter().position(|b| *b != 0),
            chunk.iter().rposition(|b| *b != 0),
        ) else {
            continue;
        };
        let range = i * CHUNK + first..i * CHUNK + last + 1;
        match runs.last_mut() {
            Some(prev) if prev.end == range.start => prev.end = range.end,
            _ => runs.push(range),
        }
    }
    runs
}

/// Whether every byte is zero. OR-ing 16-byte words, with no early exit,
/// lets the compiler vectorise it.
fn all_zero(bytes: &[u8]) -> bool {
    let words = bytes.chunks_exact(16);
    let tail = words.remainder();
    let ored = words.fold(0u128, |acc, w| {
        acc | u128::from_ne_bytes(w.try_into().unwrap_or([0xff; 16]))
    });
    ored == 0 && tail.iter().all(|b| *b == 0)
}

/// Adds the host's facts to a dump the module wrote itself, keeping its own.
fn enrich_instrumented(dump: &mut CoreDump, crash: &Crash, request: &RunRequest) {
    if dump.trap.is_none() {
        dump.trap = Some(TrapInfo {
            kind: crash.kind.clone(),
            message: crash.message.clone(),
        });
    }
    if dump.executable_name.is_none() {
        dump.executable_name = Some(request.name.clone());
    }
    if let Some(path) = &request.path {
        for module in dump.modules.iter_mut().filter(|m| m.path.is_none()) {
            module.path = Some(path.display().to_string());
        }
    }
    if dump.info("capture").is_none() {
        dump.info
            .push(("capture".into(), "coredump-rewrite".into()));
    }
    dump.info.extend(host_facts());
    dump.info.extend(request.context.iter().cloned());
}

/// Fetching the dump an instrumented module wrote (`crates/coredump-rewrite/ABI.md`).
pub(crate) mod abi {
    use wasm_coredump::CoreDump;
    use wasmtime::{Instance, Store, Val};

    use crate::run::HostState;

    // The names and the trailer's magic are the rewriter's.
    pub(crate) use coredump_rewrite::abi::EXPORT_LEN as LEN;
    use coredump_rewrite::abi::{EXPORT_MEMORY as MEMORY, EXPORT_PTR as PTR};
    const TRAILER_MAGIC: [u8; 4] = coredump_rewrite::TRAILER_MAGIC.to_le_bytes();
    /// Fuel for each accessor call; they only read two globals.
    const ACCESSOR_FUEL: u64 = 1_000_000;
    /// Epoch ticks the accessors may run before the deadline check.
    const ACCESSOR_TICKS: u64 = 10;

    /// The dump bytes, `None` when the module wrote none for this trap.
    pub(super) async fn fetch(
        store: &mut Store<HostState>,
        instance: Instance,
    ) -> Result<Option<Vec<u8>>, String> {
        // The trap may have been running out of fuel or time: allow the
        // accessors a little of both.
        if store.get_fuel().is_ok() {
            store
                .set_fuel(ACCESSOR_FUEL)
                .map_err(|e| format!("cannot refuel for the dump accessors: {e}"))?;
        }
        // Bounded: past the run's own deadline the next tick interrupts.
        store.set_epoch_deadline(ACCESSOR_TICKS);
        let len = call(store, instance, LEN).await?;
        if len == 0 {
            return Ok(None);
        }
        let ptr = call(store, instance, PTR).await?;
        let memory = instance
            .get_memory(&mut *store, MEMORY)
            .ok_or_else(|| format!("the module exports {LEN} but no {MEMORY}"))?;
        read(memory.data(&*store), ptr, len).map(Some)
    }

    /// The dump a trailer in memory 0 of a native dump points at.
    pub(super) fn from_trailer(native: &CoreDump) -> Result<Option<Vec<u8>>, String> {
        let Ok(memory) = native.memory(0) else {
            return Ok(None);
        };
        let Some(at) = memory.size().checked_sub(16) else {
            return Ok(None);
        };
        let trailer = memory
            .read(at, 16)
            .map_err(|e| format!("cannot read the dump trailer: {e}"))?;
        if trailer[12..16] != TRAILER_MAGIC {
            return Ok(None);
        }
        let mut addr = [0; 8];
        addr.copy_from_slice(&trailer[0..8]);
        let mut len = [0; 4];
        len.copy_from_slice(&trailer[8..12]);
        let (addr, len) = (u64::from_le_bytes(addr), u32::from_le_bytes(len));
        if len == 0 {
            return Ok(None);
        }
        let end = addr.checked_add(len.into()).filter(|end| *end <= at);
        if end.is_none() {
            return Err(format!(
                "the dump trailer points outside memory ({len} bytes at {addr:#x})"
            ));
        }
        memory
            .read(addr, len as usize)
            .map(Some)
            .map_err(|e| format!("cannot read the module's dump: {e}"))
    }

    async fn call(
        store: &mut Store<HostState>,
        instance: Instance,
        name: &str,
    ) -> Result<u64, String> {
        let func = instance
            .get_func(&mut *store, name)
            .ok_or_else(|| format!("the module does not export {name}"))?;
        let mut result = [Val::I32(0)];
        func.call_async(&mut *store, &[], &mut result)
            .await
            .map_err(|e| format!("{name} failed: {e}"))?;
        match result[0] {
            Val::I32(v) => Ok(u64::from(v as u32)),
            Val::I64(v) => Ok(v as u64),
            _ => Err(format!("{name} does not return an integer")),
        }
    }

    /// `len` bytes at `ptr`, checked against the memory's size.
    pub(super) fn read(data: &[u8], ptr: u64, len: u64) -> Result<Vec<u8>, String> {
        let range = usize::try_from(ptr)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(start, len)| Some(start..start.checked_add(len)?))
            .filter(|range| range.end <= data.len());
        match range {
            Some(range) => Ok(data[range].to_vec()),
            None => Err(format!(
                "the module's dump ({len} bytes at {ptr:#x}) lies outside its memory ({} bytes)",
                data.len()
            )),
        }
    }
}

/// Fills the native dump's frames with the locals and operand stacks guest
/// debugging saw. The two must describe the same frames.
fn add_guest_frames(
    dump: &mut CoreDump,
    guest: &[GuestFrame],
    layout: &ModuleLayout,
) -> Result<(), String> {
    let Some(thread) = dump.threads.first_mut() else {
        return Err("the native dump has no stack".into());
    };
    if thread.frames.len() != guest.len() {
        return Err(format!(
            "guest debugging saw {} frames, the native dump {}; locals left out",
            guest.len(),
            thread.frames.len()
        ));
    }
    let mut filled: Vec<Frame> = Vec::with_capacity(guest.len());
    for (native, seen) in thread.frames.iter().zip(guest) {
        let function = layout.imported_functions() + seen.defined_function;
        let location = layout.location_of_module_offset(ModuleOffset(seen.module_offset.into()));
        if native.function != function || location.map(|l| l.function) != Ok(function) {
            return Err(format!(
                "guest debugging's frame (function {function}) differs from the native dump's (function {}); locals left out",
                native.function
            ));
        }
        filled.push(Frame {
            locals: seen.locals.clone(),
            stack: seen.stack.clone(),
            ..native.clone()
        });
    }
    thread.frames = filled;
    dump.info
        .push(("locals".into(), "wasmtime-guest-debug".into()));
    Ok(())
}

/// Adds what wasmtime's dump lacks: the trap, build id, path and capture facts.
fn enrich(
    dump: &mut CoreDump,
    kind: TrapKind,
    message: &str,
    request: &RunRequest,
    layout: Option<&ModuleLayout>,
) {
    dump.trap = Some(TrapInfo {
        kind,
        message: message.to_string(),
    });
    let build_id = layout.and_then(|layout| layout.build_id().cloned());
    // One module per run: every entry is that module.
    for module in &mut dump.modules {
        module.build_id = build_id.clone();
        module.path = request.path.as_ref().map(|p| p.display().to_string());
    }
    dump.info = vec![("capture".into(), "wasmtime-native".into())];
    dump.info.extend(host_facts());
    dump.info.extend(request.context.iter().cloned());
}

/// Which host captured the dump, and when.
fn host_facts() -> [(String, String); 3] {
    let captured_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    [
        (
            "host".into(),
            format!("coredump-host {}", env!("CARGO_PKG_VERSION")),
        ),
        ("engine".into(), "wasmtime 48".into()),
        ("captured-at".into(), captured_at.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Host, HostOptions, RunRequest};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How many dumps took the direct path.
    pub(super) static DIRECT: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn zero_runs() {
        let mut data = vec![0u8; 5 * 4096 + 100];
        assert!(non_zero_runs(&data).is_empty());
        data[5] = 1;
        data[4096 + 7] = 2; // adjacent chunk: same run
        data[3 * 4096 + 9] = 3;
        data[5 * 4096 + 99] = 4; // the short last chunk
        data[2 * 4096 - 1] = 5; // touches the next chunk's first byte
        data[2 * 4096] = 6;
        assert_eq!(
            non_zero_runs(&data),
            [
                5..6,
                4096 + 7..2 * 4096 + 1,
                3 * 4096 + 9..3 * 4096 + 10,
                5 * 4096 + 99..5 * 4096 + 100
            ]
        );
        assert!(all_zero(&[0; 33]) && !all_zero(&[0, 0, 1]) && all_zero(&[]));
    }

    /// The direct path must give the dump `WasmCoreDump::serialize` gives:
    /// every fixture crash, plus memories of odd sizes and 64-bit ones.
    #[test]
    fn the_direct_native_dump_equals_the_serialised_one() {
        let direct = Host::new(HostOptions::default()).unwrap();
        let mut serialised = Host::new(HostOptions::default()).unwrap();
        serialised.native_via_serialize = true;
        let manifest = crash_fixtures::Manifest::load().unwrap();
        let mut cases: Vec<(String, Vec<u8>, Vec<String>)> = Vec::new();
        for (program, mode) in manifest.cases() {
            if mode.crashes() {
                let wasm = program.wasm_bytes().unwrap();
                cases.push((
                    format!("{} {}", program.id, mode.mode),
                    wasm,
                    mode.args.clone(),
                ));
            }
        }
        for (what, wat) in [
            (
                "memory64 with data past 4 KiB runs",
                r#"(module (memory i64 3) (global $g (mut i64) (i64.const -5))
                    (global f32 (f32.const 1.5)) (global $r (mut funcref) (ref.null func))
                    (data (i64.const 4095) "ab") (data (i64.const 70000) "\01\00\00\00\00\02")
                    (func (export "_start") unreachable))"#,
            ),
            (
                "two memories",
                r#"(module (memory 1) (memory 2 5) (data (memory 1) (i32.const 65536) "x")
                    (func (export "_start") (i32.store (i32.const 65532) (i32.const -1))
                      (drop (i32.load (i32.const 65536)))))"#,
            ),
        ] {
            cases.push((what.into(), wat::parse_str(wat).unwrap(), Vec::new()));
        }
        let count = cases.len();
        for (what, wasm, args) in cases {
            let mut request = RunRequest::new("crash", wasm);
            request.args = args;
            let a = direct.run(&request).unwrap().crash.unwrap().dump.unwrap();
            let b = serialised
                .run(&request)
                .unwrap()
                .crash
                .unwrap()
                .dump
                .unwrap();
            assert_eq!(a.executable_name, b.executable_name, "{what}");
            assert_eq!(a.modules, b.modules, "{what}");
            assert_eq!(a.instances, b.instances, "{what}");
            assert_eq!(a.threads, b.threads, "{what}");
            assert_eq!(a.globals, b.globals, "{what}");
            assert_eq!(a.trap, b.trap, "{what}");
            assert_eq!(a.memories.len(), b.memories.len(), "{what}");
            for (m, n) in a.memories.iter().zip(&b.memories) {
                assert_eq!(m.limits(), n.limits(), "{what}");
                let size = usize::try_from(m.size()).unwrap();
                assert_eq!(m.read(0, size).unwrap(), n.read(0, size).unwrap(), "{what}");
                assert_eq!(m.stored_bytes(), n.stored_bytes(), "{what}");
            }
        }
        assert_eq!(
            DIRECT.load(Ordering::Relaxed),
            count,
            "every direct dump took the direct path"
        );
    }
}
