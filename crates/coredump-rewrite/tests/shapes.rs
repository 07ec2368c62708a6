//! Ways into a module: the start function, exports called one after another,
//! re-entry from the host, table slots called by the host, tail calls and
//! exception handling. Each trap must dump the right frames and still trap.

mod common;

use coredump_rewrite::Options;
use wasm_coredump::TrapKind;
use wasmtime::{Caller, Linker, Memory, MemoryType, Module, Store, Val};

fn rewrite(wat: &str) -> (Vec<u8>, Vec<u8>) {
    let original = wat::parse_str(wat).expect("wat");
    let out = common::rewrite(&original, &Options::default());
    common::validates_like(&original, &out).expect("validates");
    (original, out)
}

fn functions(frames: &[(u32, u32)]) -> Vec<u32> {
    frames.iter().map(|f| f.0).collect()
}

const START: &str = r#"(module
  (import "env" "memory" (memory 1 100))
  (global $g (mut i32) (i32.const 5))
  (func $div (param i32) (result i32) (i32.div_u (i32.const 10) (local.get 0)))
  (func $init
    (i32.store (i32.const 100) (i32.const 0xabcd))
    (global.set $g (call $div (i32.const 0))))
  (start $init))"#;

#[test]
fn trap_in_the_start_function() {
    let (original, out) = rewrite(START);
    let engine = common::engine();
    // The original's native backtrace.
    let native = {
        let mut store = Store::new(&engine, ());
        let memory = Memory::new(&mut store, MemoryType::new(1, Some(100))).expect("memory");
        let module = Module::new(&engine, &original).expect("compile");
        let err = Linker::new(&engine)
            .define(&store, "env", "memory", memory)
            .expect("define")
            .instantiate(&mut store, &module)
            .expect_err("start traps");
        (common::trap_of(&err), common::backtrace_of(&err))
    };
    assert_eq!(native.0, Some(TrapKind::IntegerDivideByZero));

    let mut store = Store::new(&engine, ());
    let memory = Memory::new(&mut store, MemoryType::new(1, Some(100))).expect("memory");
    let module = Module::new(&engine, &out).expect("compile");
    let err = Linker::new(&engine)
        .define(&store, "env", "memory", memory)
        .expect("define")
        .instantiate(&mut store, &module)
        .expect_err("start traps");
    assert_eq!(common::trap_of(&err), native.0);
    // No instance: the dump is found through the trailer at the end of memory.
    let data = memory.data(&store);
    let trailer = &data[data.len() - 16..];
    assert_eq!(&trailer[12..], b"WCD1");
    let ptr = u64::from_le_bytes(trailer[..8].try_into().unwrap()) as usize;
    let len = u32::from_le_bytes(trailer[8..12].try_into().unwrap()) as usize;
    let (dump, frames) = common::dump_frames(&data[ptr..ptr + len]);
    assert!(
        common::same_frames(&original, &frames, &native.1),
        "{frames:?} vs {:?}",
        native.1
    );
    assert_eq!(
        dump.trap.clone().map(|t| t.kind),
        Some(TrapKind::IntegerDivideByZero)
    );
    let mem = dump.memory(0).expect("memory");
    assert_eq!(
        mem.limits().pages,
        1,
        "the dump shows the memory before the trap"
    );
    assert_eq!(mem.read(100, 2).unwrap(), vec![0xcd, 0xab]);
    assert_eq!(dump.globals[0].value, wasm_coredump::Value::I32(5));

    // node: instantiation rejects; the snippet reads the trailer.
    let node = common::node_call(&out, "", &[]);
    assert!(
        node.error_line().unwrap_or("").contains("divide by zero"),
        "{}",
        node.stderr
    );
    let (_, frames) = common::dump_frames(&node.dump.expect("node dump"));
    assert_eq!(functions(&frames), functions(&native.1));
}

