//! Turning wasmtime's view of a trap into the project's dump model.

use std::time::{SystemTime, UNIX_EPOCH};

use wasm_coredump::{CoreDump, Frame, ModuleLayout, ModuleOffset, TrapInfo, TrapKind, Value};
use wasmtime::{
    AsContextMut, DebugEvent, DebugHandler, FrameHandle, StoreContextMut, Val, WasmBacktrace,
    WasmCoreDump,
};

use crate::run::{Crash, HostState, RunRequest};

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

pub(crate) fn crash(
    store: &mut wasmtime::Store<HostState>,
    err: &wasmtime::Error,
    trap: wasmtime::Trap,
    request: &RunRequest,
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
    let (mut dump, mut dump_error) = (None, None);
    let layout = ModuleLayout::parse(&request.wasm).ok();
    if let Some(native) = err.downcast_ref::<WasmCoreDump>() {
        let bytes = native.serialize(store.as_context_mut(), &request.name);
        match CoreDump::parse(&bytes) {
            Ok(mut parsed) => {
                enrich(
                    &mut parsed,
                    kind.clone(),
                    &message,
                    request,
                    layout.as_ref(),
                );
                if let (Some(frames), Some(layout)) =
                    (store.data_mut().guest_frames.take(), &layout)
                    && let Err(why) = add_guest_frames(&mut parsed, &frames, layout)
                {
                    dump_error = Some(why);
                }
                dump = Some(parsed);
            }
            Err(err) => dump_error = Some(format!("wasmtime's core dump did not parse: {err}")),
        }
    }
    Crash {
        kind,
        message,
        backtrace,
        dump,
        dump_error,
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
    let captured_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    dump.info = vec![
        ("capture".into(), "wasmtime-native".into()),
        (
            "host".into(),
            format!("coredump-host {}", env!("CARGO_PKG_VERSION")),
        ),
        ("engine".into(), "wasmtime 48".into()),
        ("captured-at".into(), captured_at.to_string()),
    ];
}
