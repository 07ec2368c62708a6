//! Errors, and the process exit code each one maps to.

use std::io;
use std::path::PathBuf;

use wasm_coredump::{BuildId, ParseError};

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for errors: bad input, I/O, a `verify` mismatch.
pub const EXIT_ERROR: i32 = 1;
/// Exit code for usage errors (clap's default).
pub const EXIT_USAGE: i32 = 2;
/// Exit code when the module has no DWARF: nothing to split, nothing written.
pub const EXIT_NO_DWARF: i32 = 3;
/// Exit code when the module is already split: nothing changed.
pub const EXIT_ALREADY_SPLIT: i32 = 4;

/// A problem with a module's contents (as opposed to the files holding it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// The bytes are not a well-formed Wasm module.
    #[error("not a valid WebAssembly module: {0}")]
    Malformed(#[from] ParseError),
    /// A section reaches past the end of the file.
    #[error(
        "not a valid WebAssembly module: the file is truncated: the {section} at byte offset \
         {offset:#x} declares {declared} bytes but only {available} remain"
    )]
    Truncated {
        /// Which section (`code section (id 10)`, `custom section ".debug_info"`, ...).
        section: String,
        /// Offset of the section's id byte.
        offset: usize,
        /// Payload size the section header declares.
        declared: u64,
        /// Bytes left in the file after the section header.
        available: u64,
    },
    /// A component (or anything that is not a core module).
    #[error("this is a WebAssembly component; only core modules can be split")]
    Component,
    /// Several `build_id` sections with different ids: no way to tell which one is meant.
    #[error("the module has conflicting build_id sections ({first} and {second})")]
    ConflictingBuildIds { first: BuildId, second: BuildId },
    /// The module has no `.debug_*` sections.
    #[error(
        "the module has no DWARF (no `.debug_*` custom sections): nothing to split, nothing written"
    )]
    NoDwarf,
    /// The module has no DWARF but names an external debug file: it was split already.
    #[error(
        "the module is already split: it has no DWARF and its external_debug_info section points \
         at `{url}`; nothing changed"
    )]
    AlreadySplit { url: String },
    /// An `external_debug_info` URL that cannot be written.
    #[error("invalid external_debug_info URL: {0}")]
    InvalidUrl(String),
}

impl ModuleError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ModuleError::NoDwarf => EXIT_NO_DWARF,
            ModuleError::AlreadySplit { .. } => EXIT_ALREADY_SPLIT,
            _ => EXIT_ERROR,
        }
    }
}

/// Errors of the file-level operations ([`crate::split_file`], [`crate::verify_files`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file failed.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// Writing (or creating the directory of) an output failed.
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The module in this file is malformed, has no DWARF, is already split, ...
    #[error("{}: {source}", path.display())]
    Module { path: PathBuf, source: ModuleError },
    /// The stripped output would replace the input and `--in-place` was not given.
    #[error(
        "refusing to overwrite the input {}; pass --in-place to replace it, or choose another -o",
        path.display()
    )]
    WouldOverwriteInput { path: PathBuf },
    /// Two outputs (or an output and the input) are the same file.
    #[error("the debug file {} would overwrite the {what} {}", debug.display(), other.display())]
    DebugFileClash {
        debug: PathBuf,
        what: &'static str,
        other: PathBuf,
    },
    /// An output path with no file name (`/`, `..`).
    #[error("{} is not a file path", path.display())]
    NotAFilePath { path: PathBuf },
}

impl Error {
    /// The process exit code for this error: 3 for no DWARF, 4 for already
    /// split, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Module { source, .. } => source.exit_code(),
            _ => EXIT_ERROR,
        }
    }
}
