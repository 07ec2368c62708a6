//! `coredump-rewrite`: the command-line front end of the library.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use coredump_rewrite::{Checks, Options};

/// Instrument a WebAssembly module so that it writes its own core dump when it traps.
///
/// The output behaves exactly like the input until a trap. On a trap it
/// unwinds to the outermost Wasm frame, writing a complete tool-conventions
/// core dump (every frame with its function index, code offset in the INPUT
/// module, parameters, locals and the trapping frame's operand stack; all
/// globals; all memories, sparsely) into a region it grows beyond the end of
/// memory 0, then traps for real with the same trap kind.
///
/// Hosts fetch the dump after catching the trap through three exports:
/// `__coredump_ptr()` and `__coredump_len()` (0 when there is no dump) give
/// the bytes in `__coredump_memory`. See ABI.md and the JS helper in js/coredump.
///
/// Dumps use the input module's code offsets and carry its build_id, so the
/// input (or its split debug file) symbolicates them. DWARF, source maps and
/// external_debug_info are removed from the output, as they describe the
/// input's code.
#[derive(Parser, Debug)]
#[command(
    name = "coredump-rewrite",
    version,
    verbatim_doc_comment,
    after_long_help = "Examples:
  coredump-rewrite app.wasm app.instrumented.wasm
  coredump-rewrite --bounds-checks --call-depth-limit 20000 -v app.wasm out.wasm
  cat app.wasm | coredump-rewrite - - > out.wasm

Exit status: 0 on success, 1 when the input cannot be read, is not a valid
module (or is a component or an object file), was already instrumented, or
the output cannot be written. Warnings (checks that could not be added) go
to stderr; the output is valid either way."
)]
struct Cli {
    /// Input module (`-` for stdin).
    input: PathBuf,
    /// Output module (`-` for stdout).
    output: PathBuf,
    /// Name recorded in dumps as the executable and module name
    /// [default: the input's file name].
    #[arg(long)]
    name: Option<String>,
    /// Also check every load and store, so out-of-bounds accesses dump too
    /// (costs size and time: see the crate README for figures).
    #[arg(long)]
    bounds_checks: bool,
    /// Trap with stack-overflow, and dump, when Wasm calls nest deeper than N.
    /// Pick N below the engine's own limit (node's default stack holds roughly
    /// 10,000 to 50,000 frames, depending on frame sizes).
    #[arg(long, value_name = "N")]
    call_depth_limit: Option<u32>,
    /// Do not instrument `unreachable`.
    #[arg(long)]
    no_unreachable: bool,
    /// Do not check integer division and remainder.
    #[arg(long)]
    no_div: bool,
    /// Do not check float-to-int conversions.
    #[arg(long)]
    no_trunc: bool,
    /// Do not check `call_indirect`.
    #[arg(long)]
    no_call_indirect: bool,
    /// Do not check `memory.fill/copy/init`.
    #[arg(long)]
    no_bulk_memory: bool,
    /// Do not check `table.*` instructions.
    #[arg(long)]
    no_table: bool,
    /// Skip validating the output (saves time on very large modules).
    #[arg(long)]
    no_verify: bool,
    /// Leave out the offset map (section `postmortem.offsets`, about 3 bytes
    /// per call or check). Without it, a host's native dump of a trap the
    /// rewriter does not check names the instrumented code, not the input's.
    #[arg(long)]
    no_offset_map: bool,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print what was instrumented to stderr.
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("coredump-rewrite: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let stdin = cli.input.as_os_str() == "-";
    let wasm = if stdin {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read stdin")?;
        buf
    } else {
        std::fs::read(&cli.input).with_context(|| format!("cannot read {}", cli.input.display()))?
    };
    let name = cli.name.clone().unwrap_or_else(|| {
        if stdin {
            "module.wasm".to_string()
        } else {
            cli.input.file_name().map_or_else(
                || "module.wasm".to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        }
    });
    let opts = Options {
        name,
        checks: Checks {
            unreachable: !cli.no_unreachable,
            div: !cli.no_div,
            trunc: !cli.no_trunc,
            call_indirect: !cli.no_call_indirect,
            bulk_memory: !cli.no_bulk_memory,
            table: !cli.no_table,
            bounds: cli.bounds_checks,
        },
        call_depth_limit: cli.call_depth_limit,
        verify: !cli.no_verify,
        offset_map: !cli.no_offset_map,
        threads: cli.threads,
    };
    let out = coredump_rewrite::rewrite(&wasm, &opts)?;
    for w in &out.report.warnings {
        eprintln!("coredump-rewrite: warning: {w}");
    }
    if cli.verbose {
        let r = &out.report;
        let c = &r.counts;
        let code = r.input_size - r.debug_bytes_removed;
        eprintln!(
            "coredump-rewrite: {} -> {} bytes ({:+.1}% over the input without its {} bytes of debug \
             info); {} of {} functions instrumented, {} call checks, {} unreachable, {} checked trap \
             sites, {} bounds checks, {} wrappers, {} helpers; {} ms analysis, {} ms rewrite, {} ms verify",
            r.input_size,
            r.output_size,
            (r.output_size as f64 / code.max(1) as f64 - 1.0) * 100.0,
            r.debug_bytes_removed,
            c.padded,
            r.functions,
            c.call_checks,
            c.unreachable,
            c.checked_sites,
            c.bounds_checks,
            r.wrappers,
            r.helpers,
            r.timings_ms[0],
            r.timings_ms[1],
            r.timings_ms[2],
        );
    }
    if cli.output.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&out.wasm).context("cannot write stdout")?;
        stdout.flush().context("cannot write stdout")?;
    } else {
        std::fs::write(&cli.output, &out.wasm)
            .with_context(|| format!("cannot write {}", cli.output.display()))?;
    }
    Ok(())
}
