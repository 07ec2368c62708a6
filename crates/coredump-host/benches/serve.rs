//! `serve` throughput and latency for a hello-world module, on loopback.
//!
//! Starts the gateway in-process (its own 2-worker runtime), then drives it
//! with a bounded number of requests from a tokio client over keep-alive
//! connections, and prints req/s, p50 and p99 next to the targets
//! (>= 2,000 req/s, p99 <= 10 ms on 2 cores).
//!
//! `cargo bench -p coredump-host --bench serve [-- REQUESTS CONNECTIONS]`

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coredump_host::{RouteConfig, ServeConfig, ServerSettings, serve_on};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

const TARGET_RPS: f64 = 2_000.0;
const TARGET_P99: Duration = Duration::from_millis(10);

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let requests = args.first().copied().unwrap_or(20_000);
    let connections = args.get(1).copied().unwrap_or(8);

    let dir = tempfile::tempdir().expect("temp dir");
    let module = dir.path().join("hello.wasm");
    std::fs::write(
        &module,
        common::print_module("Content-Type: text/plain\n\nhello, world\n"),
    )
    .expect("write module");
    let config = ServeConfig {
        server: ServerSettings {
            coredump_dir: dir.path().join("dumps"),
            instances: 64,
            ..ServerSettings::default()
        },
        routes: vec![RouteConfig::new("/hello", module)],
    };

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            serve_on(listener, config, async {
                let _ = stopped.await;
            })
            .await
        })
    });

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client.block_on(async {
        wait_until_up(addr).await;
        // Warm-up: fill the instance pool and the connection paths.
        drive(addr, 1_000.min(requests), connections).await;
        let started = Instant::now();
        let mut latencies = drive(addr, requests, connections).await;
        let elapsed = started.elapsed();
        latencies.sort();
        let rps = latencies.len() as f64 / elapsed.as_secs_f64();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        let (p50, p99) = (pct(0.50), pct(0.99));
        println!(
            "serve hello-world: {} requests over {connections} keep-alive connections in {:.2} s",
            latencies.len(),
            elapsed.as_secs_f64()
        );
        println!(
            "  throughput {rps:.0} req/s (target >= {TARGET_RPS:.0}: {}; x{:.2} of target)",
            verdict(rps >= TARGET_RPS),
            rps / TARGET_RPS
        );
        println!(
            "  latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (p99 target <= {} ms: {}; x{:.2} of budget)",
            ms(p50),
            ms(p99),
            ms(*latencies.last().unwrap_or(&Duration::ZERO)),
            TARGET_P99.as_millis(),
            verdict(p99 <= TARGET_P99),
            ms(p99) / ms(TARGET_P99)
        );
    });
    let _ = stop.send(());
    match server.join() {
        Ok(Ok(())) => {}
        Ok(Err(err)) => eprintln!("server failed: {err}"),
        Err(_) => eprintln!("server thread panicked"),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn wait_until_up(addr: SocketAddr) {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

/// Sends `total` GET /hello requests over `connections` connections and
/// returns each one's latency.
async fn drive(addr: SocketAddr, total: usize, connections: usize) -> Vec<Duration> {
    let connections = connections.max(1);
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            let share = total / connections + usize::from(i < total % connections);
            tokio::spawn(connection(addr, share))
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    all
}

async fn connection(addr: SocketAddr, requests: usize) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let request = hyper::Request::get("/hello")
            .header(hyper::header::HOST, addr.to_string())
            .body(Empty::<Bytes>::new())
            .expect("request");
        let started = Instant::now();
        let response = sender.send_request(request).await.expect("response");
        assert_eq!(response.status(), 200);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        latencies.push(started.elapsed());
        assert_eq!(&body[..], b"hello, world\n");
    }
    latencies
}
