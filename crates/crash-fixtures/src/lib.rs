//! Crashing programs built for `wasm32-wasi`, and what a debugger should find in them.
//!
//! The repository's `fixtures/` directory holds small C, Zig and Rust programs
//! that crash on demand (`argv[1]` picks the crash), each built twice (with and
//! without optimisation) with DWARF. `fixtures/manifest.json` records, for every
//! build and crash mode, the Wasm trap that ends the run, the user-code frames
//! of the backtrace (function, file, line) and the values of some variables,
//! all worked out from the sources. `demo/` holds the walk-through program and
//! its `expected.json` in the same format.
//!
//! This crate loads those manifests for other crates' tests:
//!
//! ```no_run
//! let manifest = crash_fixtures::Manifest::load()?;
//! for (program, mode) in manifest.cases() {
//!     let wasm = program.wasm_bytes()?;
//!     // ... run `wasm` with `mode.args`, then compare the backtrace with
//!     // `mode.frames` and printed values with `mode.variables`.
//!     # let _ = (wasm, mode);
//! }
//! # Ok::<(), crash_fixtures::Error>(())
//! ```
//!
//! Regenerate the fixtures with `bash fixtures/build.sh`; see `fixtures/README.md`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// The manifest format version this crate reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Errors from loading manifests and fixture files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot parse {path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: manifest version {found} is not supported (expected {MANIFEST_VERSION})")]
    Version { path: PathBuf, found: u32 },
    #[error("{path} is not a valid Wasm module: {source}")]
    InvalidWasm {
        path: PathBuf,
        source: wasmparser::BinaryReaderError,
    },
    #[error("cannot run {command}: {source}")]
    Spawn { command: String, source: io::Error },
}

/// The repository root, found when the program runs (from the
/// `CARGO_MANIFEST_DIR` cargo sets for tests and benches) rather than only
/// when it was compiled: a build cache shared by two checkouts can hand one
/// of them artifacts compiled in the other.
pub fn repo_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR")
        && let Some(root) = Path::new(&dir)
            .ancestors()
            .find(|a| a.join("fixtures/manifest.json").is_file())
    {
        return root.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `fixtures/` in the repository.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("fixtures")
}

/// `demo/` in the repository.
pub fn demo_dir() -> PathBuf {
    repo_root().join("demo")
}

/// `fixtures/run-node.mjs`: runs a WASI command module under node's `node:wasi`.
pub fn node_runner() -> PathBuf {
    fixtures_dir().join("run-node.mjs")
}

/// A manifest: `fixtures/manifest.json` or `demo/expected.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub programs: Vec<Program>,
}

impl Manifest {
    /// Loads `fixtures/manifest.json`.
    pub fn load() -> Result<Manifest, Error> {
        Manifest::load_from(&fixtures_dir().join("manifest.json"))
    }

    /// Loads `demo/expected.json`.
    pub fn load_demo() -> Result<Manifest, Error> {
        Manifest::load_from(&demo_dir().join("expected.json"))
    }

    /// Loads a manifest; the programs' paths are relative to its directory.
    pub fn load_from(path: &Path) -> Result<Manifest, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut manifest: Manifest = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        if manifest.version != MANIFEST_VERSION {
            return Err(Error::Version {
                path: path.to_owned(),
                found: manifest.version,
            });
        }
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for program in &mut manifest.programs {
            program.base_dir = base.clone();
        }
        Ok(manifest)
    }

    /// The program with this id (`"c-O0"`, `"rust-O2"`, ...).
    pub fn program(&self, id: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.id == id)
    }

    /// Every (program, mode) pair.
    pub fn cases(&self) -> impl Iterator<Item = (&Program, &Mode)> {
        self.programs
            .iter()
            .flat_map(|p| p.modes.iter().map(move |m| (p, m)))
    }
}

/// The source language of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    C,
    Zig,
    Rust,
}

