//! The one crate that owns the WebAssembly core-dump format.
//!
//! It reads and writes dumps in the tool-conventions layout (`core`,
//! `coremodules`, `coreinstances`, `corestack`, plus Memory, Global and Data
//! sections), accepts the older frame layout without instance indices, and
//! exposes the dumped memory through a bounds-checked, sparse access API.
//!
//! The spec has no place for the trap reason, module build ids or
//! capture metadata; this crate stores them in its own custom sections
//! (see [`ext`]), which other readers skip.
//!
//! It also owns the module facts every other tool needs to interpret a dump:
//! build ids, `external_debug_info`, function body offsets and the
//! conversions between dump, DWARF and whole-module code offsets
//! ([`ModuleLayout`]).
//!
//! ```
//! use wasm_coredump::{CoreDump, Frame, Memory, MemoryLimits, Thread, Value};
//!
//! let mut memory = Memory::new(MemoryLimits::pages(1));
//! memory.write(1024, b"hello\0").unwrap();
//! let dump = CoreDump {
//!     executable_name: Some("app.wasm".into()),
//!     threads: vec![Thread {
//!         name: "main".into(),
//!         frames: vec![Frame { function: 3, code_offset: 17, locals: vec![Value::I32(7)], ..Frame::default() }],
//!     }],
//!     memories: vec![memory],
//!     ..CoreDump::default()
//! };
//! let read = CoreDump::parse(&dump.to_bytes()).unwrap();
//! assert_eq!(read, dump);
//! assert_eq!(read.memory(0).unwrap().read_c_string(1024, 64).unwrap().bytes, b"hello");
//! ```

mod build_id;
mod error;
pub mod ext;
mod layout;
mod memory;
mod model;
mod read;
mod write;

pub use build_id::{
    BUILD_ID_SECTION, BuildId, EXTERNAL_DEBUG_INFO_SECTION, append_custom_section,
    external_debug_info_payload, parse_external_debug_info,
};
pub use error::{MemoryError, OffsetError, ParseError};
pub use layout::{CodeLocation, DwarfAddress, ModuleLayout, ModuleOffset};
pub use memory::{CString, DEFAULT_PAGE_SIZE, Memory, MemoryLimits, Region, StringEnd};
pub use model::{
    CoreDump, DumpedModule, Frame, Global, Instance, RefKind, Thread, TrapInfo, TrapKind, ValType,
    Value,
};
