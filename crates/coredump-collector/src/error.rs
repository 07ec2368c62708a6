//! The collector's errors. Client mistakes (bad uploads, unknown ids) and
//! server failures (database, store) are separate variants, so the HTTP layer
//! can map each to its status code.

use crate::index::IndexError;
use crate::ingest::UploadError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The upload is malformed, too large or of the wrong type.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// The body is not a core dump this collector can read.
    #[error("invalid core dump: {0}")]
    InvalidDump(String),
    /// A build id in a path is malformed.
    #[error("invalid build id: {0}")]
    InvalidBuildId(String),
    /// A debug file that cannot serve (not Wasm, no DWARF, wrong build id).
    #[error("unusable debug file: {0}")]
    InvalidDebugFile(String),
    /// No such dump, group or debug file.
    #[error("{0} not found")]
    NotFound(String),
    /// The dump is known but its file was removed by retention.
    #[error("{0}")]
    Gone(String),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A configuration that cannot work.
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Internal(String),
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Self {
        Error::Internal(format!("background task failed: {err}"))
    }
}
