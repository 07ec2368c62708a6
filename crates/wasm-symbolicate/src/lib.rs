//! Symbolication for WebAssembly modules, shared by `wasmgdb` and the crash
//! collector.
//!
//! Modelled on addr2line: a small, lazy API over gimli that does only the
//! work a lookup needs.
//!
//! - [`DebugInfoLocator`] finds a module's DWARF (`external_debug_info`,
//!   embedded, by build id in debug directories, or through a plugged-in
//!   [`DebugFileFetcher`]) and reports which source served, or why none did.
//! - [`Symbolicator`] maps code locations (dump [`CodeLocation`]s,
//!   whole-module offsets, DWARF addresses) to chains of [`SourceFrame`]s,
//!   innermost inlined frame first, with demangled names; names functions by
//!   index; lists functions.
//! - [`demangle`] turns Rust (legacy, v0) and C++ linkage names into source
//!   names; C and Zig names pass through.
//! - [`variables`] evaluates the parameters and locals of a dumped frame
//!   ([`Symbolicator::frame_variables`]) and prints them as gdb does.
//!
//! Opening a symbolicator reads the module's section table and the DWARF
//! unit headers only; each unit's line table and function tree is parsed the
//! first time a lookup falls in it.
//!
//! ```no_run
//! use wasm_symbolicate::{DebugInfoLocator, Symbolicator};
//! use wasm_coredump::CodeLocation;
//!
//! let locator = DebugInfoLocator::new().with_debug_dir("/var/debug");
//! let symbols = Symbolicator::open("app.wasm", &locator)?;
//! if !symbols.source().found() {
//!     eprintln!("{}", symbols.source()); // what was tried; names come from the name section
//! }
//! for frame in symbols.symbolicate(CodeLocation { function: 12, offset: 0x31 })? {
//!     println!("{frame}"); // e.g. `crash::divide at ./fixtures/rust/crash.rs:127:5`
//! }
//! # Ok::<(), wasm_symbolicate::Error>(())
//! ```

mod demangle;
mod dwarf;
mod error;
mod locate;
pub mod module_info;
mod source;
mod symbolicator;
pub mod unwind;
pub mod variables;

pub use demangle::{NameLanguage, demangle, demangle_for};
pub use dwarf::Reader;
pub use error::{Error, Result};
pub use locate::{
    DebugDirLayout, DebugFileFetcher, DebugInfoLocator, DebugInfoSource, FetchRequest,
    FetchedDebugFile, Located, ModuleFile, NotFound,
};
pub use source::find_source_file;
pub use symbolicator::{FunctionInfo, FunctionName, NameSource, SourceFrame, Symbolicator};

pub use wasm_coredump::{CodeLocation, DwarfAddress, ModuleOffset};