/// One build of one program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Unique id, e.g. `"c-O0"`.
    pub id: String,
    pub language: Language,
    /// The build's name: `O0`/`O2` (C), `Debug`/`ReleaseSafe` (Zig), `debug`/`O2` (Rust).
    pub build: String,
    /// Whether the optimiser ran (variables may then be optimised out).
    pub optimized: bool,
    /// Source file, relative to the manifest's directory.
    pub source: String,
    /// Module, relative to the manifest's directory.
    pub wasm: String,
    pub modes: Vec<Mode>,
    #[serde(skip)]
    base_dir: PathBuf,
}

impl Program {
    /// Absolute-or-relative path of the `.wasm` file.
    pub fn wasm_path(&self) -> PathBuf {
        self.base_dir.join(&self.wasm)
    }

    /// The module's bytes.
    pub fn wasm_bytes(&self) -> Result<Vec<u8>, Error> {
        let path = self.wasm_path();
        std::fs::read(&path).map_err(|source| Error::Io { path, source })
    }

    /// Path of the source file.
    pub fn source_path(&self) -> PathBuf {
        self.base_dir.join(&self.source)
    }

    /// The source file's text.
    pub fn source_text(&self) -> Result<String, Error> {
        let path = self.source_path();
        std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
    }

    /// The source file's name without directories (what `frames[].file` holds).
    pub fn source_file_name(&self) -> &str {
        self.source.rsplit('/').next().unwrap_or(&self.source)
    }

    /// The module's file name without directories, e.g. `crash-O0.wasm`.
    pub fn wasm_file_name(&self) -> &str {
        self.wasm.rsplit('/').next().unwrap_or(&self.wasm)
    }

    /// The mode with this name.
    pub fn mode(&self, name: &str) -> Option<&Mode> {
        self.modes.iter().find(|m| m.mode == name)
    }

    /// Validates the module with every Wasm feature wasmparser knows enabled.
    pub fn validate(&self) -> Result<(), Error> {
        let bytes = self.wasm_bytes()?;
        validate_wasm(&bytes).map_err(|source| Error::InvalidWasm {
            path: self.wasm_path(),
            source,
        })
    }
}

/// Validates a module with all features enabled (the Zig builds use bulk
/// memory, sign extension, non-trapping float-to-int and multi-value).
pub fn validate_wasm(bytes: &[u8]) -> Result<(), wasmparser::BinaryReaderError> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .map(|_| ())
}

/// One crash mode (or the `ok` run) of a program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mode {
    /// The mode's name, e.g. `"divide-by-zero"`.
    pub mode: String,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// The trap that ends the run; `None` for a run that exits.
    #[serde(with = "trap_name")]
    pub trap: Option<TrapKind>,
    /// The exit code of a run that exits; `None` when it traps.
    pub exit_code: Option<i32>,
    /// The exact standard output of a run that exits, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// User-code frames, youngest first.
    pub frames: Vec<ExpectedFrame>,
    pub variables: Vec<ExpectedVariable>,
}

impl Mode {
    /// Whether this mode ends in a trap.
    pub fn crashes(&self) -> bool {
        self.trap.is_some()
    }
}

/// A frame of the expected backtrace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFrame {
    /// Source-level name: `divide` (C), `crash::divide` (Rust, no hash), `crash.divide` (Zig).
    pub function: String,
    /// The source file's base name.
    pub file: String,
    /// Line of the call (callers) or of the crashing expression (youngest frame).
    pub line: u32,
}

/// A variable a debugger should be able to print in one of the frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedVariable {
    /// Index into the mode's `frames`.
    pub frame: usize,
    /// A gdb expression: `x`, `p->next->value`, `arr[2]`, `s.name`.
    pub expr: String,
    /// The gdb-style print of the value (`3`, `2.5`, `66 'B'`, `"abc"`, `true`).
    pub value: String,
    /// `Some("string")` when `value` is a quoted string: gdb also prints a
    /// C string's address before it, so compare the quoted part only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The optimiser may legitimately have dropped this variable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_be_optimized_out: bool,
}

