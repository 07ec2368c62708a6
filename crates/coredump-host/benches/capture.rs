//! What capture costs, in three parts, printed with ratios:
//!
//! 1. `run` start-up overhead: the host's per-run path (runtime, linking,
//!    store, instantiation, `_start`) next to plain wasmtime doing the same
//!    with its default config, for a hello-world module.
//! 2. Capture modes: steady-state execution speed, compile time and time to
//!    capture a trap with capture off, native and guest-debug. The default
//!    mode is chosen from these figures (see the README).
//! 3. A 64 MiB memory with 1 MiB in use: time to capture and write the dump
//!    (target <= 50 ms) and the dump's size (target about 1 MiB).
//!
//! `cargo bench -p coredump-host --bench capture`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use coredump_host::{Capture, Host, HostOptions, RunRequest, write_dump_atomically};
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

const MODES: [(Capture, &str); 3] = [
    (Capture::Off, "off"),
    (Capture::Native, "native"),
    (Capture::GuestDebug, "guest-debug"),
];

fn main() {
    startup();
    modes();
    big_memory();
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let out = f();
    (started.elapsed(), out)
}

fn host(capture: Capture) -> Host {
    Host::new(HostOptions {
        capture,
        ..HostOptions::default()
    })
    .expect("host")
}

fn startup() {
    const RUNS: usize = 300;
    let wasm = common::print_module("hello\n");
    println!("== run start-up overhead (hello world, median of {RUNS} runs, module compiled once)");

    // Baseline: plain wasmtime, default config, synchronous WASI p1.
    let (cold_plain, engine) = time(Engine::default);
    let (compile_plain, module) = time(|| Module::new(&engine, &wasm).expect("compile"));
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx).expect("link");
    let plain_run = || {
        let out = MemoryOutputPipe::new(1 << 20);
        let wasi = WasiCtxBuilder::new()
            .arg("hello")
            .stdout(out.clone())
            .build_p1();
        let mut store = Store::new(&engine, wasi);
        let instance = linker.instantiate(&mut store, &module).expect("instantiate");
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .expect("_start");
        start.call(&mut store, ()).expect("run");
        assert_eq!(&out.contents()[..], b"hello\n");
    };
    let plain = median((0..RUNS).map(|_| time(plain_run).0).collect());
    println!(
        "  plain wasmtime   {:>9.1} us per run   (engine {:.1} ms, compile {:.1} ms)",
        us(plain),
        ms(cold_plain),
        ms(compile_plain)
    );
    for (capture, name) in MODES {
        let (cold, host) = time(|| host(capture));
        let (compile, module) = time(|| host.compile("hello", &wasm).expect("compile"));
        let request = RunRequest::new("hello", wasm.clone());
        let per_run = median(
            (0..RUNS)
                .map(|_| {
                    time(|| {
                        let outcome = host.run_compiled(&module, &request).expect("run");
                        assert_eq!(outcome.stdout, b"hello\n");
                    })
                    .0
                })
                .collect(),
        );
        println!(
            "  host {name:<11} {:>9.1} us per run   (engine {:.1} ms, compile {:.1} ms)   x{:.2} of plain, +{:.1} us",
            us(per_run),
            ms(cold),
            ms(compile),
            per_run.as_secs_f64() / plain.as_secs_f64(),
            us(per_run.saturating_sub(plain))
        );
    }
}

/// A loop of calls, loads and stores: 20M iterations.
fn compute_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (memory 1)
  (func $mix (param $x i32) (param $i i32) (result i32)
    (i32.add
      (i32.mul (local.get $x) (i32.const 31))
      (i32.xor (local.get $i)
        (i32.load (i32.and (i32.shl (local.get $i) (i32.const 2)) (i32.const 0xfffc))))))
  (func (export "_start")
    (local $i i32) (local $x i32)
    (loop $l
      (local.set $x (call $mix (local.get $x) (local.get $i)))
      (i32.store (i32.and (i32.shl (local.get $x) (i32.const 2)) (i32.const 0xfffc)) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (i32.const 20000000))))))"#,
    )
    .expect("compute module")
}

