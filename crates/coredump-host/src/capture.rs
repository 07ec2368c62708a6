//! Turning wasmtime's view of a trap into the project's dump model.

use std::time::{SystemTime, UNIX_EPOCH};

use wasm_coredump::{CoreDump, ModuleLayout, TrapInfo, TrapKind};
use wasmtime::{AsContextMut, WasmBacktrace, WasmCoreDump};

use crate::run::{Crash, RunRequest};

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
    mut store: impl AsContextMut,
    err: &wasmtime::Error,
    trap: wasmtime::Trap,
    request: &RunRequest,
    engine: &wasmtime::Engine,
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
    if let Some(native) = err.downcast_ref::<WasmCoreDump>() {
        let bytes = native.serialize(store.as_context_mut(), &request.name);
        match CoreDump::parse(&bytes) {
            Ok(mut parsed) => {
                enrich(&mut parsed, kind.clone(), &message, request, engine);
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

/// Adds what wasmtime's dump lacks: the trap, build id, path and capture facts.
fn enrich(
    dump: &mut CoreDump,
    kind: TrapKind,
    message: &str,
    request: &RunRequest,
    _engine: &wasmtime::Engine,
) {
    dump.trap = Some(TrapInfo {
        kind,
        message: message.to_string(),
    });
    let build_id = ModuleLayout::parse(&request.wasm)
        .ok()
        .and_then(|layout| layout.build_id().cloned());
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
