//! Every checked trap kind, in small hand-written modules: the instrumented
//! module traps for real with the kind the original traps with (under
//! wasmtime and node), and its dump's frames are wasmtime's native backtrace
//! of the original, with locals and the trapping frame's operand stack.

mod common;

use coredump_rewrite::{Checks, Options};
use wasm_coredump::{TrapKind, Value};
use wasmtime::Val;

/// `run(x)` calls `mid`, which calls `leaf` with values of every type; the
/// leaf's body is `body`. `extra` adds module fields.
fn module(leaf: &str, extra: &str) -> String {
    format!(
        r#"(module
  (memory 1 100)
  (global $g (mut i32) (i32.const 77))
  {extra}
  (func $leaf (param $x i32) (param $b i64) (param $c f32) (param $d f64) (result i32)
    (local $l i32) (local $m i64)
    (local.set $l (i32.const 42))
    (local.set $m (i64.const -5))
    {leaf})
  (func $mid (param $x i32) (result i32) (local $f f64)
    (local.set $f (f64.const 6.5))
    (i32.add
      (i32.const 1)
      (call $leaf (local.get $x) (i64.const 1234567890123) (f32.const 1.5) (local.get $f))))
  (func (export "run") (param $x i32) (result i32)
    (i32.store (i32.const 16) (i32.const 0x01020304))
    (call $mid (local.get $x))))"#
    )
}

struct Case {
    name: &'static str,
    wat: String,
    arg: i32,
    opts: Options,
    /// The youngest frame's operand stack must end with these.
    stack_tail: Vec<Value>,
    /// V8 cannot run it (features node 20 lacks).
    skip_node: bool,
    /// Our wasmtime build cannot run it (no threads): the expected trap and
    /// functions of the frames instead.
    node_only: Option<(TrapKind, Vec<u32>)>,
}

fn case(name: &'static str, leaf: &str, arg: i32, stack_tail: Vec<Value>) -> Case {
    Case {
        name,
        wat: module(leaf, ""),
        arg,
        opts: Options::default(),
        stack_tail,
        skip_node: false,
        node_only: None,
    }
}