fn modes() {
    let manifest = crash_fixtures::Manifest::load().expect("fixture manifest");
    let fixture = manifest.program("c-O0").expect("c-O0 fixture");
    let crash_wasm = fixture.wasm_bytes().expect("fixture bytes");
    let big = manifest.program("rust-O2").expect("rust-O2 fixture");
    let big_wasm = big.wasm_bytes().expect("fixture bytes");
    let compute = compute_module();
    println!("== capture modes");
    println!(
        "  {:<12} {:>14} {:>22} {:>22} {:>18}",
        "mode", "compute run", "compile rust-O2", "trap c-O0 divide", "dump frames/locals"
    );
    let mut base_run = None;
    let mut base_compile = None;
    let mut base_trap = None;
    for (capture, name) in MODES {
        let host = host(capture);
        let module = host.compile("compute", &compute).expect("compile");
        let request = RunRequest::new("compute", compute.clone());
        let run = median(
            (0..5)
                .map(|_| time(|| host.run_compiled(&module, &request).expect("run")).0)
                .collect(),
        );
        let compile = median(
            (0..3)
                .map(|_| time(|| host.compile("rust-O2", &big_wasm).expect("compile")).0)
                .collect(),
        );
        let module = host.compile("c-O0", &crash_wasm).expect("compile");
        let mut request = RunRequest::new("crash", crash_wasm.clone());
        request.args = vec!["divide-by-zero".into()];
        let mut shape = String::from("-");
        let trap = median(
            (0..20)
                .map(|_| {
                    let (t, outcome) = time(|| host.run_compiled(&module, &request).expect("run"));
                    let crash = outcome.crash.expect("trap");
                    if let Some(dump) = crash.dump {
                        let frames = dump.main_frames();
                        let locals: usize = frames.iter().map(|f| f.locals.len()).sum();
                        shape = format!("{}/{locals}", frames.len());
                    }
                    t
                })
                .collect(),
        );
        let ratio = |v: Duration, base: &mut Option<Duration>| {
            let b = *base.get_or_insert(v);
            format!("x{:.2}", v.as_secs_f64() / b.as_secs_f64())
        };
        println!(
            "  {name:<12} {:>8.1} ms {:>6} {:>13.1} ms {:>6} {:>13.3} ms {:>6} {:>18}",
            ms(run),
            ratio(run, &mut base_run),
            ms(compile),
            ratio(compile, &mut base_compile),
            ms(trap),
            ratio(trap, &mut base_trap),
            shape
        );
    }
}

/// 64 MiB of memory with 1 MiB of non-zero words, then a trap.
fn big_memory_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (memory 1024)
  (func $fill (export "_start")
    (local $a i32)
    (local.set $a (i32.const 8388608))
    (loop $l
      (i64.store (local.get $a) (i64.const 0x0123456789abcdef))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (br_if $l (i32.lt_u (local.get $a) (i32.const 9437184))))
    unreachable))"#,
    )
    .expect("big memory module")
}

fn big_memory() {
    const RUNS: usize = 10;
    let wasm = big_memory_module();
    let dir = tempfile::tempdir().expect("temp dir");
    println!("== 64 MiB memory, 1 MiB in use (median of {RUNS})");
    let off = host(Capture::Off);
    let module = off.compile("big", &wasm).expect("compile");
    let request = RunRequest::new("big", wasm.clone());
    let baseline = median(
        (0..RUNS)
            .map(|_| time(|| off.run_compiled(&module, &request).expect("run")).0)
            .collect(),
    );
    println!("  run with capture off: {:.2} ms", ms(baseline));
    for (capture, name) in &MODES[1..] {
        let host = host(*capture);
        let module = host.compile("big", &wasm).expect("compile");
        let mut totals = Vec::new();
        let mut size = 0;
        for i in 0..RUNS {
            let started = Instant::now();
            let outcome = host.run_compiled(&module, &request).expect("run");
            let dump = outcome.crash.and_then(|c| c.dump).expect("dump");
            let bytes = dump.to_bytes();
            write_dump_atomically(dir.path(), &format!("big-{name}-{i}.core.wasm"), &bytes)
                .expect("write");
            totals.push(started.elapsed());
            size = bytes.len();
        }
        let total = median(totals);
        let capture_cost = total.saturating_sub(baseline);
        println!(
            "  {name:<12} run+capture+write {:.2} ms; capture and write {:.2} ms (target <= 50 ms: {}; x{:.2} of budget); file {:.3} MiB (x{:.2} of the 1 MiB in use)",
            ms(total),
            ms(capture_cost),
            if capture_cost <= Duration::from_millis(50) { "met" } else { "MISSED" },
            ms(capture_cost) / 50.0,
            size as f64 / (1 << 20) as f64,
            size as f64 / (1 << 20) as f64
        );
    }
}
