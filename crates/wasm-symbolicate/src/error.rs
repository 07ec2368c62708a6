//! Errors. Each one names the file or address it is about, so that a caller
//! can print it as it is.

use std::io;
use std::path::PathBuf;

use wasm_coredump::{BuildId, OffsetError, ParseError};

/// Everything that can go wrong while finding debug info or looking up code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },

    /// A module or debug file is not a Wasm module this crate can read.
    #[error("{what} is not a valid WebAssembly module: {source}")]
    InvalidModule { what: String, source: ParseError },

    /// A debug file was found, but its build id is not the module's.
    #[error(
        "refusing debug file {what}: its build id is {}, but the module's is {expected}",
        found.as_ref().map_or_else(|| "missing".to_string(), ToString::to_string)
    )]
    BuildIdMismatch {
        /// The debug file (path or URL).
        what: String,
        expected: BuildId,
        /// `None` when the debug file has no `build_id` section.
        found: Option<BuildId>,
    },

    /// A debug file was found, but it carries no DWARF.
    #[error("debug file {what} has no DWARF (.debug_info) section")]
    NoDwarf { what: String },

    /// The DWARF is malformed.
    #[error("malformed DWARF ({context}): {source}")]
    Dwarf {
        context: String,
        source: gimli::Error,
    },

    /// A code offset cannot be placed in the module.
    #[error(transparent)]
    Offset(#[from] OffsetError),

    /// A plugged-in [`DebugFileFetcher`](crate::DebugFileFetcher) failed.
    #[error("debug file fetcher `{fetcher}` failed: {source}")]
    Fetch {
        fetcher: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    pub(crate) fn dwarf(context: impl Into<String>, source: gimli::Error) -> Self {
        Error::Dwarf {
            context: context.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
