//! Moves a WebAssembly module's DWARF into a separate debug file, tagged with
//! the module's build id, without changing a byte of anything else.
//!
//! # What a split produces
//!
//! From `app.wasm` (with DWARF) it makes two modules:
//!
//! - the **stripped module**: every section of the input, copied byte for byte
//!   (id, size and payload exactly as in the input, never re-encoded), minus
//!   every custom section whose name starts with `.debug_` (DWARF 4 and 5
//!   alike, plus the `reloc..debug_*` relocations of object files), minus any
//!   `external_debug_info` section, minus `name` when asked. Appended at the
//!   end: a `build_id` section (unless the input's own is kept) and an
//!   `external_debug_info` section naming the debug file;
//! - the **debug file**: every section of the input, copied byte for byte
//!   (code, data, `name` and all the DWARF), minus `external_debug_info` (a
//!   reader would otherwise ignore its DWARF), with the same `build_id`.
//!   Being a full copy, it is a valid module whenever the input is, and its
//!   Code section is byte-identical to the stripped module's, so the DWARF
//!   addresses (relative to the Code section payload) resolve in both.
//!
//! # The build id
//!
//! - An existing `build_id` section (as `wasm-ld --build-id` writes it) is
//!   kept byte for byte in both outputs.
//! - Otherwise the id is derived from the input: `UUIDv5(namespace,
//!   SHA-256(input file))` ([`derive_build_id`]). The same input always gets
//!   the same id, so a reproducible build keeps its id across machines, and
//!   splitting twice gives identical bytes.
//! - An explicit id (`--build-id`) replaces both; any existing `build_id`
//!   section is then dropped from the outputs.
//!
//! # Performance
//!
//! [`Module::parse`] makes one pass over the section headers with
//! [`wasmparser::Parser`], skipping function bodies without decoding them.
//! [`Module::plan_split`] only records input ranges; [`Output::write_to`]
//! writes each output with vectored writes straight from the input buffer.
//! Memory use is the input file plus a few hundred bytes.
//!
//! ```
//! # let wasm = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/c/crash-O0.wasm")).unwrap();
//! let split = debuginfo_split::split(&wasm, &debuginfo_split::SplitOptions::default())?;
//! let stripped = debuginfo_split::Module::parse(&split.stripped)?;
//! assert!(!stripped.has_dwarf());
//! assert_eq!(stripped.external_debug_info()?, Some(format!("debug-{}.wasm", split.build_id.id)));
//! assert!(debuginfo_split::verify(&split.stripped, &split.debug).unwrap().matches());
//! # Ok::<(), debuginfo_split::ModuleError>(())
//! ```

mod error;
mod files;
mod module;
mod split;
mod verify;

pub use error::{
    EXIT_ALREADY_SPLIT, EXIT_ERROR, EXIT_NO_DWARF, EXIT_OK, EXIT_USAGE, Error, ModuleError,
};
pub use files::{
    DebugOutput, Sizes, SplitFileOptions, SplitReport, build_id_tree_path, default_stripped_path,
    split_file, verify_files,
};
pub use module::{
    CODE_SECTION_ID, CUSTOM_SECTION_ID, DWARF_RELOC_PREFIX, DWARF_SECTION_PREFIX, Module,
    NAME_SECTION, Section, SectionRole, is_dwarf_section_name,
};
pub use split::{
    BUILD_ID_NAMESPACE_NAME, BuildIdChoice, BuildIdSource, Output, Split, SplitBytes, SplitOptions,
    build_id_namespace, debug_file_name, derive_build_id, expand_url_template, split,
};
pub use verify::{Mismatch, Verification, VerifyError, Warning, Which, verify};
pub use wasm_coredump::BuildId;
