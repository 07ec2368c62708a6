//! gdb expressions: [`parse`](mod@parse) turns text into an [`Expr`],
//! [`eval`](mod@eval) computes it against a frame.

pub mod eval;
pub mod parse;

pub use eval::{Data, Env, MAX_VALUE_SIZE, Obj, builtin_type, evaluate, pointer_to, resolve_type};
pub use parse::{Expr, TypeName, TypeOracle, parse, parse_type_name};