fn bounds() -> Options {
    Options {
        checks: Checks {
            bounds: true,
            ..Checks::default()
        },
        ..Options::default()
    }
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        case(
            "unreachable with a stack",
            "i32.const 7 i64.const -9 unreachable",
            0,
            vec![Value::I32(7), Value::I64(-9)],
        ),
        case(
            "unreachable after a branch",
            "(block (br_if 0 (i32.eqz (local.get $x))) unreachable) i32.const 0",
            3,
            vec![],
        ),
        case(
            "i32.div_s by zero",
            "i32.const 5 (i32.div_s (i32.const 100) (local.get $x)) i32.add",
            0,
            // Values below a checked instruction's operands are not captured.
            vec![Value::Missing, Value::I32(100), Value::I32(0)],
        ),
        case(
            "i32.div_s overflow",
            "(i32.div_s (i32.const 0x80000000) (local.get $x))",
            -1,
            vec![Value::I32(i32::MIN), Value::I32(-1)],
        ),
        case(
            "i32.rem_u by zero",
            "(i32.rem_u (i32.const 100) (local.get $x))",
            0,
            vec![Value::I32(100), Value::I32(0)],
        ),
        case(
            "i64.div_s overflow",
            "(i32.wrap_i64 (i64.div_s (i64.const 0x8000000000000000) (i64.extend_i32_s (local.get $x))))",
            -1,
            vec![Value::I64(i64::MIN), Value::I64(-1)],
        ),
        case(
            "i64.rem_s by zero",
            "(i32.wrap_i64 (i64.rem_s (local.get $b) (i64.extend_i32_s (local.get $x))))",
            0,
            vec![Value::I64(1234567890123), Value::I64(0)],
        ),
        case(
            "i32.trunc_f32_s NaN",
            "(i32.trunc_f32_s (f32.div (f32.const 0) (f32.convert_i32_s (local.get $x))))",
            0,
            vec![],
        ),
        case(
            "i32.trunc_f64_u negative",
            "(i32.trunc_f64_u (f64.convert_i32_s (local.get $x)))",
            -3,
            vec![Value::F64((-3.0f64).to_bits())],
        ),
        case(
            "i64.trunc_f64_s overflow",
            "(i32.wrap_i64 (i64.trunc_f64_s (f64.mul (local.get $d) (f64.const 1e300))))",
            0,
            vec![Value::F64((6.5f64 * 1e300).to_bits())],
        ),
        case(
            "i32.trunc_f32_u of -0.5 is 0, then unreachable",
            "(drop (i32.trunc_f32_u (f32.const -0.5))) unreachable",
            0,
            vec![],
        ),
    ];
    // call_indirect through a table only the module writes.
    let table = r#"(type $ii (func (param i32) (result i32)))
  (type $v (func))
  (table 4 funcref)
  (elem (i32.const 0) $f $f $g)
  (func $f (param i32) (result i32) (local.get 0))
  (func $g)"#;
    for (name, arg) in [
        ("call_indirect out of range", 9),
        ("call_indirect to null", 3),
        ("call_indirect signature mismatch", 2),
    ] {
        v.push(Case {
            name,
            wat: module(
                "(call_indirect (type $ii) (i32.const 5) (local.get $x))",
                table,
            ),
            arg,
            opts: Options::default(),
            stack_tail: vec![Value::I32(arg)],
            skip_node: false,
            node_only: None,
        });
    }
    v.push(Case {
        name: "call_indirect success then unreachable",
        wat: module(
            "(drop (call_indirect (type $ii) (i32.const 5) (local.get $x))) unreachable",
            table,
        ),
        arg: 1,
        opts: Options::default(),
        stack_tail: vec![],
        skip_node: false,
        node_only: None,
    });
    // call_indirect through an exported table, with reference types in use.
    let dynamic = r#"(type $ii (func (param i32) (result i32)))
  (table $t (export "table") 4 funcref)
  (elem (i32.const 0) $f $f)
  (func $f (param i32) (result i32) (drop (ref.is_null (ref.null func))) (i32.div_u (i32.const 1) (local.get 0)))"#;
    for (name, arg) in [
        ("dynamic call_indirect out of range", 9),
        ("dynamic call_indirect to null", 3),
        ("dynamic call_indirect reaching a trap", 0),
    ] {
        v.push(Case {
            name,
            wat: module(
                "(call_indirect (type $ii) (local.get $x) (local.get $x))",
                dynamic,
            ),
            arg,
            opts: Options::default(),
            stack_tail: vec![],
            skip_node: false,
            node_only: None,
        });
    }
    // Bulk memory and tables.
    let bulk = r#"(data $d "hello") (table $t 2 funcref) (elem $e func $leaf)"#;
    for (name, leaf, arg) in [
        (
            "memory.fill out of bounds",
            "(memory.fill (i32.const 65530) (i32.const 1) (local.get $x)) i32.const 0",
            7,
        ),
        (
            "memory.copy out of bounds",
            "(memory.copy (i32.const 0) (i32.const 65000) (local.get $x)) i32.const 0",
            1000,
        ),
        (
            "memory.init past the segment",
            "(memory.init $d (i32.const 0) (i32.const 2) (local.get $x)) i32.const 0",
            4,
        ),
        (
            "memory.init after data.drop",
            "(data.drop $d) (memory.init $d (i32.const 0) (i32.const 0) (local.get $x)) i32.const 0",
            1,
        ),
        (
            "table.get out of bounds",
            "(drop (table.get $t (local.get $x))) i32.const 0",
            2,
        ),
        (
            "table.set out of bounds",
            "(table.set $t (local.get $x) (ref.null func)) i32.const 0",
            5,
        ),
        (
            "table.fill out of bounds",
            "(table.fill $t (i32.const 1) (ref.null func) (local.get $x)) i32.const 0",
            2,
        ),
        (
            "table.copy out of bounds",
            "(table.copy $t $t (i32.const 0) (i32.const 1) (local.get $x)) i32.const 0",
            2,
        ),
        (
            "table.init out of bounds",
            "(table.init $t $e (i32.const 1) (i32.const 0) (local.get $x)) i32.const 0",
            2,
        ),
        (
            "memory.fill in bounds, then div by zero",
            "(memory.fill (i32.const 0) (i32.const 1) (i32.const 8)) (i32.div_u (i32.const 1) (local.get $x))",
            0,
        ),
    ] {
        v.push(Case {
            name,
            wat: module(leaf, bulk),
            arg,
            opts: Options::default(),
            stack_tail: vec![],
            skip_node: false,
            node_only: None,
        });
    }
    // Opt-in bounds checks.
    for (name, leaf, arg) in [
        (
            "i32.load out of bounds",
            "(i32.load offset=8 (local.get $x))",
            65532,
        ),
        (
            "i64.store out of bounds",
            "(i64.store (local.get $x) (local.get $b)) i32.const 0",
            65530,
        ),
        (
            "i32.load8_u at the last byte, then OOB",
            "(drop (i32.load8_u (i32.const 65535))) (i32.load (local.get $x))",
            65533,
        ),
        (
            "f64.store with a stack below",
            "i32.const 3 (f64.store offset=1 (local.get $x) (local.get $d))",
            65535,
        ),
        (
            "v128.store out of bounds",
            "(v128.store (local.get $x) (v128.const i32x4 1 2 3 4)) i32.const 0",
            65521,
        ),
    ] {
        v.push(Case {
            name,
            wat: module(leaf, ""),
            arg,
            opts: bounds(),
            stack_tail: vec![],
            skip_node: false,
            node_only: None,
        });
    }
    v.push(Case {
        name: "memory64 load out of bounds",
        wat: r#"(module
  (memory i64 1)
  (func $leaf (param $a i64) (result i64) (i64.load (local.get $a)))
  (func (export "run") (param $x i32) (result i32)
    (i32.wrap_i64 (call $leaf (i64.extend_i32_u (local.get $x))))))"#
            .to_string(),
        arg: 65530,
        opts: bounds(),
        stack_tail: vec![Value::I64(65530)],
        skip_node: true,
        node_only: None,
    });
    v.push(Case {
        name: "atomic load misaligned",
        wat: r#"(module
  (memory 1 10 shared)
  (func $leaf (param $a i32) (result i32) (i32.atomic.load (local.get $a)))
  (func (export "run") (param $x i32) (result i32) (call $leaf (local.get $x))))"#
            .to_string(),
        arg: 6,
        opts: bounds(),
        stack_tail: vec![Value::I32(6)],
        skip_node: false,
        node_only: Some((TrapKind::UnalignedAtomic, vec![0, 1])),
    });
    v.push(Case {
        name: "call depth guard",
        wat: r#"(module
  (memory 1)
  (func $down (param $n i32) (result i32)
    (i32.add (i32.const 1) (call $down (i32.add (local.get $n) (i32.const 1)))))
  (func (export "run") (param $x i32) (result i32) (call $down (local.get $x))))"#
            .to_string(),
        arg: 0,
        opts: Options {
            call_depth_limit: Some(300),
            ..Options::default()
        },
        stack_tail: vec![],
        skip_node: false,
        node_only: None,
    });
    v.push(Case {
        name: "multi-value results",
        wat: r#"(module
  (memory 1)
  (func $two (param $x i32) (result i32 i64)
    (local.get $x) (i64.div_u (i64.const 1) (i64.extend_i32_u (local.get $x))))
  (func (export "run") (param $x i32) (result i32)
    (call $two (local.get $x)) (drop)))"#
            .to_string(),
        arg: 0,
        opts: Options::default(),
        stack_tail: vec![Value::Missing, Value::I64(1), Value::I64(0)],
        skip_node: false,
        node_only: None,
    });
    v
}

