//! Errors of the rewriter. Every problem with the input is reported here;
//! nothing in the crate panics on input-derived data.

/// Why a module could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not a valid WebAssembly module.
    #[error("the input is not a valid WebAssembly module: {message} (at byte offset {offset:#x})")]
    Invalid { offset: usize, message: String },
    /// The input is a component, not a core module.
    #[error("the input is a WebAssembly component; only core modules can be instrumented")]
    Component,
    /// The input is a relocatable object file (it has a `linking` section).
    #[error(
        "the input is a relocatable object file (it has a `linking` section); instrument the linked module instead"
    )]
    Relocatable,
    /// The input was already instrumented by this tool.
    #[error("the input was already instrumented by coredump-rewrite (it exports `{0}`)")]
    AlreadyInstrumented(String),
    /// The module would exceed an implementation limit after rewriting.
    #[error("the instrumented module would exceed a limit: {0}")]
    Limit(String),
    /// The rewriter produced an invalid module. This is a bug in the rewriter;
    /// the message says what the validator found.
    #[error(
        "internal error: the instrumented module does not validate ({message} at byte offset {offset:#x}); please report this with the input module"
    )]
    InvalidOutput { offset: usize, message: String },
}

impl Error {
    pub(crate) fn invalid(offset: usize, message: impl Into<String>) -> Self {
        Error::Invalid {
            offset,
            message: message.into(),
        }
    }
}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(err: wasmparser::BinaryReaderError) -> Self {
        Error::invalid(err.offset(), err.message())
    }
}
