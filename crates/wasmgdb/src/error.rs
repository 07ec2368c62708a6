//! Errors: what a command or a file load can fail with, worded for the
//! user, since the REPL prints them as they are.

use std::path::PathBuf;

/// Everything that can go wrong in a session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The core file is not a Wasm core dump.
    #[error("\"{}\" is not a WebAssembly core dump: {source}", path.display())]
    BadDump {
        path: PathBuf,
        source: wasm_coredump::ParseError,
    },
    /// The module (or its debug info) could not be loaded.
    #[error(transparent)]
    Symbols(#[from] wasm_symbolicate::Error),
    /// A command the user typed is wrong, or cannot be done on this dump;
    /// the text is gdb-style (`No symbol "x" in current context.`).
    #[error("{0}")]
    Command(String),
    /// The user pressed Ctrl-C while the command ran.
    #[error("Quit")]
    Interrupted,
}

impl Error {
    /// A user-facing command error.
    pub fn command(message: impl Into<String>) -> Self {
        Error::Command(message.into())
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns early with a command error, formatted like `format!`.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::command(format!($($arg)*)))
    };
}
pub(crate) use bail;
