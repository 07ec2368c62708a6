use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use coredump_host::{
    Capture, Collector, DUMP_SUFFIX, Host, HostOptions, RunRequest, ServeConfig, Stdio, flush,
    serve, write_dump_atomically,
};

/// Runs WebAssembly (WASI preview 1) command modules on wasmtime and writes a
/// core dump whenever one traps, for `wasmgdb` to open later.
#[derive(Parser)]
#[command(name = "coredump-host", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a module's `_start`; on a trap write a core dump and exit with 134.
    ///
    /// The exit status is the module's own (0, or its `proc_exit` code), or
    /// 134 (128 + SIGABRT) when it traps, as with `wasmtime run`.
    Run(RunArgs),
    /// Send every dump in the dump directory that the collector has not
    /// acknowledged yet.
    Flush(FlushArgs),
    /// Serve HTTP with a WAGI/CGI gateway: each route runs a module per request
    ///
    /// The request's method, path, query and headers become CGI variables
    /// (REQUEST_METHOD, SCRIPT_NAME, PATH_INFO, QUERY_STRING, CONTENT_TYPE,
    /// CONTENT_LENGTH, HTTP_*, ...), its body the module's stdin. The
    /// module's stdout is the response: CGI headers (Content-Type, Status,
    /// Location, others passed on), a blank line, the body. Every request
    /// runs in a fresh instance with a deadline and a memory cap. A request
    /// that traps answers 500 with the dump's id (JSON body and the
    /// x-coredump-id header); the dump, with the request's method, URL and
    /// headers (credentials scrubbed), is spooled and sent to the collector
    /// in the background, and retried while the collector is down.
    ///
    /// Logs go to stderr (RUST_LOG sets the level; default `info`). SIGINT or
    /// SIGTERM stop accepting connections, finish in-flight requests, try to
    /// deliver queued dumps, and exit 0.
    ///
    /// routes.toml (every [server] key is optional; defaults shown; module
    /// paths are relative to the file; see the crate README):
    ///
    ///   [server]
    ///   listen = "127.0.0.1:3000"
    ///   coredump_dir = "coredumps"      # dumps and the delivery spool
    ///   collector = "http://127.0.0.1:7070"   # default: none
    ///   token = "..."                   # better: COREDUMP_TOKEN
    ///   timeout_ms = 10000              # per request (an `interrupt` trap)
    ///   max_memory_bytes = 268435456    # per instance
    ///   max_body_bytes = 16777216       # larger bodies get 413
    ///   instances = 128                 # pooled slots = requests at once
    ///   capture = "native"              # or "guest-debug", "off"
    ///   retry_interval_ms = 30000       # retry of undelivered dumps
    ///
    ///   [[route]]
    ///   path = "/hello"                 # exact path
    ///   module = "hello.wasm"
    ///
    ///   [[route]]
    ///   path = "/api/..."               # /api and everything below it
    ///   module = "api.wasm"
    ///   args = ["--verbose"]            # after argv[0]
    ///   env = { MODE = "prod" }         # extra variables
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The routes file (TOML: a [server] table and [[route]] tables).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Listen on this address instead of `server.listen`.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// Write dumps here instead of `server.coredump_dir`.
    #[arg(long, value_name = "DIR")]
    coredump_dir: Option<PathBuf>,
    /// Capture mode, instead of `server.capture`.
    #[arg(long, value_enum)]
    capture: Option<CaptureArg>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(flatten)]
    collector: CollectorArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct CollectorArgs {
    /// Collector base URL (e.g. http://127.0.0.1:7070). Dumps are spooled in
    /// the dump directory and sent there, with retries; unsent ones go with
    /// the next run or `flush`.
    #[arg(long, value_name = "URL", env = "COREDUMP_COLLECTOR")]
    collector: Option<String>,
    /// Ingest token for the collector.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "COREDUMP_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

#[derive(clap::Args)]
struct FlushArgs {
    /// The dump directory (the spool).
    #[arg(long, value_name = "DIR", default_value = "coredumps")]
    coredump_dir: PathBuf,
    #[command(flatten)]
    collector: CollectorArgs,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The module to run.
    module: PathBuf,
    /// Arguments passed to the module (after `--`).
    #[arg(last = true)]
    args: Vec<String>,
    /// Set an environment variable for the module (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Give the module a host directory, as `HOST::GUEST` or just `DIR` (repeatable).
    #[arg(long = "dir", value_name = "HOST::GUEST", value_parser = parse_dir)]
    dirs: Vec<(PathBuf, String)>,
    /// Where core dumps are written.
    #[arg(long, value_name = "DIR", default_value = "coredumps")]
    coredump_dir: PathBuf,
    /// Do not capture core dumps (traps are still reported).
    #[arg(long)]
    no_coredump: bool,
    /// How to capture: `native` (wasmtime's dump: frames, memories, globals;
    /// no cost until a trap) or `guest-debug` (also every frame's locals and
    /// operand stack, from wasmtime's guest debugging; the module is compiled
    /// with debug hooks and runs several times slower). A module instrumented
    /// by coredump-rewrite delivers its own dump in either mode.
    #[arg(long, value_enum, default_value = "native")]
    capture: CaptureArg,
    /// Stop the module after it burns this much fuel (roughly, instructions).
    #[arg(long, value_name = "UNITS")]
    fuel: Option<u64>,
    /// Cap each linear memory at this many bytes.
    #[arg(long, value_name = "BYTES")]
    max_memory: Option<usize>,
    /// Stop the module after this many milliseconds (an `interrupt` trap).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    #[command(flatten)]
    collector: CollectorArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CaptureArg {
    Native,
    GuestDebug,
    /// No dump (as `--no-coredump`).
    Off,
}

impl From<CaptureArg> for Capture {
    fn from(arg: CaptureArg) -> Capture {
        match arg {
            CaptureArg::Native => Capture::Native,
            CaptureArg::GuestDebug => Capture::GuestDebug,
            CaptureArg::Off => Capture::Off,
        }
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

fn parse_dir(text: &str) -> Result<(PathBuf, String), String> {
    match text.split_once("::") {
        Some((host, guest)) if !host.is_empty() && !guest.is_empty() => {
            Ok((PathBuf::from(host), guest.to_string()))
        }
        Some(_) => Err(format!("`{text}` is not HOST::GUEST")),
        None => Ok((PathBuf::from(text), text.to_string())),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("coredump-host: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run_module(args),
        Command::Flush(args) => {
            let collector = collector(&args.collector)
                .context("`flush` needs --collector (or COREDUMP_COLLECTOR)")?;
            let pending = send_spool(&collector, &args.coredump_dir)?;
            Ok(if pending == 0 { 0 } else { 1 })
        }
        Command::Serve(args) => serve_routes(args),
    }
}

fn serve_routes(args: ServeArgs) -> Result<u8> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let mut config = ServeConfig::load(&args.config)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(dir) = args.coredump_dir {
        config.server.coredump_dir = dir;
    }
    if let Some(capture) = args.capture {
        config.server.capture = capture.into();
    }
    if let Some(url) = args.collector.collector {
        config.server.collector = Some(url);
    }
    if let Some(token) = args.collector.token {
        config.server.token = Some(token);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        serve(config, shutdown).await?;
        Ok(0)
    })
}

/// Resolves on the first SIGINT or SIGTERM.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    Ok(async move {
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = which, "shutdown requested");
    })
}

