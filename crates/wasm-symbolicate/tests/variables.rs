//! Variable discovery on the fixtures' real DWARF. Values are not checked
//! here (no dump with real values exists yet; see the crate's unit tests
//! for the evaluator): the check is that every variable the manifest names
//! in a frame is found in that frame's scope at the crash location, with
//! lexical blocks and inlined frames handled, and that a dump with no
//! locals and no memory (what wasmtime writes) yields "unavailable" or
//! "optimized out", never a made-up value or a panic.

mod common;

use crash_fixtures::{Manifest, Program, function_name_matches, run_under_node};
use wasm_coredump::{CodeLocation, Memory, Value};
use wasm_symbolicate::variables::{FrameState, VariableValue};
use wasm_symbolicate::{DebugInfoLocator, Symbolicator};

/// A dump frame as wasmtime writes it: no locals, no stack, no memory.
struct Empty;

impl FrameState for Empty {
    fn local(&self, _: u32) -> Option<Value> {
        None
    }
    fn global(&self, _: u32) -> Option<Value> {
        None
    }
    fn stack(&self, _: u32) -> Option<Value> {
        None
    }
    fn memory(&self) -> Option<&Memory> {
        None
    }
}

fn root_identifier(expr: &str) -> &str {
    let expr = expr.trim_start_matches(['*', '(', '&']);
    let end = expr
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    &expr[..end]
}

fn check(id: &str) {
    let manifest = Manifest::load().expect("manifest");
    let program: &Program = manifest.program(id).expect("program");
    let symbols = Symbolicator::open(program.wasm_path(), &DebugInfoLocator::new()).expect("opens");
    let mut failures = Vec::new();
    for mode in program.modes.iter().filter(|m| m.crashes()) {
        let run = run_under_node(program, &mode.args).expect("node");
        // (location, index among the frames at that location), innermost first.
        let mut lines: Vec<(CodeLocation, usize, String)> = Vec::new();
        for (_, offset) in common::v8_frames(&run.stderr) {
            let (location, frames) = symbols
                .symbolicate_module_offset(offset)
                .expect("symbolicates");
            for (i, frame) in frames.iter().enumerate() {
                lines.push((location, i, frame.function_name().to_string()));
            }
        }
        let Some(start) = lines
            .iter()
            .position(|(_, _, name)| function_name_matches(&mode.frames[0].function, name))
        else {
            failures.push(format!("{} {}: no first frame", id, mode.mode));
            continue;
        };
        for variable in &mode.variables {
            let Some((location, inline_index, _)) = lines.get(start + variable.frame) else {
                continue;
            };
            let scopes = symbols
                .frame_variables(*location, &Empty)
                .expect("variables");
            let scope = &scopes[*inline_index];
            if std::env::var_os("SHOW_VARIABLES").is_some() {
                eprintln!(
                    "{id} {} frame {} {}:",
                    mode.mode, variable.frame, scope.frame
                );
                for v in &scope.variables {
                    eprintln!("  {}: {} = {}", v.name, v.ty.name, v.display_value(None));
                }
            }
            for v in &scope.variables {
                // Nothing can be known without locals or memory, except constants.
                if let VariableValue::Bytes(_) = v.value {
                    let text = v.display_value(None);
                    assert!(
                        !text.is_empty(),
                        "{id} {}: {} has a value from nowhere",
                        mode.mode,
                        v.name
                    );
                }
            }
            let root = root_identifier(&variable.expr);
            let is_global = matches!(root, "g_counter" | "COUNTER");
            let found = scope.variables.iter().any(|v| v.name == root);
            if !found && !is_global && !variable.may_be_optimized_out {
                failures.push(format!(
                    "{id} {}: frame {} ({}) has no `{root}`; in scope: {:?}",
                    mode.mode,
                    variable.frame,
                    scope.frame.function_name(),
                    scope
                        .variables
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn c_o0_variables_are_in_scope() {
    check("c-O0");
}

#[test]
fn zig_debug_variables_are_in_scope() {
    check("zig-Debug");
}

#[test]
fn rust_debug_variables_are_in_scope() {
    check("rust-debug");
}

#[test]
fn c_o2_variables_are_in_scope() {
    check("c-O2");
}

#[test]
fn zig_release_safe_variables_are_in_scope() {
    check("zig-ReleaseSafe");
}

#[test]
fn rust_o2_variables_are_in_scope() {
    check("rust-O2");
}