impl ExpectedVariable {
    /// Whether a debugger's printed value is this one (strings: the quoted
    /// part, after the address gdb prints for a C string).
    pub fn matches_printed(&self, printed: &str) -> bool {
        if self.kind.as_deref() == Some("string") {
            printed == self.value || printed.ends_with(&format!(" {}", self.value))
        } else {
            printed == self.value
        }
    }

    /// For `kind: "string"`, the string's contents without the quotes.
    pub fn string_contents(&self) -> Option<String> {
        if self.kind.as_deref() != Some("string") {
            return None;
        }
        serde_json::from_str::<String>(&self.value).ok()
    }
}

pub use wasm_coredump::TrapKind;

/// The trap kinds that a V8 (node) error message can stand for. V8 uses one
/// message for a null table entry and a signature mismatch, so that one maps
/// to two kinds. Unknown messages map to none.
pub fn trap_kinds_from_v8_message(message: &str) -> &'static [TrapKind] {
    const TABLE: &[(&str, &[TrapKind])] = &[
        ("divide by zero", &[TrapKind::IntegerDivideByZero]),
        ("remainder by zero", &[TrapKind::IntegerDivideByZero]),
        (
            "divide result unrepresentable",
            &[TrapKind::IntegerOverflow],
        ),
        (
            // V8 has one message for NaN (invalid conversion) and out of range (overflow).
            "float unrepresentable in integer range",
            &[TrapKind::IntegerOverflow, TrapKind::BadConversionToInteger],
        ),
        (
            "memory access out of bounds",
            &[TrapKind::MemoryOutOfBounds],
        ),
        (
            "null function or function signature mismatch",
            &[TrapKind::IndirectCallToNull, TrapKind::BadSignature],
        ),
        (
            "table index is out of bounds",
            &[TrapKind::TableOutOfBounds],
        ),
        (
            "Maximum call stack size exceeded",
            &[TrapKind::StackOverflow],
        ),
        ("unreachable", &[TrapKind::Unreachable]),
    ];
    TABLE
        .iter()
        .find(|(text, _)| message.contains(text))
        .map(|(_, kinds)| *kinds)
        .unwrap_or(&[])
}

