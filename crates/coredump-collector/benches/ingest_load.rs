//! Load benchmark: ingest of 256 KiB dumps on the embedded setup (SQLite and
//! a local store), on loopback, plus symbolication time with a cached debug
//! file. Not a test: it prints figures.
//!
//! ```sh
//! cargo bench -p coredump-collector --bench ingest_load
//! BENCH_REQUESTS=10000 BENCH_CONCURRENCY=64 cargo bench -p coredump-collector --bench ingest_load
//! ```
//!
//! The server is the real `coredump-collector` binary in its own process, on
//! 127.0.0.1, with a data directory on the same disk as the system temp dir.
//! Every dump is a real crash of the `c-O0` fixture (captured by
//! `coredump-host` on wasmtime) with a 250 KiB incompressible memory added,
//! so each is 256 KiB; its debug file is uploaded first, so every dump is
//! symbolicated at ingest. The load generator keeps BENCH_CONCURRENCY
//! requests in flight and stops after BENCH_REQUESTS (bounded in count and
//! in time).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coredump_collector::symbolicate::{
    ModuleSymbols, frame_variables, modules_of, symbolicate_stack, unsymbolicated_stack,
};
use coredump_host::{Capture, Host, HostOptions, RunRequest};
use crash_fixtures::Manifest;
use wasm_coredump::{
    BUILD_ID_SECTION, BuildId, CoreDump, Memory, MemoryLimits, append_custom_section,
};

const TARGET_SIZE: usize = 256 * 1024;
const INGEST: &str = "bench-ingest";
const READ: &str = "bench-read";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fixture module with a build id appended, and the dump of one of its crashes.
fn capture(program: &str, mode: &str) -> (Vec<u8>, BuildId, CoreDump) {
    let manifest = Manifest::load().expect("manifest");
    let program = manifest.program(program).expect("fixture program");
    let mut module = program.wasm_bytes().expect("module");
    let mut id = vec![0xbe, 0x4c, 0x80, 0x00];
    id.extend(program.id.bytes().chain(std::iter::repeat(0)).take(12));
    let id = BuildId::new(id);
    append_custom_section(&mut module, BUILD_ID_SECTION, &id.to_section_payload());
    let host = Host::new(HostOptions {
        capture: Capture::Native,
        ..HostOptions::default()
    })
    .expect("engine");
    let mut request = RunRequest::new(
        program.wasm.rsplit('/').next().unwrap_or("app.wasm"),
        module.clone(),
    );
    request.args = program.mode(mode).expect("fixture mode").args.clone();
    let outcome = host.run(&request).expect("runs");
    let dump = outcome.crash.expect("crashes").dump.expect("dump");
    (module, id, dump)
}