fn check(c: &Case) -> Result<(), String> {
    let original = wat::parse_str(&c.wat).map_err(|e| format!("{}: {e}", c.name))?;
    let out = coredump_rewrite::rewrite(&original, &c.opts)
        .map_err(|e| format!("{}: rewrite: {e}", c.name))?;
    let instrumented = out.wasm;
    common::validates_like(&original, &instrumented).map_err(|e| format!("{}: {e}", c.name))?;
    let engine = common::engine();
    let args = [Val::I32(c.arg)];
    // A depth guard replaces the engine's stack limit: compare with the guard's own depth.
    let guard = c.opts.call_depth_limit.is_some();
    let (expected, native_frames) = match &c.node_only {
        Some((kind, _)) => (kind.clone(), Vec::new()),
        None => {
            let native = common::call_export(&engine, &original, "run", &args);
            let expected = native
                .trap
                .clone()
                .ok_or_else(|| format!("{}: the original does not trap", c.name))?;
            let got = common::call_export(&engine, &instrumented, "run", &args);
            if got.trap.as_ref() != Some(&expected) {
                return Err(format!(
                    "{}: trap {:?}, expected {expected} ({})",
                    c.name, got.trap, got.message
                ));
            }
            let bytes = got
                .dump
                .ok_or_else(|| format!("{}: no dump ({})", c.name, got.message))?;
            check_dump(
                c,
                &original,
                &bytes,
                &expected,
                &native.frames,
                guard,
                "wasmtime",
            )?;
            (expected, native.frames)
        }
    };
    if !c.skip_node {
        let node = common::node_call(&instrumented, "run", &[&c.arg.to_string()]);
        let line = node.error_line().unwrap_or_default().to_string();
        let unaligned = line.contains("unaligned") && expected == TrapKind::UnalignedAtomic;
        if !unaligned && !crash_fixtures::trap_kinds_from_v8_message(&line).contains(&expected) {
            return Err(format!(
                "{}: node says {line:?}, expected {expected}:\n{}",
                c.name, node.stderr
            ));
        }
        let bytes = node
            .dump
            .ok_or_else(|| format!("{}: node wrote no dump:\n{}", c.name, node.stderr))?;
        check_dump(
            c,
            &original,
            &bytes,
            &expected,
            &native_frames,
            guard,
            "node",
        )?;
    }
    Ok(())
}