/// Manifest traps are written as their stable kebab-case names; unknown names are refused.
mod trap_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use wasm_coredump::TrapKind;

    pub fn serialize<S: Serializer>(trap: &Option<TrapKind>, s: S) -> Result<S::Ok, S::Error> {
        match trap {
            Some(kind) => s.serialize_some(kind.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TrapKind>, D::Error> {
        let Some(name) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let kind = match name.parse::<TrapKind>() {
            Ok(kind) => kind,
            Err(never) => match never {},
        };
        match kind {
            TrapKind::Other(name) => Err(serde::de::Error::custom(format!(
                "unknown trap kind `{name}`"
            ))),
            kind => Ok(Some(kind)),
        }
    }
}

/// Removes a Rust legacy-mangling hash suffix (`::h` and 16 hex digits) and
/// surrounding whitespace: `crash::divide::h90ac5566512292e2` -> `crash::divide`.
pub fn strip_legacy_hash(name: &str) -> &str {
    let name = name.trim();
    if let Some(pos) = name.len().checked_sub(19)
        && let Some(tail) = name.get(pos..)
        && let Some(digits) = tail.strip_prefix("::h")
        && digits.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return name[..pos].trim_end();
    }
    name
}

/// Whether a function name from a backtrace (`actual`) names the manifest's
/// `expected` function, ignoring a Rust legacy hash suffix on either side and
/// surrounding whitespace.
pub fn function_name_matches(expected: &str, actual: &str) -> bool {
    strip_legacy_hash(expected) == strip_legacy_hash(actual)
}

/// Whether a debugger's answer says the value is not there (which the
/// manifest allows where a variable may be optimised out).
pub fn printed_as_missing(printed: &str) -> bool {
    [
        "optimized out",
        "<unavailable",
        "No symbol",
        "not available",
        "Cannot access memory",
    ]
    .iter()
    .any(|mark| printed.contains(mark))
}

/// `(function, file base name, line)` of every in-app source location of a
/// collector dump record (`GET /api/v1/dumps/{id}`), youngest first, inlined
/// frames included: what [`frames_match`] compares with the manifest.
pub fn record_in_app_frames(record: &serde_json::Value) -> Vec<(String, String, u32)> {
    record["stack"]["frames"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|frame| frame["locations"].as_array().into_iter().flatten())
        .filter(|location| location["in_app"].as_bool() == Some(true))
        .map(|location| source_frame(location, "file", "line"))
        .collect()
}

/// The same for a Sentry event's exception stack trace, which lists the
/// oldest frame first: returned youngest first, like
/// [`record_in_app_frames`].
pub fn sentry_in_app_frames(event: &serde_json::Value) -> Vec<(String, String, u32)> {
    event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .filter(|frame| frame["in_app"] == true)
        .map(|frame| source_frame(frame, "filename", "lineno"))
        .collect()
}

fn source_frame(frame: &serde_json::Value, file: &str, line: &str) -> (String, String, u32) {
    let path = frame[file].as_str().unwrap_or("");
    (
        frame["function"].as_str().unwrap_or("").to_string(),
        path.rsplit('/').next().unwrap_or(path).to_string(),
        frame[line].as_u64().unwrap_or(0) as u32,
    )
}

/// Whether the manifest's `expected` frames are the first of `actual`
/// `(function, file base name, line)` source frames, in order. The trapping
/// frame's line may differ by one (wasmtime's trap pc against V8's); callers
/// must point at their call exactly.
pub fn frames_match(
    expected: &[ExpectedFrame],
    actual: &[(String, String, u32)],
) -> Result<(), String> {
    let ok = expected.len() <= actual.len()
        && expected
            .iter()
            .zip(actual)
            .enumerate()
            .all(|(i, (e, (function, file, line)))| {
                let line_ok = if i == 0 {
                    e.line.abs_diff(*line) <= 1
                } else {
                    e.line == *line
                };
                function_name_matches(&e.function, function) && &e.file == file && line_ok
            });
    if ok {
        Ok(())
    } else {
        Err(format!("expected frames {expected:?}, got {actual:?}"))
    }
}

/// The `RuntimeError: ...` (or `RangeError: ...`) line that node prints on
/// stderr when a module traps.
pub fn v8_trap_line(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("RuntimeError:") || l.starts_with("RangeError:"))
}

/// What running a fixture under node produced.
#[derive(Debug, Clone)]
pub struct NodeRun {
    /// The process's exit code (`134` when the module trapped).
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl NodeRun {
    /// The `RuntimeError: ...` (or `RangeError: ...`) line node printed for a trap.
    pub fn error_line(&self) -> Option<&str> {
        v8_trap_line(&self.stderr)
    }

    /// The Wasm frames of the printed stack, youngest first, as
    /// `(function index, whole-module offset)` from `wasm-function[N]:0xOFF`.
    pub fn wasm_frames(&self) -> Vec<(u32, u64)> {
        self.stderr
            .lines()
            .filter_map(|line| {
                let rest = &line[line.find("wasm-function[")? + "wasm-function[".len()..];
                let (index, rest) = rest.split_once("]:0x")?;
                let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
                Some((index.parse().ok()?, u64::from_str_radix(&hex, 16).ok()?))
            })
            .collect()
    }

    /// The trap kinds the error line can stand for (empty when it did not trap).
    pub fn trap_kinds(&self) -> &'static [TrapKind] {
        self.error_line()
            .map(trap_kinds_from_v8_message)
            .unwrap_or(&[])
    }
}

