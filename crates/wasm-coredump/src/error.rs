//! Errors, each one saying what is wrong and, for parse errors, where.

/// A problem found while parsing a core dump or a module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte offset {offset:#x})")]
pub struct ParseError {
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset,
            message: message.into(),
        }
    }
}

impl From<wasmparser::BinaryReaderError> for ParseError {
    fn from(err: wasmparser::BinaryReaderError) -> Self {
        ParseError::new(err.offset(), err.message())
    }
}

/// A problem reading a dumped linear memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    /// The dump has no memory with this index.
    #[error("the core dump has no memory {0}")]
    NoSuchMemory(u32),
    /// The access reaches past the memory's size at the time of the dump.
    #[error(
        "cannot access {len} bytes at address {address:#x}: memory is only {size:#x} bytes long"
    )]
    OutOfBounds { address: u64, len: u64, size: u64 },
    /// The access touches a range that the capturing tool excluded from the dump.
    #[error("address range {address:#x}+{len} was excluded from the dump by the capturing tool")]
    Excluded { address: u64, len: u64 },
}

/// A problem converting a code offset from one coordinate system to another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffsetError {
    /// The module has no function with this index, or it is an import.
    #[error("function {0} is not defined in the module (imported or out of range)")]
    NoSuchFunction(u32),
    /// A dump code offset of 0 means the capturing tool did not know it.
    #[error("the dump does not record a code offset for function {0}")]
    Unknown(u32),
    /// The offset lies outside the function body.
    #[error("offset {offset:#x} lies outside the body of function {function} ({size:#x} bytes)")]
    OutsideBody {
        function: u32,
        offset: u64,
        size: u64,
    },
    /// The address does not fall inside any function body.
    #[error("address {0:#x} is not inside any function body")]
    NotInCode(u64),
    /// The module has no code section.
    #[error("the module has no code section")]
    NoCode,
}
