//! Phase 2: the values of parameters and locals in a dumped frame.
//!
//! - [`eval`] evaluates DWARF location expressions against a dumped frame,
//!   answering `DW_OP_WASM_location` from the frame's locals, operand stack
//!   and the instance's globals, and memory reads from the dumped memory.
//! - [`types`] decodes the types printing needs from DWARF.
//! - [`format`](mod@format) prints values as gdb does.
//! - `frame` ([`Symbolicator::frame_variables`](crate::Symbolicator::frame_variables))
//!   finds the variables in scope at a code location and evaluates them.
//! - [`statics`] finds global and static variables and types by name.

pub mod eval;
pub mod format;
mod frame;
pub mod statics;
pub mod types;

pub use eval::{
    DumpFrameState, EvalError, ExpressionContext, FrameState, LocalWrites, NoContext, Piece, Place,
    WasmSlot, evaluate, frame_base, read_pieces,
};
pub use format::{format_g, format_value};
pub use frame::{FrameScope, Variable, VariableValue};
pub use statics::{NamedEntry, NamedKind, StaticVariable};
pub use types::{Member, Type, TypeKind, TypeStyle};
