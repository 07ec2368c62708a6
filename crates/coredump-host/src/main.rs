use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use coredump_host::{
    Capture, Collector, DUMP_SUFFIX, Host, HostOptions, RunRequest, Stdio, flush,
    write_dump_atomically,
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
    /// How to capture: `native` (wasmtime's dump: frames, memories, globals)
    /// or `guest-debug` (also every frame's locals and operand stack, from
    /// wasmtime's guest debugging; the module is compiled with debug hooks).
    #[arg(long, value_enum, default_value = "native")]
    capture: CaptureArg,
    /// Stop the module after it burns this much fuel (roughly, instructions).
    #[arg(long, value_name = "UNITS")]
    fuel: Option<u64>,
    /// Cap each linear memory at this many bytes.
    #[arg(long, value_name = "BYTES")]
    max_memory: Option<usize>,
    #[command(flatten)]
    collector: CollectorArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CaptureArg {
    Native,
    GuestDebug,
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
    }
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
            Capture::Native
        },
        fuel: args.fuel,
        max_memory_bytes: args.max_memory,
    })?;
    let request = RunRequest {
        name: name.clone(),
        path: Some(args.module.clone()),
        wasm,
        args: args.args,
        env: args.env,
        dirs: args.dirs,
        stdio: Stdio::Inherit,
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
