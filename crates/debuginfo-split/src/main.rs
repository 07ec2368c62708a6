//! `debuginfo-split`: the command-line front end of the `debuginfo_split` library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use debuginfo_split::{
    BuildId, DebugOutput, EXIT_ERROR, Error, SplitFileOptions, SplitReport, Verification,
    split_file, verify_files,
};

const ABOUT: &str = "Move a WebAssembly module's DWARF into a separate, build-id-tagged debug file";

const LONG_ABOUT: &str = "\
Move a WebAssembly module's DWARF into a separate, build-id-tagged debug file.

Reads IN.wasm and writes two modules:

  stripped module  IN.wasm without its `.debug_*` custom sections (DWARF 4 and 5:
                   .debug_info, .debug_line, .debug_str, .debug_addr, .debug_rnglists,
                   ...), plus a `build_id` section and an `external_debug_info` section
                   naming the debug file. Every other section is copied byte for byte:
                   the Code section, and so every DWARF address into it, is unchanged.
  debug file       a full byte-for-byte copy of IN.wasm (code, data, `name` and all
                   the DWARF) with the same `build_id` and no `external_debug_info`.
                   It is a valid module whose Code section is identical to the
                   stripped module's, so its DWARF addresses resolve against either.

The build id is, in order of preference: --build-id; the input's own `build_id`
section (as written by `wasm-ld --build-id`), kept byte for byte; or
UUIDv5(namespace, SHA-256 of the input file), so that the same input always gets
the same id and the same output bytes.";

const AFTER_HELP: &str = "\
Exit codes:
  0  success (for `verify`: the files belong together)
  1  error: unreadable or malformed input, I/O error, refusing to overwrite the
     input; for `verify`: the files do not belong together
  2  usage error (bad or missing arguments)
  3  the module has no DWARF (no `.debug_*` sections): nothing to split, nothing written
  4  the module is already split (no DWARF, has `external_debug_info`): nothing changed";

const AFTER_LONG_HELP: &str = "\
Output files:
  Without -o the stripped module is written next to the input as IN.stripped.wasm
  (`app.wasm` -> `app.stripped.wasm`). The input is never overwritten unless
  --in-place is given. Without -d/--debug-dir the debug file is written as
  debug-<uuid>.wasm next to the stripped module. Every file is written to a
  temporary file in its target directory and renamed into place, so a reader
  never sees a partial file; the debug file is written before the stripped
  module. Existing output files are replaced.

external_debug_info:
  Unless --external-url is given, the URL is the debug file's path relative to the
  stripped module's directory, with `/` separators (`debug-<uuid>.wasm` by
  default). Any `external_debug_info` section of the input is dropped.

Debug file lookup (how wasmgdb will find the debug file of a stripped module):
  1. the stripped module's `external_debug_info` URL, resolved against the
     module's directory;
  2. in each debug directory DIR (e.g. one filled with --debug-dir):
       DIR/debug-<uuid>.wasm           the flat name this tool writes
       DIR/ab/cdef0123....debug        gdb's .build-id layout: the first two hex
                                       digits of the id as a directory, the other
                                       30 as the file name (lower-case, no dashes)
  A candidate is used only when its build id matches the module's.

Offsets: DWARF addresses count from the Code section payload and never change.
Whole-module offsets (as node/V8 traces print them) shift by the size of any
removed section that came before the Code section (toolchains put DWARF after it).

Examples:
  debuginfo-split app.wasm
      -> app.stripped.wasm, debug-<uuid>.wasm
  debuginfo-split app.wasm -o dist/app.wasm --debug-dir symbols --json
  debuginfo-split app.wasm --in-place --external-url 'https://symbols.example.com/{build_id}.wasm'
  debuginfo-split verify dist/app.wasm symbols/debug-<uuid>.wasm

Exit codes:
  0  success (for `verify`: the files belong together)
  1  error: unreadable or malformed input, I/O error, refusing to overwrite the
     input; for `verify`: the files do not belong together
  2  usage error (bad or missing arguments)
  3  the module has no DWARF (no `.debug_*` sections): nothing to split, nothing written
  4  the module is already split (no DWARF, has `external_debug_info`): nothing changed";

