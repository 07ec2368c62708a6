//! The `wasmgdb` command: load a module and a core dump, run `-ex`
//! commands, then (without `--batch`) the interactive REPL.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use wasmgdb::{Flow, Options, Session, fetch::SymbolServer, repl};

/// A gdb-style debugger for WebAssembly core dumps.
///
/// Loads MODULE (the original module, its stripped build whose DWARF is
/// found by build id, or a module instrumented by coredump-rewrite) and
/// CORE (a Wasm core dump), prints how the program stopped, runs the -ex
/// commands, then (without --batch) reads gdb commands at a readline prompt
/// with history and tab completion. gdb's one-dash spellings -ex, -batch
/// and -q work too.
#[derive(Parser, Debug)]
#[command(name = "wasmgdb", version, about, long_about, after_long_help = AFTER_HELP)]
struct Cli {
    /// The Wasm module the dump came from.
    module: PathBuf,
    /// The core dump file (or, with --collector, a dump id).
    core: String,
    /// Directory holding debug files by build id (`debug-<id>.wasm` or
    /// `<xx>/<rest>.debug`). Repeatable.
    #[arg(long = "debug-dir", value_name = "DIR")]
    debug_dirs: Vec<PathBuf>,
    /// Symbol server to fetch debug files from, by build id
    /// (`GET URL/buildid/ID/debuginfo`).
    #[arg(long, value_name = "URL", env = "WASMGDB_SYMBOL_SERVER")]
    symbol_server: Option<String>,
    /// Where downloaded debug files are cached
    /// (default: ~/.cache/wasmgdb/debuginfo).
    #[arg(long, value_name = "DIR")]
    symbol_cache: Option<PathBuf>,
    /// Directory to search for source files. Repeatable.
    #[arg(long = "source-dir", short = 'd', value_name = "DIR")]
    source_dirs: Vec<PathBuf>,
    /// Collector base URL: CORE is then a dump id fetched from
    /// `URL/api/v1/dumps/ID/raw`.
    #[arg(long, value_name = "URL")]
    collector: Option<String>,
    /// Bearer token for --collector.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "WASMGDB_COLLECTOR_TOKEN",
        hide_env_values = true
    )]
    collector_token: Option<String>,
    /// Run this command (repeatable; in order) after loading.
    #[arg(long = "ex", value_name = "CMD", allow_hyphen_values = true)]
    ex: Vec<String>,
    /// Exit after the -ex commands instead of starting the REPL.
    #[arg(long)]
    batch: bool,
    /// Print bt, info locals, info args and print results as JSON.
    #[arg(long)]
    json: bool,
    /// Do not print the startup summary.
    #[arg(long, short = 'q', visible_alias = "silent")]
    quiet: bool,
}

const AFTER_HELP: &str = "\
Commands (gdb syntax; unique prefixes and gdb's abbreviations work):
  bt [full] [N|-N]          backtrace, inlined calls as frames of their own (#0 youngest)
  frame [N|function NAME]   select a frame; up [N], down [N]
  info frame|locals|args    the selected frame
  print[/x|d|u|o|t|c|f|a|s|z] EXPR
                            variables, statics, * & . -> [i], casts (T) and (T *)0xADDR,
                            integer arithmetic and comparisons, a@n, sizeof,
                            $N history, $localN $globalN $stackN (raw Wasm values), $sp, $pc
  ptype EXPR|TYPE, whatis EXPR|TYPE
  x/NFU ADDR                examine linear memory (F: x d u o t a c f s z, U: b h w g)
  find [/b|h|w|g] START, END|+LEN, VALUE...
  list [LINE|FIRST,LAST|FILE:LINE|FUNCTION|-], info source, info line
  set substitute-path FROM TO, set listsize N
  disassemble               the frame's function as Wasm text, => at the frame's instruction
  info registers [NAME]     the frame's Wasm locals, operand stack and globals
  info functions|types|variables [REGEX]
  info globals|imports|exports|modules|threads|memory|process
  help [COMMAND], quit (or Ctrl-D)

Examples:
  wasmgdb app.wasm app.core
  wasmgdb --batch -ex bt -ex 'frame 2' -ex 'p *item' app.wasm app.core
  wasmgdb --debug-dir ./debug app.stripped.wasm app.core
  wasmgdb --symbol-server https://collector.example/ app.wasm app.core
  wasmgdb --json --batch -ex bt app.wasm app.core";

/// gdb spells its options with one dash (`-ex`, `-batch`); accept both.
fn normalized_args() -> Vec<String> {
    std::env::args()
        .map(|a| match a.as_str() {
            "-ex" => "--ex".to_string(),
            "-batch" => "--batch".to_string(),
            "-q" | "-quiet" => "--quiet".to_string(),
            _ => a,
        })
        .collect()
}

fn fetch_from_collector(
    url: &str,
    id: &str,
    token: Option<&str>,
) -> anyhow::Result<(Vec<u8>, PathBuf)> {
    let url = format!("{}/api/v1/dumps/{id}/raw", url.trim_end_matches('/'));
    let mut request = ureq::get(&url);
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request.call().with_context(|| format!("GET {url}"))?;
    let mut body = response.into_body();
    let bytes = body
        .with_config()
        .limit(4 << 30)
        .read_to_vec()
        .with_context(|| format!("reading {url}"))?;
    Ok((bytes, PathBuf::from(format!("collector dump {id}"))))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut options = Options {
        debug_dirs: cli.debug_dirs,
        source_dirs: cli.source_dirs,
        json: cli.json,
        ..Options::default()
    };
    if let Some(url) = &cli.symbol_server {
        let cache = cli
            .symbol_cache
            .clone()
            .or_else(SymbolServer::default_cache);
        options
            .fetchers
            .push(Box::new(SymbolServer::new(url, cache)));
    }
    let mut session = match &cli.collector {
        Some(url) => {
            let (bytes, name) =
                fetch_from_collector(url, &cli.core, cli.collector_token.as_deref())?;
            Session::from_parts(&cli.module, &bytes, &name, options)?
        }
        None => Session::open(&cli.module, cli.core.as_ref(), options)?,
    };
    if !cli.quiet {
        print!("{}", session.banner());
    } else {
        for w in session.warnings() {
            eprintln!("warning: {w}");
        }
    }
    for command in &cli.ex {
        if repl::run_command(&mut session, command) == Flow::Quit {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if cli.batch {
        return Ok(ExitCode::SUCCESS);
    }
    repl::run(session)?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalized_args());
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wasmgdb: {e:#}");
            ExitCode::FAILURE
        }
    }
}
