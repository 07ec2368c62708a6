//! Running a WASI command module once, and what came of it.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::{
    Config, Engine, Instance, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::Error;
use crate::capture::{self, BacktraceFrame};
use wasm_coredump::{CoreDump, TrapKind};

/// How a crash is captured.
///
/// Whatever the mode, a module instrumented by `coredump-rewrite` that wrote
/// its own dump gets that dump (its offsets are in the input module's
/// coordinates); `Off` turns that off too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capture {
    /// wasmtime's own core dump: frames, memories and globals; no locals.
    Native,
    /// Native capture plus wasmtime's guest debugging, which exposes every
    /// frame's locals and operand stack at the trap. Compiles slower code.
    GuestDebug,
    /// No dump; the trap is still reported.
    Off,
}

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub capture: Capture,
    /// Fuel units the module may burn before it is stopped.
    pub fuel: Option<u64>,
    /// Cap on each linear memory's size in bytes.
    pub max_memory_bytes: Option<usize>,
    /// Wall-clock limit per run, enforced with epoch interruption (an
    /// `interrupt` trap). Runs also yield to their executor at every epoch
    /// tick, so on a server one long run does not hold a worker thread.
    pub timeout: Option<Duration>,
    /// Pre-allocate this many instance slots (the pooling allocator), for
    /// servers that instantiate per request.
    pub pooled_instances: Option<u32>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            capture: Capture::Native,
            fuel: None,
            max_memory_bytes: None,
            timeout: None,
            pooled_instances: None,
        }
    }
}

/// Where the module's standard streams go.
#[derive(Debug, Clone)]
pub enum Stdio {
    /// Share the host process's stdin, stdout and stderr.
    Inherit,
    /// Feed `stdin` and collect stdout and stderr into the outcome.
    Capture { stdin: Vec<u8> },
}

/// One run of a module.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Shown as `argv[0]` and used as the dump's executable name.
    pub name: String,
    /// Where the module came from, recorded in the dump.
    pub path: Option<PathBuf>,
    /// The module's bytes (shared: a server runs one module many times).
    pub wasm: Arc<[u8]>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Preopened directories: host path and the guest path it appears at.
    pub dirs: Vec<(PathBuf, String)>,
    pub stdio: Stdio,
    /// Extra facts recorded in a dump's `postmortem.info` (e.g. the HTTP request).
    pub context: Vec<(String, String)>,
    /// This run's limits, where they differ from the host's.
    pub limits: RunLimits,
}

/// Limits of one run that override [`HostOptions`] (e.g. a served route's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLimits {
    /// Wall-clock limit; needs a host created with a `timeout` (epoch
    /// interruption is an engine setting).
    pub timeout: Option<Duration>,
    /// Cap on each linear memory's size in bytes. With pooled instances it
    /// can only be lower than the host's, whose slots are sized for that.
    pub max_memory_bytes: Option<usize>,
}

impl RunRequest {
    /// A request with no arguments, environment or directories, capturing stdio.
    pub fn new(name: impl Into<String>, wasm: impl Into<Arc<[u8]>>) -> Self {
        RunRequest {
            name: name.into(),
            path: None,
            wasm: wasm.into(),
            context: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            dirs: Vec::new(),
            stdio: Stdio::Capture { stdin: Vec::new() },
            limits: RunLimits::default(),
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The module returned from `_start` (0) or called `proc_exit`.
    Code(i32),
    /// The module trapped.
    Trap,
}

impl Exit {
    /// The process exit status `wasmtime run` would use: 134 (128 + SIGABRT) for a trap.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Trap => 134,
        }
    }
}