#[derive(Debug, Parser)]
#[command(
    name = "debuginfo-split",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    after_long_help = AFTER_LONG_HELP,
    override_usage = "debuginfo-split [OPTIONS] <IN.wasm>\n       debuginfo-split verify <STRIPPED> <DEBUG>",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    split: SplitArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that a stripped module and a debug file belong together.
    ///
    /// They do when both carry the same build id and their Code sections are
    /// byte-identical (so the debug file's DWARF addresses resolve in the
    /// stripped module). Exit code 0 when they match, 1 when they do not (with
    /// the reasons) or when a file cannot be read or parsed.
    #[command(
        after_help = "Exit codes: 0 the files belong together; 1 they do not, or an error; 2 usage error."
    )]
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The stripped module.
    stripped: PathBuf,
    /// The debug file.
    debug: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SplitArgs {
    /// The module to split (a core Wasm module with DWARF).
    #[arg(value_name = "IN.wasm", required = true)]
    input: Option<PathBuf>,

    /// Where to write the stripped module [default: IN.stripped.wasm next to the input].
    #[arg(short, long, value_name = "OUT.wasm", conflicts_with = "in_place")]
    output: Option<PathBuf>,

    /// Where to write the debug file [default: debug-<uuid>.wasm next to the stripped module].
    #[arg(
        short = 'd',
        long = "debug-file",
        value_name = "DEBUG.wasm",
        conflicts_with = "debug_dir"
    )]
    debug_file: Option<PathBuf>,

    /// Write the debug file as DIR/debug-<uuid>.wasm (DIR is created if missing).
    #[arg(long, value_name = "DIR")]
    debug_dir: Option<PathBuf>,

    /// Use this build id (a UUID, or any even number of hex digits) instead of
    /// the input's `build_id` section or the derived one; an existing
    /// `build_id` section is then replaced in both outputs.
    #[arg(long, value_name = "UUID", value_parser = parse_build_id)]
    build_id: Option<BuildId>,

    /// Also remove the `name` section from the stripped module (the debug file keeps it).
    #[arg(long)]
    strip_names: bool,

    /// The URL to write into the stripped module's `external_debug_info`
    /// section; `{build_id}` is replaced by the build id
    /// [default: the debug file's path relative to the stripped module].
    #[arg(long, value_name = "URL")]
    external_url: Option<String>,

    /// Replace the input with the stripped module (its permissions are kept).
    #[arg(long)]
    in_place: bool,

    /// fsync both outputs and their directories before exiting.
    #[arg(long)]
    sync: bool,

    /// Print one JSON object (build_id, stripped, debug_file, external_url,
    /// sizes, ...) instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_build_id(text: &str) -> Result<BuildId, String> {
    BuildId::parse(text).ok_or_else(|| {
        format!("`{text}` is not a build id: expected a UUID or an even number of hex digits")
    })
}

fn main() -> ExitCode {
    // clap exits with 2 on usage errors, 0 for --help/--version.
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Verify(args)) => run_verify(&args),
        None => run_split(cli.split),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // Our errors already include their causes in their message.
            let (code, message) = match err.downcast_ref::<Error>() {
                Some(ours) => (ours.exit_code(), ours.to_string()),
                None => (EXIT_ERROR, format!("{err:#}")),
            };
            eprintln!("debuginfo-split: error: {message}");
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

fn run_split(args: SplitArgs) -> anyhow::Result<u8> {
    let input = args.input.context("missing input module")?;
    let debug_output = match (args.debug_file, args.debug_dir) {
        (Some(file), _) => DebugOutput::File(file),
        (None, Some(dir)) => DebugOutput::Dir(dir),
        (None, None) => DebugOutput::NextToStripped,
    };
    let report = split_file(&SplitFileOptions {
        input,
        output: args.output,
        debug_output,
        build_id: args.build_id,
        strip_names: args.strip_names,
        external_url: args.external_url,
        in_place: args.in_place,
        sync: args.sync,
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(0)
}

fn print_report(report: &SplitReport) {
    let s = &report.sizes;
    println!("build id    {} ({})", report.build_id, source_text(report));
    println!(
        "stripped    {}  {} (input {}, {} of DWARF removed)",
        report.stripped.display(),
        human(s.stripped),
        human(s.input),
        human(s.dwarf)
    );
    println!(
        "debug file  {}  {}",
        report.debug_file.display(),
        human(s.debug_file)
    );
    println!("external_debug_info  {}", report.external_url);
}

fn source_text(report: &SplitReport) -> &'static str {
    match report.build_id_source {
        debuginfo_split::BuildIdSource::Existing => "kept from the input",
        debuginfo_split::BuildIdSource::Derived => "derived from the input's SHA-256",
        debuginfo_split::BuildIdSource::Override => "given with --build-id",
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn run_verify(args: &VerifyArgs) -> anyhow::Result<u8> {
    let result = verify_files(&args.stripped, &args.debug)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&verify_json(args, &result))?
        );
    } else if result.matches() {
        println!(
            "ok: {} and {} belong together (build id {}, Code section {} bytes)",
            args.stripped.display(),
            args.debug.display(),
            result
                .build_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            result.code_bytes.unwrap_or(0)
        );
    } else {
        eprintln!(
            "debuginfo-split: {} and {} do not belong together:",
            args.stripped.display(),
            args.debug.display()
        );
        for mismatch in &result.mismatches {
            eprintln!("  - {mismatch}");
        }
    }
    if !args.json {
        for warning in &result.warnings {
            eprintln!("debuginfo-split: warning: {warning}");
        }
    }
    Ok(if result.matches() { 0 } else { 1 })
}

fn verify_json(args: &VerifyArgs, result: &Verification) -> serde_json::Value {
    serde_json::json!({
        "matches": result.matches(),
        "stripped": args.stripped,
        "debug_file": args.debug,
        "build_id": result.build_id.as_ref().map(ToString::to_string),
        "code_bytes": result.code_bytes,
        "external_url": result.external_url,
        "mismatches": result.mismatches,
        "warnings": result.warnings,
    })
}