/// The node binary: `$NODE` if set, else `node` from `PATH`.
pub fn node_binary() -> PathBuf {
    std::env::var_os("NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

/// Runs `program` with `args` under node via `fixtures/run-node.mjs`.
pub fn run_under_node(program: &Program, args: &[String]) -> Result<NodeRun, Error> {
    let node = node_binary();
    let output = Command::new(&node)
        .arg(node_runner())
        .arg(program.wasm_path())
        .args(args)
        .output()
        .map_err(|source| Error::Spawn {
            command: node.display().to_string(),
            source,
        })?;
    Ok(NodeRun {
        exit_code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_suffix_is_ignored() {
        assert!(function_name_matches(
            "crash::divide",
            "crash::divide::h90ac5566512292e2"
        ));
        assert!(function_name_matches("  crash::divide ", "crash::divide"));
        assert!(function_name_matches(
            "crash::divide::h90ac5566512292e2",
            "crash::divide"
        ));
        assert!(function_name_matches("divide", "divide"));
        assert!(function_name_matches("crash.divide", "crash.divide"));
    }

    #[test]
    fn different_names_do_not_match() {
        assert!(!function_name_matches("crash::divide", "crash::divide_all"));
        assert!(!function_name_matches(
            "crash::divide",
            "other::divide::h90ac5566512292e2"
        ));
        // Not a legacy hash: 15 digits, a non-hex digit, no `::h`.
        assert!(!function_name_matches(
            "crash::divide",
            "crash::divide::h90ac5566512292e"
        ));
        assert!(!function_name_matches(
            "crash::divide",
            "crash::divide::h90ac5566512292eg"
        ));
        assert!(!function_name_matches(
            "crash::divide",
            "crash::divideh90ac5566512292e2"
        ));
        assert!(!function_name_matches("divide", ""));
    }

    #[test]
    fn strip_handles_short_and_multibyte_names() {
        assert_eq!(strip_legacy_hash("h"), "h");
        assert_eq!(strip_legacy_hash(""), "");
        assert_eq!(strip_legacy_hash("é::h0123456789abcdef"), "é");
        assert_eq!(
            strip_legacy_hash("ééééééééééééééééééé"),
            "ééééééééééééééééééé"
        );
    }

    #[test]
    fn v8_messages_map_to_traps() {
        assert_eq!(
            trap_kinds_from_v8_message("RuntimeError: divide by zero"),
            &[TrapKind::IntegerDivideByZero]
        );
        assert_eq!(
            trap_kinds_from_v8_message("RuntimeError: divide result unrepresentable"),
            &[TrapKind::IntegerOverflow]
        );
        assert_eq!(
            trap_kinds_from_v8_message("RangeError: Maximum call stack size exceeded"),
            &[TrapKind::StackOverflow]
        );
        assert!(
            trap_kinds_from_v8_message(
                "RuntimeError: null function or function signature mismatch"
            )
            .contains(&TrapKind::IndirectCallToNull)
        );
        assert!(trap_kinds_from_v8_message("TypeError: something else").is_empty());
    }

    #[test]
    fn trap_spelling_round_trips() {
        #[derive(Serialize, Deserialize)]
        struct Holder {
            #[serde(with = "trap_name")]
            trap: Option<TrapKind>,
        }
        for trap in TrapKind::ALL {
            let json = serde_json::to_string(&Holder {
                trap: Some(trap.clone()),
            })
            .expect("serialize");
            assert_eq!(json, format!("{{\"trap\":\"{}\"}}", trap.as_str()));
            let back: Holder = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back.trap, Some(trap));
        }
        assert!(serde_json::from_str::<Holder>(r#"{"trap":"made-up"}"#).is_err());
    }

    #[test]
    fn v8_wasm_frames_are_parsed() {
        let run = NodeRun {
            exit_code: Some(134),
            stdout: String::new(),
            stderr: "RuntimeError: divide by zero\n    at crash.divide (wasm://wasm/0001abcd:wasm-function[8]:0x241)\n    at wasm-function[12]:0x1a0f\n    at main (file.mjs:3:1)\n".into(),
        };
        assert_eq!(run.wasm_frames(), vec![(8, 0x241), (12, 0x1a0f)]);
    }

    #[test]
    fn string_contents_unquotes() {
        let v = ExpectedVariable {
            frame: 0,
            expr: "name".into(),
            value: "\"widget\"".into(),
            kind: Some("string".into()),
            may_be_optimized_out: false,
        };
        assert_eq!(v.string_contents().as_deref(), Some("widget"));
    }
}