/// A trap and what was captured of it.
#[derive(Debug, Clone)]
pub struct Crash {
    pub kind: TrapKind,
    /// e.g. `wasm trap: integer divide by zero`.
    pub message: String,
    /// wasmtime's backtrace, youngest first.
    pub backtrace: Vec<BacktraceFrame>,
    /// The dump, unless capture was off or failed.
    pub dump: Option<CoreDump>,
    /// Why capture failed, when it did.
    pub dump_error: Option<String>,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub exit: Exit,
    pub crash: Option<Crash>,
    /// Collected output, with [`Stdio::Capture`].
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// What each store holds: the WASI context, limits and capture state.
pub struct HostState {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
    /// Frames with locals and operand stacks, recorded by the guest-debug
    /// handler when the trap happened.
    pub(crate) guest_frames: Option<Vec<capture::GuestFrame>>,
    /// Take native dumps through `WasmCoreDump::serialize` (the slow,
    /// reference path; tests compare the two).
    pub(crate) native_via_serialize: bool,
}

/// A configured engine that runs modules.
pub struct Host {
    engine: Engine,
    options: HostOptions,
    /// Set on drop to stop the epoch ticker thread.
    stop_ticker: Arc<AtomicBool>,
    /// WASI, linked once for every module.
    linker: Linker<HostState>,
    /// Drives [`Host::run_compiled`]; made on first use.
    runtime: OnceLock<tokio::runtime::Runtime>,
    /// See [`HostState::native_via_serialize`].
    pub(crate) native_via_serialize: bool,
}

/// The stdout and stderr pipes of a run with [`Stdio::Capture`].
type CapturedOutput = (Option<MemoryOutputPipe>, Option<MemoryOutputPipe>);

/// How often the epoch advances when a timeout is set.
const EPOCH_TICK: Duration = Duration::from_millis(10);

impl Drop for Host {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
        // Dropping a runtime blocks, which async code may not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

const CAPTURED_OUTPUT_LIMIT: usize = 64 << 20;

/// The most frames a backtrace or dump records (a deep recursion's oldest
/// frames beyond this are dropped).
pub const MAX_FRAMES: usize = 100_000;

impl Host {
    pub fn new(options: HostOptions) -> Result<Self, Error> {
        let mut config = Config::new();
        config.coredump_on_trap(options.capture != Capture::Off);
        config.guest_debug(options.capture == Capture::GuestDebug);
        // wasmtime keeps 20 frames by default; a dump wants the whole stack.
        config.wasm_backtrace_max_frames(NonZeroUsize::new(MAX_FRAMES));
        config.consume_fuel(options.fuel.is_some());
        config.epoch_interruption(options.timeout.is_some());
        if let Some(slots) = options.pooled_instances {
            let mut pool = PoolingAllocationConfig::new();
            pool.total_core_instances(slots)
                .total_memories(slots)
                .total_tables(slots)
                .total_stacks(slots);
            if let Some(max) = options.max_memory_bytes {
                pool.max_memory_size(max);
            }
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(Error::Engine)?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        if options.timeout.is_some() {
            let (engine, stop) = (engine.weak(), stop_ticker.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            });
        }
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state| &mut state.wasi)
            .map_err(Error::Wasi)?;
        Ok(Host {
            engine,
            options,
            stop_ticker,
            linker,
            runtime: OnceLock::new(),
            native_via_serialize: false,
        })
    }

    /// Links WASI to a module once, for many instantiations.
    pub fn pre_instantiate(
        &self,
        name: &str,
        module: &Module,
    ) -> Result<InstancePre<HostState>, Error> {
        self.linker
            .instantiate_pre(module)
            .map_err(|source| Error::Instantiate {
                name: name.to_string(),
                source,
            })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles and runs a command module's `_start`.
    pub fn run(&self, request: &RunRequest) -> Result<RunOutcome, Error> {
        let module = self.compile(&request.name, &request.wasm)?;
        self.run_compiled(&module, request)
    }

    /// Compiles a module once, for several runs.
    pub fn compile(&self, name: &str, wasm: &[u8]) -> Result<Module, Error> {
        Module::new(&self.engine, wasm).map_err(|source| Error::Compile {
            name: name.to_string(),
            source,
        })
    }

    /// Runs an already compiled module; `request.wasm` must be its bytes.
    pub fn run_compiled(&self, module: &Module, request: &RunRequest) -> Result<RunOutcome, Error> {
        let runtime = match self.runtime.get() {
            Some(runtime) => runtime,
            None => {
                // One worker drives timers and I/O; the run itself is polled
                // on the caller's thread, so runs from many threads proceed
                // in parallel.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Engine(e.into()))?;
                self.runtime.get_or_init(|| runtime)
            }
        };
        runtime.block_on(self.run_async(module, request))
    }

    /// Runs an already compiled module on the caller's async runtime.
    pub async fn run_async(
        &self,
        module: &Module,
        request: &RunRequest,
    ) -> Result<RunOutcome, Error> {
        let pre = self.pre_instantiate(&request.name, module)?;
        self.run_pre_async(&pre, request).await
    }

    /// Instantiates a linked module afresh and runs its `_start`.
    pub async fn run_pre_async(
        &self,
        pre: &InstancePre<HostState>,
        request: &RunRequest,
    ) -> Result<RunOutcome, Error> {
        let (mut store, (stdout, stderr)) = self.new_store(request)?;
        let instance = pre.instantiate_async(&mut store).await;
        let started = instance.as_ref().ok().copied();
        let result = self.call_start(&mut store, instance, request).await?;
        let (exit, crash) = match result {
            Ok(()) => (Exit::Code(0), None),
            Err(err) => {
                if let Some(exit) = err.downcast_ref::<I32Exit>() {
                    (Exit::Code(exit.0), None)
                } else if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
                    let instrumented = pre.module().get_export(capture::abi::LEN).is_some();
                    let crash = capture::crash(
                        &mut store,
                        started,
                        &err,
                        *trap,
                        request,
                        self.options.capture,
                        instrumented,
                    )
                    .await;
                    (Exit::Trap, Some(crash))
                } else {
                    return Err(Error::Host(err));
                }
            }
        };
        Ok(RunOutcome {
            exit,
            crash,
            stdout: stdout.map(|p| p.contents().to_vec()).unwrap_or_default(),
            stderr: stderr.map(|p| p.contents().to_vec()).unwrap_or_default(),
        })
    }

