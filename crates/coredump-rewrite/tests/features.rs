//! One module per Wasm feature: after rewriting it validates with exactly the
//! features the input needs, keeps its custom sections valid, and (where our
//! wasmtime build runs it) behaves the same until it traps, then dumps.

mod common;

use coredump_rewrite::{Checks, Options};
use wasmtime::Val;

/// Each module exports `run(i32) -> i32`: it returns normally for 1 and traps for 0.
/// The flag says whether our wasmtime build can run it.
const MODULES: &[(&str, &str, bool)] = &[
    (
        "multi-value",
        r#"(module (memory 1)
  (func $pair (param i32) (result i32 i32) (local.get 0) (i32.div_u (i32.const 8) (local.get 0)))
  (func (export "run") (param i32) (result i32)
    (local.get 0) (block (param i32) (result i32 i32) (call $pair)) (i32.add)))"#,
        true,
    ),
    (
        "bulk memory",
        r#"(module (memory 1) (data $d "abcdef")
  (func (export "run") (param i32) (result i32)
    (memory.init $d (i32.const 0) (i32.const 0) (i32.const 6))
    (memory.copy (i32.const 10) (i32.const 0) (i32.const 6))
    (memory.fill (i32.const 20) (i32.const 7) (i32.mul (local.get 0) (i32.const 8)))
    (data.drop $d)
    (memory.fill (i32.const 65535) (i32.const 7) (i32.sub (i32.const 2) (local.get 0)))
    (i32.load8_u (i32.const 11))))"#,
        true,
    ),
    (
        "reference types",
        r#"(module (memory 1)
  (type $ii (func (param i32) (result i32)))
  (table $t 2 funcref) (table $ext 1 funcref)
  (elem declare func $f)
  (func $f (param i32) (result i32) (i32.div_s (i32.const 4) (local.get 0)))
  (func (export "run") (param i32) (result i32)
    (table.set $t (i32.const 0) (ref.func $f))
    (drop (table.grow $ext (ref.null func) (i32.const 1)))
    (drop (table.get $ext (i32.const 1)))
    (call_indirect $t (type $ii) (local.get 0) (i32.const 0))))"#,
        true,
    ),
    (
        "simd",
        r#"(module (memory 1)
  (global $v (mut v128) (v128.const i32x4 1 2 3 4))
  (func $lanes (param v128) (param i32) (result i32) (local $w v128)
    (local.set $w (i32x4.add (local.get 0) (global.get $v)))
    (i32.div_u (i32x4.extract_lane 1 (local.get $w)) (local.get 1)))
  (func (export "run") (param i32) (result i32)
    (v128.store (i32.const 0) (v128.const i64x2 -1 7))
    (call $lanes (v128.load (i32.const 0)) (local.get 0))))"#,
        true,
    ),
    (
        "threads",
        r#"(module (memory 1 2 shared)
  (func (export "run") (param i32) (result i32)
    (drop (i32.atomic.rmw.add (i32.const 8) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 8) (i32.const 0)))
    (i32.div_u (i32.atomic.load (i32.const 8)) (local.get 0))))"#,
        false,
    ),
    (
        "tail calls",
        r#"(module (memory 1)
  (func $leaf (param i32) (result i32) (i32.div_u (i32.const 3) (local.get 0)))
  (func (export "run") (param i32) (result i32) (return_call $leaf (local.get 0))))"#,
        true,
    ),
    (
        "legacy exceptions",
        r#"(module (memory 1) (tag $e)
  (func (export "run") (param i32) (result i32)
    try (result i32)
      (i32.div_u (i32.const 3) (local.get 0))
    delegate 0))"#,
        false,
    ),
    (
        "exnref",
        r#"(module (memory 1) (tag $e (param i32))
  (func (export "run") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h)
        (i32.div_u (i32.const 3) (local.get 0))))))"#,
        false,
    ),
    (
        "multi-memory",
        r#"(module (memory $a 1) (memory $b 2)
  (func (export "run") (param i32) (result i32)
    (i32.store $b (i32.const 70000) (i32.const 9))
    (memory.copy $a $b (i32.const 0) (i32.const 70000) (i32.const 4))
    (i32.div_u (i32.load $a (i32.const 0)) (local.get 0))))"#,
        true,
    ),
    (
        "memory64",
        r#"(module (memory i64 1)
  (func (export "run") (param i32) (result i32)
    (i64.store (i64.const 8) (i64.const 5))
    (memory.fill (i64.const 100) (i32.const 1) (i64.const 4))
    (i32.wrap_i64 (i64.div_u (i64.load (i64.const 8)) (i64.extend_i32_u (local.get 0))))))"#,
        true,
    ),
    (
        "extended const",
        r#"(module (memory 1)
  (global $base i32 (i32.const 1))
  (global $g i32 (i32.add (global.get $base) (i32.const 2)))
  (table 8 funcref)
  (elem (offset (i32.add (global.get $base) (i32.const 1))) $f)
  (type $ii (func (param i32) (result i32)))
  (func $f (param i32) (result i32) (i32.div_u (global.get $g) (local.get 0)))
  (func (export "run") (param i32) (result i32) (call_indirect (type $ii) (local.get 0) (i32.const 2))))"#,
        true,
    ),
    (
        "function references",
        r#"(module (memory 1)
  (type $ii (func (param i32) (result i32)))
  (elem declare func $f)
  (func $f (param i32) (result i32) (i32.div_u (i32.const 3) (local.get 0)))
  (func $nn (param (ref $ii)) (param i32) (result (ref $ii)) (drop (call_ref $ii (local.get 1) (local.get 0))) (local.get 0))
  (func (export "run") (param i32) (result i32)
    (call_ref $ii (local.get 0) (call $nn (ref.func $f) (local.get 0)))))"#,
        false,
    ),
    (
        "non-nullable results (raise at once)",
        r#"(module (memory 1)
  (type $ii (func (param i32) (result i32)))
  (elem declare func $f)
  (func $f (param i32) (result i32) (i32.div_u (i32.const 3) (local.get 0)))
  (func $g (param i32) (result (ref $ii)) (drop (call $f (local.get 0))) (ref.func $f))
  (func (export "run") (param i32) (result i32)
    (call_ref $ii (local.get 0) (call $g (local.get 0)))))"#,
        false,
    ),
    (
        "gc",
        r#"(module (memory 1)
  (type $s (struct (field (mut i32))))
  (type $a (array (mut i64)))
  (func $get (param (ref $s)) (result i32) (i32.div_u (i32.const 10) (struct.get $s 0 (local.get 0))))
  (func $make (param i32) (result (ref $s)) (struct.new $s (local.get 0)))
  (func (export "run") (param i32) (result i32)
    (drop (array.new $a (i64.const 1) (i32.const 3)))
    (call $get (call $make (local.get 0)))))"#,
        false,
    ),
    (
        "custom page sizes",
        r#"(module (memory 3 (pagesize 1))
  (func (export "run") (param i32) (result i32)
    (i32.store8 (i32.const 2) (i32.const 5))
    (i32.div_u (i32.load8_u (i32.const 2)) (local.get 0))))"#,
        false,
    ),
];

