//! A WASI host on wasmtime that runs command modules and turns every trap into
//! a spec core dump, written with the `wasm-coredump` crate.
//!
//! The host owns the engine configuration and the mapping from wasmtime's
//! view of a crash (trap code, native `WasmCoreDump`, guest-debug frames, or
//! the dump a `coredump-rewrite`-instrumented module wrote itself) to the
//! project's dump model, with the trap kind, message and the module's build
//! id and path recorded in the dump's extension sections. Around that: dump
//! files written atomically, delivery to the collector through an on-disk
//! spool (`deliver`), and a WAGI/CGI HTTP gateway (`serve`).

mod capture;
mod deliver;
mod run;
mod serve;
mod store;

pub use capture::{BacktraceFrame, trap_kind};
pub use deliver::{
    Collector, DUMP_SUFFIX, DeliveryError, FlushReport, Receipt, deliver, flush, pending_dumps,
};
pub use run::{
    Capture, Crash, Exit, Host, HostOptions, HostState, MAX_FRAMES, RunLimits, RunOutcome,
    RunRequest, Stdio,
};
pub use serve::{
    DUMP_ID_HEADER, RouteConfig, ServeConfig, ServeError, ServerSettings, cgi_response,
    request_context, serve, serve_on,
};
pub use store::write_dump_atomically;

/// Errors from loading or running a module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot compile {name}: {source:#}")]
    Compile {
        name: String,
        source: wasmtime::Error,
    },
    #[error("cannot instantiate {name}: {source:#}")]
    Instantiate {
        name: String,
        source: wasmtime::Error,
    },
    #[error("cannot set up the engine: {0:#}")]
    Engine(wasmtime::Error),
    #[error("cannot set up WASI: {0:#}")]
    Wasi(wasmtime::Error),
    #[error("{name} has no `_start` export: only WASI command modules can be run")]
    NotACommand { name: String },
    #[error("the module failed outside of Wasm code: {0:#}")]
    Host(wasmtime::Error),
    #[error("cannot write the core dump to {path}: {source}")]
    WriteDump {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}
