//! wasmgdb: a gdb-style debugger for WebAssembly core dumps.
//!
//! A post-mortem session pairs a module (the original, its stripped build
//! whose DWARF is found by build id, or the rewritten module, which keeps
//! the input's build id) with a core dump, and answers gdb's commands:
//! `bt`, `frame`, `info locals`, `print EXPR`, `x/NFU`, `list`,
//! `disassemble`, `info registers` and the rest (see [`commands`]).
//!
//! Symbolication and variable evaluation live in `wasm-symbolicate` and the
//! dump format in `wasm-coredump`; this crate adds the command language,
//! gdb's expression syntax ([`expr`]), stack-pointer recovery for dumps
//! without locals ([`unwind`]), and the REPL ([`repl`]).
//!
//! ```no_run
//! use wasmgdb::{Options, Session};
//! let mut session = Session::open("app.wasm".as_ref(), "app.core".as_ref(), Options::default())?;
//! let mut out = String::new();
//! session.execute("bt", &mut out)?;
//! session.execute("p *item", &mut out)?;
//! print!("{out}");
//! # Ok::<(), wasmgdb::Error>(())
//! ```

pub mod commands;
mod disasm;
mod error;
pub mod expr;
pub mod fetch;
mod info;
pub mod interrupt;
pub mod print;
pub mod repl;
mod session;
mod source;

pub use commands::Flow;
pub use error::{Error, Result};
pub use session::{FrameEntry, Options, Session};