/// The c-O0 module with a build id, and a 256 KiB dump of its crash.
fn make_dump() -> (Vec<u8>, String, Vec<u8>) {
    let (module, id, dump) = capture("c-O0", "abort");
    // Pad with an incompressible extra memory to the target size.
    let mut state = 0x9e3779b97f4a7c15u64;
    let noise: Vec<u8> = (0..TARGET_SIZE)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let base = dump.to_bytes().len();
    let mut pad = TARGET_SIZE.saturating_sub(base + 64);
    let mut bytes = Vec::new();
    for _ in 0..4 {
        let mut padded = dump.clone();
        let mut memory = Memory::new(MemoryLimits::pages((pad as u64).div_ceil(65536) + 1));
        memory.write(0, &noise[..pad]).expect("pad");
        padded.memories.push(memory);
        bytes = padded.to_bytes();
        if bytes.len() == TARGET_SIZE {
            break;
        }
        pad = (pad as i64 + TARGET_SIZE as i64 - bytes.len() as i64).clamp(0, TARGET_SIZE as i64)
            as usize;
    }
    (module, id.to_hex(), bytes)
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(data: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coredump-collector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args([
            "--ingest-token",
            INGEST,
            "--read-token",
            READ,
            "--rate-limit",
            "0",
            "--max-dumps-per-group",
            "0",
            "--retention-days",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the collector");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    Server(child, url)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Symbolication of one dump's stack (plus the top frame's variables) with
/// the debug file already open, as the collector does at ingest.
fn symbolication_figures(
    module: &[u8],
    build_id: &str,
    dump_bytes: &[u8],
) -> (Duration, Duration, Duration, Duration) {
    let dump = CoreDump::parse(dump_bytes).expect("dump parses");
    let mut modules = modules_of(&dump, &Default::default());
    for m in &mut modules {
        m.build_id = Some(build_id.to_string());
    }
    let opened = Instant::now();
    let symbols =
        Arc::new(ModuleSymbols::from_debug_file(module.to_vec(), "bench").expect("debug file"));
    let open_time = opened.elapsed();
    let map: HashMap<String, Arc<ModuleSymbols>> = [(build_id.to_string(), symbols)].into();
    let mut times = Vec::new();
    for _ in 0..500 {
        let (mut stack, _) = unsymbolicated_stack(&dump, &modules);
        let started = Instant::now();
        symbolicate_stack(&mut stack, &map);
        let _ = frame_variables(&stack, &dump, &map);
        times.push(started.elapsed());
        assert!(stack.frames.iter().all(|f| f.symbolicated));
    }
    let first = times[0];
    times.sort();
    (
        open_time,
        first,
        percentile(&times, 50.0),
        percentile(&times, 99.0),
    )
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test` of benches passes nothing to run.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let requests = env_usize("BENCH_REQUESTS", 5000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let (module, build_id, dump) = make_dump();
    println!(
        "ingest_load: dump {} bytes (real c-O0 crash + incompressible memory), {} requests, {} in flight",
        dump.len(),
        requests,
        concurrency
    );

    let (open_time, first, sym_p50, sym_p99) = symbolication_figures(&module, &build_id, &dump);
    println!(
        "symbolication, c-O0 (debug file cached): p50 {:.3} ms, p99 {:.3} ms per dump ({} frames); first dump {:.3} ms; opening the debug file once: {:.1} ms",
        ms(sym_p50),
        ms(sym_p99),
        CoreDump::parse(&dump).unwrap().main_frames().len(),
        ms(first),
        ms(open_time)
    );
    // A Rust panic: a 7 MiB debug file and a deep stack through std.
    let (rust_module, rust_id, rust_dump) = capture("rust-debug", "unwrap-none");
    let rust_dump = rust_dump.to_bytes();
    let (rust_open, rust_first, rust_p50, rust_p99) =
        symbolication_figures(&rust_module, &rust_id.to_hex(), &rust_dump);
    println!(
        "symbolication, rust-debug panic (debug file cached): p50 {:.3} ms, p99 {:.3} ms per dump ({} frames); first dump {:.1} ms; opening the {:.1} MiB debug file once: {:.1} ms",
        ms(rust_p50),
        ms(rust_p99),
        CoreDump::parse(&rust_dump).unwrap().main_frames().len(),
        ms(rust_first),
        rust_module.len() as f64 / (1024.0 * 1024.0),
        ms(rust_open)
    );
    let sym_p99 = sym_p99.max(rust_p99);

    let data = tempfile::tempdir().expect("data dir");
    let server = start_server(data.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = server.1.clone();
    let (latencies, errors, wall) = runtime.block_on(async move {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let put = http
            .put(format!("{base}/api/v1/debug-files/{build_id}"))
            .bearer_auth(INGEST)
            .body(module.clone())
            .send()
            .await
            .unwrap();
        assert!(
            put.status().is_success(),
            "debug file upload: {}",
            put.status()
        );
        let body = Bytes::from(dump);
        let send = {
            let base = base.clone();
            move |http: reqwest::Client, body: Bytes| {
                let url = format!("{base}/api/v1/dumps");
                async move {
                    let started = Instant::now();
                    let ok = http
                        .post(url)
                        .bearer_auth(INGEST)
                        .header("content-type", "application/wasm")
                        .body(body)
                        .send()
                        .await
                        .map(|r| r.status() == reqwest::StatusCode::CREATED)
                        .unwrap_or(false);
                    (started.elapsed(), ok)
                }
            }
        };
        // Warm-up: connections, caches.
        let warm: Vec<_> = (0..concurrency.min(200))
            .map(|_| tokio::spawn(send(http.clone(), body.clone())))
            .collect();
        for w in warm {
            w.await.unwrap();
        }
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(300);
        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let http = http.clone();
                let body = body.clone();
                let next = next.clone();
                let send = send.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    let mut errors = 0usize;
                    while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests
                        && Instant::now() < deadline
                    {
                        let (latency, ok) = send(http.clone(), body.clone()).await;
                        if ok {
                            mine.push(latency);
                        } else {
                            errors += 1;
                        }
                    }
                    (mine, errors)
                })
            })
            .collect();
        let mut latencies = Vec::new();
        let mut errors = 0;
        for w in workers {
            let (mine, e) = w.await.unwrap();
            latencies.extend(mine);
            errors += e;
        }
        (latencies, errors, started.elapsed())
    });
    let mut sorted = latencies;
    sorted.sort();
    let throughput = sorted.len() as f64 / wall.as_secs_f64();
    let p99 = percentile(&sorted, 99.0);
    println!(
        "ingest: {} accepted, {} failed in {:.2} s = {:.0} dumps/s ({:.1} MiB/s); latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sorted.len(),
        errors,
        wall.as_secs_f64(),
        throughput,
        throughput * TARGET_SIZE as f64 / (1024.0 * 1024.0),
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 90.0)),
        ms(p99),
        ms(sorted.last().copied().unwrap_or_default())
    );
    let metrics = runtime.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("{}/metrics", server.1))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let sym_count = metric("collector_symbolication_duration_seconds_count");
    let put_count = metric("collector_store_put_duration_seconds_count");
    println!(
        "server side: symbolication mean {:.3} ms over {} dumps; durable store put (write + fsync + rename + dir fsync) mean {:.2} ms",
        1000.0 * metric("collector_symbolication_duration_seconds_sum") / sym_count.max(1.0),
        sym_count,
        1000.0 * metric("collector_store_put_duration_seconds_sum") / put_count.max(1.0),
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "targets: >= 500 dumps/s {}; p99 <= 100 ms {}; symbolication <= 20 ms {}",
        verdict(throughput >= 500.0),
        verdict(p99 <= Duration::from_millis(100)),
        verdict(sym_p99 <= Duration::from_millis(20))
    );
    drop(server);
}