const SEQUENCE: &str = r#"(module
  (memory (export "memory") 1)
  (func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func $check (param i32) (result i32)
    (if (i32.gt_u (local.get 0) (i32.const 100)) (then unreachable))
    (local.get 0))
  (func (export "ok") (param i32) (result i32)
    (call $check (call $add (local.get 0) (i32.const 1))))
  (func (export "bad") (param i32) (result i32)
    (call $add (i32.const 1) (call $check (local.get 0))))
  (func (export "div") (param i32) (result i32)
    (i32.div_s (i32.const 7) (local.get 0))))"#;

#[test]
fn exports_called_in_turn_and_fresh_dumps() {
    let (original, out) = rewrite(SEQUENCE);
    let engine = common::engine();
    let native_bad = common::call_export(&engine, &original, "bad", &[Val::I32(500)]);
    let native_div = common::call_export(&engine, &original, "div", &[Val::I32(0)]);

    let module = Module::new(&engine, &out).expect("compile");
    let mut store = Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiate");
    let ok = instance
        .get_typed_func::<i32, i32>(&mut store, "ok")
        .expect("ok");
    for i in 0..3 {
        assert_eq!(ok.call(&mut store, i).expect("ok runs"), i + 1);
    }
    let first = common::call_in(&mut store, &instance, "bad", &[Val::I32(500)]);
    assert_eq!(first.trap, Some(TrapKind::Unreachable));
    let (_, frames) = common::dump_frames(&first.dump.expect("first dump"));
    assert!(
        common::same_frames(&original, &frames, &native_bad.frames),
        "{frames:?} {:?}",
        native_bad.frames
    );
    let memory = instance.get_memory(&mut store, "memory").expect("memory");
    let pages = memory.size(&store);

    // The instance keeps working, then traps again with a fresh dump.
    assert_eq!(ok.call(&mut store, 41).expect("ok after a trap"), 42);
    let second = common::call_in(&mut store, &instance, "div", &[Val::I32(0)]);
    assert_eq!(second.trap, Some(TrapKind::IntegerDivideByZero));
    let (dump, frames) = common::dump_frames(&second.dump.expect("second dump"));
    assert!(common::same_frames(&original, &frames, &native_div.frames));
    assert_eq!(
        dump.trap.clone().map(|t| t.kind),
        Some(TrapKind::IntegerDivideByZero)
    );
    assert_eq!(memory.size(&store), pages, "the scratch region is reused");
    assert_eq!(dump.memory(0).unwrap().limits().pages, 1);

    // A third time, the same trap again.
    let third = common::call_in(&mut store, &instance, "bad", &[Val::I32(1000)]);
    let (_, frames3) = common::dump_frames(&third.dump.expect("third dump"));
    assert_eq!(functions(&frames3), functions(&native_bad.frames));
}

const REENTRY: &str = r#"(module
  (import "env" "host" (func $host (param i32) (result i32)))
  (memory (export "memory") 1)
  (func $deep (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $inner (export "inner") (param i32) (result i32)
    (i32.add (i32.const 1) (call $deep (local.get 0))))
  (func $middle (param i32) (result i32)
    (i32.mul (i32.const 2) (call $host (local.get 0))))
  (func (export "outer") (param i32) (result i32)
    (if (i32.eq (call $middle (local.get 0)) (i32.const 4)) (then unreachable))
    (call $middle (local.get 0))))"#;

/// Trap kind, wasmtime's frames and the dump of a run of `outer`.
type Reentry = (Option<TrapKind>, Vec<(u32, u32)>, Option<Vec<u8>>);

fn reentry_run(wasm: &[u8], arg: i32) -> Reentry {
    let engine = common::engine();
    let module = Module::new(&engine, wasm).expect("compile");
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "env",
            "host",
            |mut caller: Caller<'_, ()>, x: i32| -> wasmtime::Result<i32> {
                let inner = caller
                    .get_export("inner")
                    .and_then(|e| e.into_func())
                    .expect("inner");
                let inner = inner.typed::<i32, i32>(&caller)?;
                inner.call(&mut caller, x)
            },
        )
        .expect("host");
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let outer = instance.get_func(&mut store, "outer").expect("outer");
    let mut results = [Val::I32(0)];
    match outer.call(&mut store, &[Val::I32(arg)], &mut results) {
        Ok(()) => (None, Vec::new(), None),
        Err(e) => (
            common::trap_of(&e),
            common::backtrace_of(&e),
            common::fetch_dump(&mut store, &instance),
        ),
    }
}