fn check_dump(
    c: &Case,
    original: &[u8],
    bytes: &[u8],
    expected: &TrapKind,
    native: &[(u32, u32)],
    guard: bool,
    engine: &str,
) -> Result<(), String> {
    let (dump, frames) = common::dump_frames(bytes);
    let what = format!("{} ({engine})", c.name);
    if dump.trap.as_ref().map(|t| &t.kind) != Some(expected) {
        return Err(format!("{what}: dump trap {:?}", dump.trap));
    }
    if guard {
        // `run` is at depth 1: the guard trips in the 300th nested `$down`.
        if frames.len() != 301 || frames[..300].iter().any(|f| f.0 != frames[0].0) {
            return Err(format!("{what}: {} frames", frames.len()));
        }
    } else if let Some((_, functions)) = &c.node_only {
        if frames.iter().map(|f| f.0).collect::<Vec<_>>() != *functions {
            return Err(format!(
                "{what}: frames {frames:?}, expected functions {functions:?}"
            ));
        }
    } else if !common::same_frames(original, &frames, native) {
        return Err(format!("{what}: frames {frames:?}, wasmtime {native:?}"));
    }
    let counts = common::local_counts(original);
    for f in dump.main_frames() {
        if f.locals.len() != counts[f.function as usize] {
            return Err(format!(
                "{what}: function {} has {} locals recorded",
                f.function,
                f.locals.len()
            ));
        }
    }
    let top = &dump.main_frames()[0];
    if !top.stack.ends_with(&c.stack_tail) {
        return Err(format!(
            "{what}: stack {:?} does not end with {:?}",
            top.stack, c.stack_tail
        ));
    }
    // The leaf's locals in the shared module shape.
    if c.wat.contains("$leaf (param $x i32) (param $b i64)") && !guard {
        let expect = [
            Value::I32(c.arg),
            Value::I64(1234567890123),
            Value::F32(1.5f32.to_bits()),
            Value::F64(6.5f64.to_bits()),
            Value::I32(42),
            Value::I64(-5),
        ];
        let leaf = dump.main_frames().iter().find(|f| f.locals.len() == 6);
        if let Some(leaf) = leaf
            && leaf.locals != expect
        {
            return Err(format!("{what}: leaf locals {:?}", leaf.locals));
        }
    }
    // Memory written by the program is in the dump, the scratch region is not.
    let memory = dump.memory(0).map_err(|e| format!("{what}: {e}"))?;
    if c.wat.contains("(i32.store (i32.const 16)")
        && memory.read(16, 4).ok() != Some(vec![4, 3, 2, 1])
    {
        return Err(format!("{what}: memory at 16 is not the program's"));
    }
    Ok(())
}

#[test]
fn every_trap_kind() {
    let failures: Vec<String> = cases().iter().filter_map(|c| check(c).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
