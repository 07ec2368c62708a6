//! Every fixture program and crash mode: `bt` names and file:line, and the
//! values `print` and `info locals`/`info args` show, against the
//! manifest's ground truth (worked out from the sources). Guest-debug dumps
//! carry every local; native dumps carry none, and must still give the
//! backtrace and, at -O0, every variable in linear memory.

mod common;

use common::{check_backtrace, crash_cases, dumps, is_missing, value_matches};
use crash_fixtures::Program;
use wasmgdb::{Options, Session};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Guest,
    Native,
}

fn print_value(session: &mut Session, frame: usize, expr: &str) -> String {
    let mut out = String::new();
    if let Err(e) = session.execute(&format!("frame {frame}"), &mut out) {
        return format!("<frame error: {e}>");
    }
    let mut out = String::new();
    match session.execute(&format!("print {expr}"), &mut out) {
        Ok(_) => out
            .trim_end()
            .split_once(" = ")
            .map_or(out.clone(), |(_, v)| v.to_string()),
        Err(e) => e.to_string(),
    }
}

fn is_identifier(expr: &str) -> bool {
    expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_program(id: &str, kind: Kind) {
    let program_dumps = dumps(id);
    let program: &Program = &program_dumps.program;
    let mut failures = Vec::new();
    let mut checked = 0;
    for (_, mode) in crash_cases(id) {
        let mode_dumps = &program_dumps.modes[&mode.mode];
        let dump = match kind {
            Kind::Guest => &mode_dumps.guest,
            Kind::Native => &mode_dumps.native,
        };
        let mut session = Session::open(&program.wasm_path(), dump, Options::default())
            .unwrap_or_else(|e| panic!("{id} {}: {e}", mode.mode));
        let start = match check_backtrace(&session, mode) {
            Ok(start) => start,
            Err(e) => {
                failures.push(format!("{id} {} ({kind:?}): {e}", mode.mode));
                continue;
            }
        };
        // Native dumps: only memory-resident variables of unoptimised builds are required.
        if kind == Kind::Native && program.optimized {
            continue;
        }
        for variable in &mode.variables {
            let frame = start + variable.frame;
            let printed = print_value(&mut session, frame, &variable.expr);
            checked += 1;
            // A native dump cannot know what lived in Wasm locals; saying so is right.
            let honest_native =
                kind == Kind::Native && printed.contains("the dump does not record local");
            let ok = value_matches(variable, &printed)
                || (variable.may_be_optimized_out && is_missing(&printed))
                || honest_native;
            if !ok {
                failures.push(format!(
                    "{id} {} ({kind:?}) frame {} `{}`: expected {}, printed {printed}",
                    mode.mode, variable.frame, variable.expr, variable.value
                ));
                continue;
            }
            // Plain names also show up in `info locals` or `info args`.
            let global = matches!(variable.expr.as_str(), "g_counter" | "COUNTER");
            if is_identifier(&variable.expr)
                && !global
                && value_matches(variable, &printed)
                && kind == Kind::Guest
            {
                let mut listed = String::new();
                for command in ["info locals", "info args"] {
                    let _ = session.execute(command, &mut listed);
                }
                let line = listed
                    .lines()
                    .find(|l| l.starts_with(&format!("{} = ", variable.expr)));
                let shown = line.and_then(|l| l.split_once(" = ")).map(|(_, v)| v);
                if !shown.is_some_and(|v| value_matches(variable, v)) {
                    failures.push(format!(
                        "{id} {} ({kind:?}) frame {}: info locals/args shows {:?} for {}, expected {}",
                        mode.mode, variable.frame, line, variable.expr, variable.value
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    if kind == Kind::Guest {
        assert!(checked > 0, "no variable was checked for {id}");
    }
}

#[test]
fn c_o0_guest_debug() {
    check_program("c-O0", Kind::Guest);
}

#[test]
fn c_o2_guest_debug() {
    check_program("c-O2", Kind::Guest);
}

#[test]
fn zig_debug_guest_debug() {
    check_program("zig-Debug", Kind::Guest);
}

#[test]
fn zig_release_safe_guest_debug() {
    check_program("zig-ReleaseSafe", Kind::Guest);
}

#[test]
fn rust_debug_guest_debug() {
    check_program("rust-debug", Kind::Guest);
}

#[test]
fn rust_o2_guest_debug() {
    check_program("rust-O2", Kind::Guest);
}

#[test]
fn demo_guest_debug() {
    check_program("demo", Kind::Guest);
}

#[test]
fn c_o0_native() {
    check_program("c-O0", Kind::Native);
}

#[test]
fn c_o2_native_backtraces() {
    check_program("c-O2", Kind::Native);
}

#[test]
fn zig_debug_native() {
    check_program("zig-Debug", Kind::Native);
}

#[test]
fn zig_release_safe_native_backtraces() {
    check_program("zig-ReleaseSafe", Kind::Native);
}

#[test]
fn rust_debug_native() {
    check_program("rust-debug", Kind::Native);
}

#[test]
fn rust_o2_native_backtraces() {
    check_program("rust-O2", Kind::Native);
}

#[test]
fn demo_native() {
    check_program("demo", Kind::Native);
}

/// A deep backtrace (the C recursion that runs out of shadow stack, a few
/// hundred frames): every frame number is followed by a space, as in gdb
/// (`#9  …`, `#10 …`, `#100 …`).
#[test]
fn frame_numbers_of_any_width_are_followed_by_a_space() {
    let program_dumps = dumps("c-O0");
    let dump = &program_dumps.modes["stack-overflow"].native;
    let mut session = Session::open(&program_dumps.program.wasm_path(), dump, Options::default())
        .expect("session");
    let mut out = String::new();
    session.execute("bt", &mut out).expect("bt");
    let numbers: Vec<usize> = out
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = rest[digits.len()..].chars().next();
            assert_eq!(after, Some(' '), "no space after the number in #{rest}");
            digits.parse().expect("frame number")
        })
        .collect();
    assert!(
        numbers.iter().any(|&n| n >= 100),
        "expected a backtrace of more than 100 frames, got {}",
        numbers.len()
    );
}