#[test]
fn reentry_from_the_host() {
    let (original, out) = rewrite(REENTRY);
    // The inner activation traps: its frames only, and the trap reaches the outer one.
    let (kind, native, _) = reentry_run(&original, 0);
    assert_eq!(kind, Some(TrapKind::IntegerDivideByZero));
    let (kind, _, dump) = reentry_run(&out, 0);
    assert_eq!(kind, Some(TrapKind::IntegerDivideByZero));
    let (_, frames) = common::dump_frames(&dump.expect("dump"));
    // deep, inner: the frames of wasmtime's backtrace up to the host call.
    assert_eq!(functions(&frames), vec![1, 2]);
    assert!(common::same_frames(&original, &frames, &native[..2]));

    // The inner activation returns; the outer one traps later: its frames only.
    let (kind, native, _) = reentry_run(&original, 1);
    assert_eq!(kind, Some(TrapKind::Unreachable));
    let (kind, _, dump) = reentry_run(&out, 1);
    assert_eq!(kind, Some(TrapKind::Unreachable));
    let (_, frames) = common::dump_frames(&dump.expect("dump"));
    assert!(
        common::same_frames(&original, &frames, &native),
        "{frames:?} {native:?}"
    );

    // node: the same two runs.
    let node = common::node_call(&out, "outer", &["0"]);
    assert!(
        node.error_line().unwrap_or("").contains("divide by zero"),
        "{}",
        node.stderr
    );
    let (_, frames) = common::dump_frames(&node.dump.expect("node dump"));
    assert_eq!(functions(&frames), vec![1, 2]);
    let node = common::node_call(&out, "outer", &["1"]);
    assert!(
        node.error_line().unwrap_or("").contains("unreachable"),
        "{}",
        node.stderr
    );
    let (_, frames) = common::dump_frames(&node.dump.expect("node dump"));
    assert_eq!(functions(&frames), functions(&native));
}