fn collector(args: &CollectorArgs) -> Option<Collector> {
    args.collector
        .as_ref()
        .map(|url| Collector::new(url.clone(), args.token.clone()))
}

/// Flushes the spool, reporting each dump; returns how many are still pending.
fn send_spool(collector: &Collector, dir: &std::path::Path) -> Result<usize> {
    let report = flush(collector, dir)?;
    for (path, receipt) in &report.delivered {
        eprintln!(
            "coredump-host: delivered {} to {}: {}",
            path.display(),
            collector.url,
            receipt.body.trim()
        );
    }
    for (path, why) in &report.rejected {
        eprintln!(
            "coredump-host: collector rejected {}: {why}",
            path.display()
        );
    }
    for (path, why) in &report.pending {
        eprintln!(
            "coredump-host: {} stays in the spool: {why}",
            path.display()
        );
    }
    Ok(report.pending.len())
}

fn run_module(args: RunArgs) -> Result<u8> {
    let wasm = std::fs::read(&args.module)
        .with_context(|| format!("cannot read {}", args.module.display()))?;
    let name = args
        .module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "module.wasm".into());
    let host = Host::new(HostOptions {
        capture: if args.no_coredump {
            Capture::Off
        } else {
            args.capture.into()
        },
        fuel: args.fuel,
        max_memory_bytes: args.max_memory,
        timeout: args.timeout_ms.map(std::time::Duration::from_millis),
        pooled_instances: None,
    })?;
    let request = RunRequest {
        name: name.clone(),
        path: Some(args.module.clone()),
        wasm: wasm.into(),
        args: args.args,
        env: args.env,
        dirs: args.dirs,
        stdio: Stdio::Inherit,
        context: Vec::new(),
        limits: Default::default(),
    };
    let outcome = host.run(&request)?;
    if let Some(crash) = &outcome.crash {
        eprintln!("coredump-host: {} ({})", crash.message, crash.kind);
        for (i, frame) in crash.backtrace.iter().enumerate() {
            let name = frame.name.as_deref().unwrap_or("<unnamed>");
            match frame.module_offset {
                Some(offset) => {
                    eprintln!("  #{i} {offset:#08x} in {name} (func {})", frame.function)
                }
                None => eprintln!("  #{i} {name} (func {})", frame.function),
            }
        }
        if let Some(dump) = &crash.dump {
            let stem = args
                .module
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned());
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let file = format!(
                "{}-{secs}-{}{DUMP_SUFFIX}",
                stem.as_deref().unwrap_or("module"),
                std::process::id()
            );
            let path = write_dump_atomically(&args.coredump_dir, &file, &dump.to_bytes())?;
            eprintln!("coredump-host: core dump written to {}", path.display());
        } else if let Some(why) = &crash.dump_error {
            eprintln!("coredump-host: no core dump: {why}");
        }
    }
    if let Some(collector) = collector(&args.collector) {
        // Delivery problems are reported, never turned into the module's status.
        if let Err(err) = send_spool(&collector, &args.coredump_dir) {
            eprintln!("coredump-host: cannot deliver dumps: {err:#}");
        }
    }
    // Exit statuses outside 0..=255 wrap, as a process's would.
    Ok(outcome.exit.status() as u8)
}