    /// Calls `_start`; the outer error is the host's, the inner one the module's.
    async fn call_start(
        &self,
        store: &mut Store<HostState>,
        instance: wasmtime::Result<Instance>,
        request: &RunRequest,
    ) -> Result<wasmtime::Result<()>, Error> {
        let instance = match instance {
            Ok(instance) => instance,
            // A trap in the start function surfaces here.
            Err(err) if err.downcast_ref::<wasmtime::Trap>().is_some() => return Ok(Err(err)),
            Err(source) => {
                return Err(Error::Instantiate {
                    name: request.name.clone(),
                    source,
                });
            }
        };
        let start = instance
            .get_typed_func::<(), ()>(&mut *store, "_start")
            .map_err(|_| Error::NotACommand {
                name: request.name.clone(),
            })?;
        Ok(start.call_async(&mut *store, ()).await)
    }

    /// A store with the request's WASI context, limits, deadline and capture hooks.
    fn new_store(&self, request: &RunRequest) -> Result<(Store<HostState>, CapturedOutput), Error> {
        let mut builder = WasiCtxBuilder::new();
        builder
            .arg(&request.name)
            .args(&request.args)
            .envs(&request.env);
        for (host, guest) in &request.dirs {
            builder
                .preopened_dir(host, guest, FsPerms::ReadWrite)
                .map_err(Error::Wasi)?;
        }
        let (stdout, stderr) = match &request.stdio {
            Stdio::Inherit => {
                builder.inherit_stdio();
                (None, None)
            }
            Stdio::Capture { stdin } => {
                let out = MemoryOutputPipe::new(CAPTURED_OUTPUT_LIMIT);
                let err = MemoryOutputPipe::new(CAPTURED_OUTPUT_LIMIT);
                builder
                    .stdin(MemoryInputPipe::new(stdin.clone()))
                    .stdout(out.clone())
                    .stderr(err.clone());
                (Some(out), Some(err))
            }
        };
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = request
            .limits
            .max_memory_bytes
            .or(self.options.max_memory_bytes)
        {
            limits = limits.memory_size(max);
        }
        let mut store = Store::new(
            &self.engine,
            HostState {
                wasi: builder.build_p1(),
                limits: limits.build(),
                guest_frames: None,
                native_via_serialize: self.native_via_serialize,
            },
        );
        store.limiter(|state| &mut state.limits);
        if let Some(fuel) = self.options.fuel {
            store.set_fuel(fuel).map_err(Error::Engine)?;
        }
        if request.limits.timeout.is_some() && self.options.timeout.is_none() {
            return Err(Error::Engine(wasmtime::Error::msg(
                "a per-run timeout needs a host created with a timeout (epoch interruption)",
            )));
        }
        if let Some(timeout) = request.limits.timeout.or(self.options.timeout) {
            // Every tick, give the executor a turn (a long request must not
            // hold a server's worker thread), and trap once time is up.
            let deadline = Instant::now() + timeout;
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                Ok(if Instant::now() >= deadline {
                    UpdateDeadline::Interrupt
                } else {
                    UpdateDeadline::Yield(1)
                })
            });
        }
        if self.options.capture == Capture::GuestDebug {
            store.set_debug_handler(capture::GuestFrameRecorder);
        }
        Ok((store, (stdout, stderr)))
    }
}