const TABLE: &str = r#"(module
  (type $ii (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (table (export "table") 2 funcref)
  (elem (i32.const 0) $leaf $via)
  (func $leaf (param i32) (result i32) (i32.rem_s (i32.const 9) (local.get 0)))
  (func $via (param i32) (result i32)
    (i32.add (i32.const 1) (call_indirect (type $ii) (local.get 0) (i32.const 0))))
  (func (export "run") (param i32) (result i32)
    (call_indirect (type $ii) (local.get 0) (i32.const 1))))"#;

#[test]
fn table_slots_called_by_the_host_and_by_wasm() {
    let (original, out) = rewrite(TABLE);
    let engine = common::engine();
    // Through wasm: run -> slot 1 ($via) -> slot 0 ($leaf); every frame dumped.
    let native = common::call_export(&engine, &original, "run", &[Val::I32(0)]);
    let got = common::call_export(&engine, &out, "run", &[Val::I32(0)]);
    assert_eq!(got.trap, Some(TrapKind::IntegerDivideByZero));
    let (_, frames) = common::dump_frames(&got.dump.expect("dump"));
    assert!(
        common::same_frames(&original, &frames, &native.frames),
        "{frames:?} {:?}",
        native.frames
    );

    // The host calls slot 1 directly: that activation's frames.
    let module = Module::new(&engine, &out).expect("compile");
    let mut store = Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiate");
    let table = instance.get_table(&mut store, "table").expect("table");
    let via = table
        .get(&mut store, 1)
        .and_then(|r| r.as_func().flatten().copied())
        .expect("slot 1");
    let mut results = [Val::I32(0)];
    let err = via
        .call(&mut store, &[Val::I32(0)], &mut results)
        .expect_err("traps");
    assert_eq!(common::trap_of(&err), Some(TrapKind::IntegerDivideByZero));
    let (_, frames) =
        common::dump_frames(&common::fetch_dump(&mut store, &instance).expect("dump"));
    assert_eq!(functions(&frames), vec![0, 1]);
    // A successful call through the host path still returns the right value.
    via.call(&mut store, &[Val::I32(2)], &mut results)
        .expect("runs");
    assert_eq!(results[0].i32(), Some(2));
}

const TAIL: &str = r#"(module
  (type $ii (func (param i32) (result i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $leaf $hop)
  (func $leaf (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $hop (param i32) (result i32) (return_call $leaf (local.get 0)))
  (func $indirect (param i32) (result i32) (return_call_indirect (type $ii) (local.get 0) (i32.const 1)))
  (func (export "run") (param i32) (result i32) (i32.add (i32.const 3) (call $indirect (local.get 0))))
  (func (export "bad_slot") (param i32) (result i32) (return_call_indirect (type $ii) (local.get 0) (local.get 0))))"#;

#[test]
fn tail_calls() {
    let (original, out) = rewrite(TAIL);
    let engine = common::engine();
    for (export, arg, kind) in [
        ("run", 0, TrapKind::IntegerDivideByZero),
        ("bad_slot", 7, TrapKind::TableOutOfBounds),
    ] {
        let native = common::call_export(&engine, &original, export, &[Val::I32(arg)]);
        assert_eq!(native.trap, Some(kind.clone()));
        let got = common::call_export(&engine, &out, export, &[Val::I32(arg)]);
        assert_eq!(got.trap, Some(kind), "{export}");
        let (_, frames) = common::dump_frames(&got.dump.expect("dump"));
        assert!(
            common::same_frames(&original, &frames, &native.frames),
            "{export}: {frames:?} {:?}",
            native.frames
        );

        let node = common::node_call(&out, export, &[&arg.to_string()]);
        let (_, node_frames) = common::dump_frames(&node.dump.expect("node dump"));
        assert_eq!(
            functions(&node_frames),
            functions(&native.frames),
            "{}",
            node.stderr
        );
    }
    let ok = common::call_export(&engine, &out, "run", &[Val::I32(1)]);
    assert_eq!(ok.trap, None);
}

const EXCEPTIONS: &str = r#"(module
  (tag $e (param i32))
  (memory 1)
  (func $throw (param i32) (throw $e (local.get 0)))
  (func $trap (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "run") (param i32) (result i32)
    (local $r i32)
    try
      i32.const 5
      call $throw
    catch $e
      local.set $r
    end
    try (result i32)
      local.get 0
      call $trap
    catch_all
      i32.const -1
    end
    (local.get $r)
    (i32.add)))"#;

#[test]
fn legacy_exceptions_under_node() {
    let (_, out) = rewrite(EXCEPTIONS);
    // A thrown exception is caught as before.
    let node = common::node_call(&out, "run", &["1"]);
    assert!(
        node.stdout.contains("result 6"),
        "{}{}",
        node.stdout,
        node.stderr
    );
    // A trap inside `try` is not an exception: it dumps and traps.
    let node = common::node_call(&out, "run", &["0"]);
    assert!(
        node.error_line().unwrap_or("").contains("divide by zero"),
        "{}",
        node.stderr
    );
    let (dump, frames) = common::dump_frames(&node.dump.expect("node dump"));
    assert_eq!(functions(&frames), vec![1, 2]);
    assert_eq!(
        dump.main_frames()[1].locals,
        vec![wasm_coredump::Value::I32(0), wasm_coredump::Value::I32(5)]
    );
}

#[test]
fn exnref_modules_validate() {
    let wat = r#"(module
  (tag $e (param i32))
  (func $throw (param i32) (throw $e (local.get 0)))
  (func (export "run") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (call $throw (i32.div_u (i32.const 1) (local.get 0))))
      (i32.const 0))))"#;
    let (_, out) = rewrite(wat);
    let printed = wasmprinter::print_bytes(&out).expect("print");
    assert!(printed.contains("try_table"));
}