#[test]
fn every_feature_validates_and_runs() {
    let engine = common::engine();
    let mut failures = Vec::new();
    for (name, wat, runs) in MODULES {
        eprintln!("{name}");
        let original = match wat::parse_str(wat) {
            Ok(w) => w,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        for bounds in [false, true] {
            let opts = Options {
                checks: Checks {
                    bounds,
                    ..Checks::default()
                },
                call_depth_limit: bounds.then_some(1000),
                ..Options::default()
            };
            let out = match coredump_rewrite::rewrite(&original, &opts) {
                Ok(o) => o.wasm,
                Err(e) => {
                    failures.push(format!("{name} (bounds {bounds}): {e}"));
                    continue;
                }
            };
            if let Err(e) = common::validates_like(&original, &out) {
                failures.push(format!("{name} (bounds {bounds}): {e}"));
                continue;
            }
            if !runs {
                continue;
            }
            let ok_native = common::call_export(&engine, &original, "run", &[Val::I32(1)]);
            let ok = common::call_export(&engine, &out, "run", &[Val::I32(1)]);
            if ok.trap.is_some() || ok_native.trap.is_some() {
                failures.push(format!(
                    "{name} (bounds {bounds}): run(1) traps: {}",
                    ok.message
                ));
                continue;
            }
            let native = common::call_export(&engine, &original, "run", &[Val::I32(0)]);
            let got = common::call_export(&engine, &out, "run", &[Val::I32(0)]);
            if got.trap != native.trap {
                failures.push(format!(
                    "{name} (bounds {bounds}): {:?} vs {:?}",
                    got.trap, native.trap
                ));
                continue;
            }
            match &got.dump {
                Some(d) => {
                    let (_, frames) = common::dump_frames(d);
                    // A function reached through `ref.func` has a root wrapper: a
                    // call through it ends the dump there (a prefix of the frames).
                    let want = if *name == "reference types" {
                        &native.frames[..1]
                    } else {
                        &native.frames[..]
                    };
                    if !common::same_frames(&original, &frames, want) {
                        failures.push(format!(
                            "{name} (bounds {bounds}): {frames:?} vs {:?}",
                            native.frames
                        ));
                    }
                }
                None => failures.push(format!("{name} (bounds {bounds}): no dump")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Results of a run that does not trap are the same: compare return values.
#[test]
fn results_are_unchanged() {
    let engine = common::engine();
    for (name, wat, runs) in MODULES {
        if !runs {
            continue;
        }
        let original = wat::parse_str(wat).expect("wat");
        let out = common::rewrite(&original, &Options::default());
        for module in [&original, &out] {
            let m = wasmtime::Module::new(&engine, module).expect("compile");
            let mut store = wasmtime::Store::new(&engine, ());
            let i = wasmtime::Instance::new(&mut store, &m, &[]).expect("instantiate");
            let f = i
                .get_typed_func::<i32, i32>(&mut store, "run")
                .expect("run");
            let r = f.call(&mut store, 1).expect("run(1)");
            let _ = (name, r);
        }
        let run = |w: &[u8]| {
            let m = wasmtime::Module::new(&engine, w).expect("compile");
            let mut store = wasmtime::Store::new(&engine, ());
            let i = wasmtime::Instance::new(&mut store, &m, &[]).expect("instantiate");
            i.get_typed_func::<i32, i32>(&mut store, "run")
                .expect("run")
                .call(&mut store, 1)
                .expect("run(1)")
        };
        assert_eq!(run(&original), run(&out), "{name}");
    }
}

/// Custom sections: `name` stays valid and names the added functions,
/// `producers` gains this tool, `build_id` and unknown sections are kept,
/// DWARF and pointers to debug info are removed, `dylink.0` stays first.
#[test]
fn custom_sections() {
    let mut module = wat::parse_str(
        r#"(module $m (memory 1)
  (func $leaf (param $x i32) (result i32) (local $y i64)
    (block $b (br_if $b (local.get $x)) unreachable) (local.get $x))
  (func $entry (export "run") (param i32) (result i32) (call $leaf (local.get 0))))"#,
    )
    .unwrap();
    let dylink = {
        let mut p = Vec::new();
        p.extend_from_slice(&[1, 4, 0, 0, 0, 0]); // mem-info: all zero
        p
    };
    let mut with_dylink = b"\0asm\x01\0\0\0".to_vec();
    wasm_coredump::append_custom_section(&mut with_dylink, "dylink.0", &dylink);
    with_dylink.extend_from_slice(&module[8..]);
    module = with_dylink;
    let id = wasm_coredump::BuildId::new([7u8; 16]);
    wasm_coredump::append_custom_section(&mut module, "build_id", &id.to_section_payload());
    wasm_coredump::append_custom_section(&mut module, ".debug_info", &[1, 2, 3]);
    wasm_coredump::append_custom_section(
        &mut module,
        "external_debug_info",
        &wasm_coredump::external_debug_info_payload("x.wasm"),
    );
    wasm_coredump::append_custom_section(
        &mut module,
        "producers",
        &[
            1, 8, b'l', b'a', b'n', b'g', b'u', b'a', b'g', b'e', 1, 1, b'C', 0,
        ],
    );
    wasm_coredump::append_custom_section(&mut module, "my.section", b"kept");
    let out = common::rewrite(&module, &Options::default());
    common::validates_like(&module, &out).unwrap();

    let mut names = Vec::new();
    let mut first_custom = None;
    for payload in wasmparser::Parser::new(0).parse_all(&out) {
        if let Ok(wasmparser::Payload::CustomSection(c)) = payload {
            first_custom.get_or_insert(c.name().to_string());
            names.push(c.name().to_string());
            if let wasmparser::KnownCustom::Name(reader) = c.as_known() {
                for sub in reader {
                    match sub.expect("name subsection") {
                        wasmparser::Name::Function(map) => {
                            let entries: Vec<_> =
                                map.into_iter().map(|n| n.expect("naming")).collect();
                            assert!(
                                entries.windows(2).all(|w| w[0].index < w[1].index),
                                "sorted"
                            );
                            assert!(entries.iter().any(|n| n.name == "leaf"));
                            assert!(entries.iter().any(|n| n.name.starts_with("coredump:")));
                            assert!(entries.iter().any(|n| n.name == "entry:root"));
                        }
                        wasmparser::Name::Label(map) => {
                            for f in map {
                                for l in f.expect("labels").names {
                                    let l = l.expect("label");
                                    // $b is the third block of $leaf now: $unwind, $unr, $body come first.
                                    assert_eq!((l.index, l.name), (3, "b"));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            if c.name() == "producers" {
                let text = String::from_utf8_lossy(c.data());
                assert!(text.contains("coredump-rewrite"), "{text}");
            }
        }
    }
    assert_eq!(first_custom.as_deref(), Some("dylink.0"));
    assert!(names.contains(&"build_id".to_string()));
    assert!(names.contains(&"my.section".to_string()));
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(".debug_") || n == "external_debug_info"),
        "{names:?}"
    );
    let layout = wasm_coredump::ModuleLayout::parse(&out).unwrap();
    assert_eq!(layout.build_id(), Some(&id));
}

/// Invalid and unsupported inputs are errors, not panics or bad output.
#[test]
fn bad_inputs_are_errors() {
    let opts = Options::default();
    for bad in [
        &b""[..],
        b"\0asm",
        b"\0asm\x01\0\0\0\x01\xff",
        b"not wasm at all",
    ] {
        assert!(coredump_rewrite::rewrite(bad, &opts).is_err());
    }
    // Invalid code.
    let invalid = wat::parse_str(r#"(module (func (result i32) (i64.const 1)))"#).unwrap();
    assert!(matches!(
        coredump_rewrite::rewrite(&invalid, &opts),
        Err(coredump_rewrite::Error::Invalid { .. })
    ));
    // Already instrumented.
    let once = common::rewrite(
        &wat::parse_str(r#"(module (memory 1) (func (export "f") unreachable))"#).unwrap(),
        &opts,
    );
    assert!(matches!(
        coredump_rewrite::rewrite(&once, &opts),
        Err(coredump_rewrite::Error::AlreadyInstrumented(_))
    ));
    // Components.
    let component = wat::parse_str("(component)").unwrap();
    assert!(matches!(
        coredump_rewrite::rewrite(&component, &opts),
        Err(coredump_rewrite::Error::Component)
    ));
}

/// Corrupted modules: the rewriter returns an error or a valid module, and
/// never panics (a deterministic sweep of byte mutations).
#[test]
fn corrupted_inputs_never_panic() {
    let base = wat::parse_str(
        r#"(module
  (type $ii (func (param i32) (result i32)))
  (import "env" "f" (func $imp (param i32) (result i32)))
  (memory 1) (table 3 funcref) (elem (i32.const 0) $a $b)
  (global $g (mut i32) (i32.const 3))
  (func $a (param i32) (result i32) (i32.div_s (local.get 0) (global.get $g)))
  (func $b (param i32) (result i32)
    (if (local.get 0) (then unreachable))
    (call_indirect (type $ii) (local.get 0) (i32.const 0)))
  (func (export "run") (param i32) (result i32)
    (i32.add (call $imp (local.get 0)) (call $b (call $a (local.get 0)))))
  (data (i32.const 8) "hello"))"#,
    )
    .unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let opts = Options::default();
    let mut valid_outputs = 0;
    for _ in 0..3000 {
        let mut wasm = base.clone();
        for _ in 0..1 + next() % 3 {
            let at = 8 + (next() as usize) % (wasm.len() - 8);
            wasm[at] = next() as u8;
        }
        let result = std::panic::catch_unwind(|| coredump_rewrite::rewrite(&wasm, &opts));
        match result {
            Err(_) => panic!("panicked on {wasm:?}"),
            Ok(Ok(out)) => {
                wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
                    .validate_all(&out.wasm)
                    .unwrap_or_else(|e| panic!("invalid output ({e}) for {wasm:?}"));
                valid_outputs += 1;
            }
            Ok(Err(_)) => {}
        }
    }
    assert!(valid_outputs > 0);
}
