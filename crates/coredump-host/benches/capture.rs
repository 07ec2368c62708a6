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
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiate");
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
    const ROUNDS: usize = 5;
    struct Setup {
        name: &'static str,
        host: Host,
        compute: wasmtime::Module,
        crash: wasmtime::Module,
        run: Vec<Duration>,
        compile: Vec<Duration>,
        trap: Vec<Duration>,
        shape: String,
    }
    let mut setups: Vec<Setup> = MODES
        .iter()
        .map(|(capture, name)| {
            let host = host(*capture);
            let compute = host.compile("compute", &compute).expect("compile");
            let crash = host.compile("c-O0", &crash_wasm).expect("compile");
            Setup {
                name,
                host,
                compute,
                crash,
                run: Vec::new(),
                compile: Vec::new(),
                trap: Vec::new(),
                shape: "-".into(),
            }
        })
        .collect();
    let compute_request = RunRequest::new("compute", compute.clone());
    let mut crash_request = RunRequest::new("crash", crash_wasm.clone());
    crash_request.args = vec!["divide-by-zero".into()];
    // Modes take turns, so a noisy moment hits them alike.
    for _ in 0..ROUNDS {
        for setup in &mut setups {
            let (t, _) = time(|| {
                setup
                    .host
                    .run_compiled(&setup.compute, &compute_request)
                    .expect("run")
            });
            setup.run.push(t);
            let (t, _) = time(|| setup.host.compile("rust-O2", &big_wasm).expect("compile"));
            setup.compile.push(t);
            for _ in 0..4 {
                let (t, outcome) = time(|| {
                    setup
                        .host
                        .run_compiled(&setup.crash, &crash_request)
                        .expect("run")
                });
                setup.trap.push(t);
                if let Some(dump) = outcome.crash.and_then(|c| c.dump) {
                    let frames = dump.main_frames();
                    let locals: usize = frames.iter().map(|f| f.locals.len()).sum();
                    setup.shape = format!("{}/{locals}", frames.len());
                }
            }
        }
    }
    let base = (
        median(setups[0].run.clone()),
        median(setups[0].compile.clone()),
        median(setups[0].trap.clone()),
    );
    for setup in setups {
        let (run, compile, trap) = (median(setup.run), median(setup.compile), median(setup.trap));
        let ratio = |v: Duration, b: Duration| format!("x{:.2}", v.as_secs_f64() / b.as_secs_f64());
        println!(
            "  {:<12} {:>8.1} ms {:>6} {:>13.1} ms {:>6} {:>13.3} ms {:>6} {:>18}",
            setup.name,
            ms(run),
            ratio(run, base.0),
            ms(compile),
            ratio(compile, base.1),
            ms(trap),
            ratio(trap, base.2),
            setup.shape
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

/// Where the time of a big dump goes: wasmtime's own serialisation, our
/// parse of it, our writer.
fn big_memory_breakdown(wasm: &[u8]) {
    let mut config = wasmtime::Config::new();
    config.coredump_on_trap(true);
    let engine = Engine::new(&config).expect("engine");
    let module = Module::new(&engine, wasm).expect("compile");
    let (mut serialize, mut parse, mut write) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let mut store = Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiate");
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .expect("_start");
        let err = start.call(&mut store, ()).expect_err("traps");
        let native = err
            .downcast_ref::<wasmtime::WasmCoreDump>()
            .expect("native dump");
        let (t, bytes) = time(|| native.serialize(&mut store, "big"));
        serialize.push(t);
        let (t, dump) = time(|| wasm_coredump::CoreDump::parse(&bytes).expect("parse"));
        parse.push(t);
        write.push(time(|| dump.to_bytes()).0);
    }
    println!(
        "  for comparison, the serialising path: wasmtime serialize {:.2} ms + parse {:.2} ms + encode {:.2} ms",
        ms(median(serialize)),
        ms(median(parse)),
        ms(median(write))
    );
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
    big_memory_breakdown(&wasm);
    for (capture, name) in &MODES[1..] {
        let host = host(*capture);
        let module = host.compile("big", &wasm).expect("compile");
        let (mut totals, mut runs, mut encodes, mut writes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut size = 0;
        for i in 0..RUNS {
            let started = Instant::now();
            let (run, outcome) = time(|| host.run_compiled(&module, &request).expect("run"));
            let dump = outcome.crash.and_then(|c| c.dump).expect("dump");
            let (encode, bytes) = time(|| dump.to_bytes());
            let (write, _) = time(|| {
                write_dump_atomically(dir.path(), &format!("big-{name}-{i}.core.wasm"), &bytes)
                    .expect("write")
            });
            totals.push(started.elapsed());
            runs.push(run);
            encodes.push(encode);
            writes.push(write);
            size = bytes.len();
        }
        let total = median(totals);
        let capture_cost = total.saturating_sub(baseline);
        println!(
            "  {name:<12} capture and write {:.2} ms (target <= 50 ms: {}; x{:.2} of budget): capture {:.2} ms, encode {:.2} ms, write+fsync {:.2} ms; file {:.3} MiB (x{:.2} of the 1 MiB in use)",
            ms(capture_cost),
            if capture_cost <= Duration::from_millis(50) {
                "met"
            } else {
                "MISSED"
            },
            ms(capture_cost) / 50.0,
            ms(median(runs).saturating_sub(baseline)),
            ms(median(encodes)),
            ms(median(writes)),
            size as f64 / (1 << 20) as f64,
            size as f64 / (1 << 20) as f64
        );
    }
}