#[test]
fn memory_that_cannot_grow_still_traps() {
    let wat = r#"(module
  (memory (export "memory") 1 1)
  (func (export "run") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0))))"#;
    let (_, out) = rewrite(wat);
    let engine = common::engine();
    let got = common::call_export(&engine, &out, "run", &[Val::I32(0)]);
    assert_eq!(got.trap, Some(TrapKind::IntegerDivideByZero));
    assert!(got.dump.is_none(), "no room, no dump");
}

#[test]
fn module_without_memory() {
    let wat = r#"(module
  (global $g (mut i64) (i64.const -3))
  (func $f (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func (export "run") (param i32) (result i32) (call $f (f32.convert_i32_s (local.get 0)))))"#;
    let original = wat::parse_str(wat).unwrap();
    let out = common::rewrite(&original, &Options::default());
    let engine = common::engine();
    let got = common::call_export(&engine, &out, "run", &[Val::I32(7)]);
    assert_eq!(got.trap, None);
    let wat_nan = wat.replace(
        "(f32.convert_i32_s (local.get 0))",
        "(f32.div (f32.const 0) (f32.const 0))",
    );
    let (original, out) = rewrite(&wat_nan);
    let native = common::call_export(&engine, &original, "run", &[Val::I32(0)]);
    let got = common::call_export(&engine, &out, "run", &[Val::I32(0)]);
    assert_eq!(got.trap, Some(TrapKind::BadConversionToInteger));
    let (dump, frames) = common::dump_frames(&got.dump.expect("dump"));
    assert!(common::same_frames(&original, &frames, &native.frames));
    assert!(dump.memories.is_empty());
    assert_eq!(dump.globals[0].value, wasm_coredump::Value::I64(-3));
}

#[test]
fn no_trap_sites_leaves_the_module_alone() {
    let wat = r#"(module (memory 1) (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#;
    let original = wat::parse_str(wat).unwrap();
    let out = coredump_rewrite::rewrite(&original, &Options::default()).unwrap();
    assert_eq!(out.wasm, original);
    assert!(
        out.report
            .warnings
            .iter()
            .any(|w| w.contains("nothing to instrument"))
    );
}

const LOOP: &str = r#"(module
  (type $ii (func (param i32) (result i32)))
  (memory 1)
  (table 4 funcref)
  (elem (i32.const 0) $f $f)
  (func $f (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $sum (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc)
        (call_indirect (type $ii) (local.get $acc) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func (export "run") (param i32) (result i32) (call $sum (local.get 0))))"#;

/// A `call_indirect` check failing inside a loop: every local of the
/// trapping frame and of its caller is recorded.
#[test]
fn call_indirect_in_a_loop() {
    use wasm_coredump::Value::I32;
    let original = wat::parse_str(LOOP).unwrap();
    let engine = common::engine();
    let native = common::call_export(&engine, &original, "run", &[Val::I32(5)]);
    assert_eq!(native.trap, Some(TrapKind::IndirectCallToNull));
    let out = common::rewrite(&original, &Options::default());
    let ok = common::call_export(&engine, &out, "run", &[Val::I32(2)]);
    assert_eq!(ok.trap, None);
    let got = common::call_export(&engine, &out, "run", &[Val::I32(5)]);
    assert_eq!(got.trap, Some(TrapKind::IndirectCallToNull));
    let (dump, frames) = common::dump_frames(&got.dump.expect("dump"));
    assert!(
        common::same_frames(&original, &frames, &native.frames),
        "{frames:?} {:?}",
        native.frames
    );
    let youngest = &dump.main_frames()[0];
    assert_eq!(youngest.locals, vec![I32(5), I32(2), I32(3)]);
    assert_eq!(youngest.stack.last(), Some(&I32(2)), "the slot index");
    assert_eq!(dump.main_frames()[1].locals, vec![I32(5)]);
}
