//! The WAGI/CGI gateway over real HTTP on 127.0.0.1: CGI variables, headers,
//! crashes under load with the server staying healthy, dumps delivered to a
//! collector with the request context scrubbed, spooling while the collector
//! is down, limits and graceful shutdown.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use coredump_host::{
    Capture, DUMP_SUFFIX, RouteConfig, ServeConfig, ServeError, ServerSettings, pending_dumps,
    serve_on,
};
use wasm_coredump::{CoreDump, ModuleLayout, TrapKind};

/// A gateway running on its own runtime, stopped on drop.
struct TestServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestServer {
    fn start(config: ServeConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                serve_on(listener, config, async {
                    let _ = rx.await;
                })
                .await
            })
        });
        let server = TestServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        };
        server.wait_ready();
        server
    }

    /// Routes are compiled before the server answers; wait until it does.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = get(&self.url("/__not_a_route__"))
                && r.0 == 404
            {
                return;
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                panic!("the server stopped while starting");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the server did not come up");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn stop(mut self) -> Result<(), ServeError> {
        self.shutdown.take().map(|tx| tx.send(()));
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status, headers (lower-case names) and body.
type Reply = (u16, Vec<(String, String)>, String);

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Result<Reply, ureq::Error> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response.body_mut().read_to_string()?;
    Ok((status, headers, body))
}

fn get(url: &str) -> Result<Reply, ureq::Error> {
    reply(agent().get(url).call()?)
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .1
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Writes the test modules into `dir`, once per test binary.
fn modules(dir: &Path) -> BTreeMap<&'static str, PathBuf> {
    let mut paths = BTreeMap::new();
    let modules: [(&str, Vec<u8>); 9] = [
        ("echo", echo_module()),
        (
            "hello",
            print_module("Content-Type: text/plain\n\nhello, world\n"),
        ),
        (
            "status",
            print_module(
                "Status: 404 Not Found\r\nContent-Type: text/plain\r\nX-Extra: yes\r\n\r\nnope",
            ),
        ),
        ("redirect", print_module("Location: /hello\n\n")),
        ("garbage", print_module("this is not a header\n\nbody")),
        (
            "framing",
            print_module("Content-Type: text/plain\nContent-Length: 999\n\nshort"),
        ),
        ("crash", crash_module()),
        ("spin", spin_module()),
        ("grow", grow_module(512)),
    ];
    for (name, wasm) in modules {
        let path = dir.join(format!("{name}.wasm"));
        std::fs::write(&path, wasm).unwrap();
        paths.insert(name, path);
    }
    paths
}

/// The routes file every gateway test uses, in the documented format.
fn routes_toml(collector: &str, dumps: &Path) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
coredump_dir = "{dumps}"
collector = "{collector}"
token = "ingest-secret"
timeout_ms = 300
max_memory_bytes = 4194304
instances = 16
retry_interval_ms = 100

[[route]]
path = "/echo/..."
module = "echo.wasm"
env = {{ GREETING = "hi" }}

[[route]]
path = "/hello"
module = "hello.wasm"

[[route]]
path = "/status"
module = "status.wasm"

[[route]]
path = "/redirect"
module = "redirect.wasm"

[[route]]
path = "/garbage"
module = "garbage.wasm"

[[route]]
path = "/framing"
module = "framing.wasm"

[[route]]
path = "/crash"
module = "crash.wasm"

[[route]]
path = "/spin"
module = "spin.wasm"

[[route]]
path = "/grow"
module = "grow.wasm"
"#,
        dumps = dumps.display()
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    modules_dir: PathBuf,
    dumps: PathBuf,
    collector_url: String,
    collected: Arc<Mutex<Vec<Received>>>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let modules_dir = dir.path().join("modules");
    std::fs::create_dir_all(&modules_dir).unwrap();
    modules(&modules_dir);
    let dumps = dir.path().join("dumps");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let collector_url = format!("http://{}", listener.local_addr().unwrap());
    let collected = fake_collector(listener);
    Fixture {
        modules_dir,
        dumps,
        collector_url,
        collected,
        _dir: dir,
    }
}

fn config(f: &Fixture) -> ServeConfig {
    ServeConfig::parse(&routes_toml(&f.collector_url, &f.dumps), &f.modules_dir).unwrap()
}

/// Waits until the collector holds `n` dumps.
fn wait_for_dumps(collected: &Mutex<Vec<Received>>, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = collected.lock().unwrap().clone();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_until_spool_empty(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pending_dumps(dir).unwrap().is_empty() {
        assert!(Instant::now() < deadline, "dumps left in the spool");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_request_becomes_cgi_variables_and_stdin() {
    let f = fixture();
    let server = TestServer::start(config(&f));
    let response = agent()
        .post(&server.url("/echo/a%20b/c?x=1&y=two"))
        .header("Content-Type", "application/x-test")
        .header("X-Custom", "yes")
        .header("Authorization", "Bearer s3cret")
        .send(&b"hello body"[..])
        .unwrap();
    let r = reply(response).unwrap();
    assert_eq!(r.0, 200, "{r:?}");
    assert_eq!(header(&r, "content-type"), Some("text/plain"));
    let (env, stdin) = parse_echo(&r.2);
    let var = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(var("REQUEST_METHOD"), Some("POST"));
    assert_eq!(var("SCRIPT_NAME"), Some("/echo"));
    assert_eq!(var("PATH_INFO"), Some("/a b/c"));
    assert_eq!(var("X_RAW_PATH_INFO"), Some("/a%20b/c"));
    assert_eq!(var("QUERY_STRING"), Some("x=1&y=two"));
    assert_eq!(var("REQUEST_URI"), Some("/echo/a%20b/c?x=1&y=two"));
    assert_eq!(var("CONTENT_TYPE"), Some("application/x-test"));
    assert_eq!(var("CONTENT_LENGTH"), Some("10"));
    assert_eq!(var("HTTP_X_CUSTOM"), Some("yes"));
    assert_eq!(var("GATEWAY_INTERFACE"), Some("CGI/1.1"));
    assert_eq!(var("REMOTE_ADDR"), Some("127.0.0.1"));
    let port = server.addr.port().to_string();
    assert_eq!(var("SERVER_PORT"), Some(port.as_str()));
    assert_eq!(var("SERVER_NAME"), Some("127.0.0.1"));
    assert_eq!(var("X_MATCHED_ROUTE"), Some("/echo/..."));
    assert_eq!(var("GREETING"), Some("hi"), "the route's own env");
    assert_eq!(
        var("HTTP_AUTHORIZATION"),
        None,
        "credentials stay out of CGI"
    );
    assert_eq!(stdin, "hello body");

    // A prefix route matches its own path too, but not a longer name.
    assert_eq!(get(&server.url("/echo")).unwrap().0, 200);
    assert_eq!(get(&server.url("/echoes")).unwrap().0, 404);
    server.stop().unwrap();
}

#[test]
fn cgi_headers_set_status_location_and_content_type() {
    let f = fixture();
    let server = TestServer::start(config(&f));
    let r = get(&server.url("/hello")).unwrap();
    assert_eq!((r.0, r.2.as_str()), (200, "hello, world\n"));
    assert_eq!(header(&r, "content-type"), Some("text/plain"));

    let r = get(&server.url("/status")).unwrap();
    assert_eq!((r.0, r.2.as_str()), (404, "nope"));
    assert_eq!(header(&r, "x-extra"), Some("yes"));
    assert_eq!(header(&r, "status"), None);

    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let r = reply(no_redirects.get(&server.url("/redirect")).call().unwrap()).unwrap();
    assert_eq!(r.0, 302);
    assert_eq!(header(&r, "location"), Some("/hello"));

    // Output that is not CGI is the gateway's error, not a success.
    assert_eq!(get(&server.url("/garbage")).unwrap().0, 502);
    // The program cannot lie about the body's length.
    let r = get(&server.url("/framing")).unwrap();
    assert_eq!((r.0, r.2.as_str()), (200, "short"));
    assert_eq!(get(&server.url("/nowhere")).unwrap().0, 404);
    server.stop().unwrap();
}

#[test]
fn a_crash_mid_load_answers_500_with_the_dump_id_and_the_server_keeps_serving() {
    let f = fixture();
    let server = TestServer::start(config(&f));
    let crashes = 8; // workers 0 and 2, requests 0, 13, 26 and 39
    let base = server.url("");
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let base = base.clone();
            std::thread::spawn(move || {
                let agent = agent();
                let mut dump_ids = Vec::new();
                for i in 0..40 {
                    if w % 2 == 0 && i % 13 == 0 {
                        let r = reply(
                            agent
                                .post(&format!("{base}/crash?user=ann&token=tok-{w}-{i}"))
                                .header("Authorization", "Bearer s3cret")
                                .header("Cookie", "session=c00kie")
                                .header("X-Request-Id", &format!("req-{w}-{i}"))
                                .send(&b"payload"[..])
                                .unwrap(),
                        )
                        .unwrap();
                        assert_eq!(r.0, 500, "{r:?}");
                        let body: serde_json::Value = serde_json::from_str(&r.2).unwrap();
                        assert_eq!(body["trap"], "integer-divide-by-zero");
                        let id = body["dump_id"].as_str().unwrap().to_string();
                        assert_eq!(header(&r, "x-coredump-id"), Some(id.as_str()));
                        dump_ids.push((id, format!("req-{w}-{i}")));
                    } else {
                        let r = reply(agent.get(&format!("{base}/hello")).call().unwrap()).unwrap();
                        assert_eq!((r.0, r.2.as_str()), (200, "hello, world\n"));
                    }
                }
                dump_ids
            })
        })
        .collect();
    let dump_ids: Vec<(String, String)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert_eq!(dump_ids.len(), crashes);
    // Still healthy.
    assert_eq!(get(&server.url("/hello")).unwrap().0, 200);

    let received = wait_for_dumps(&f.collected, crashes);
    assert_eq!(received.len(), crashes, "every dump reaches the collector");
    let layout = ModuleLayout::parse(&crash_module()).unwrap();
    for (id, request_id) in &dump_ids {
        let got = received
            .iter()
            .find(|r| r.idempotency_key == format!("{id}{DUMP_SUFFIX}"))
            .unwrap_or_else(|| panic!("dump {id} was not delivered"));
        assert_eq!(got.authorization, "Bearer ingest-secret");
        assert_eq!(got.content_type, "application/wasm");
        for secret in ["s3cret", "c00kie", "tok-"] {
            assert!(
                !got.body
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "{secret} leaked into dump {id}"
            );
        }
        let dump = CoreDump::parse(&got.body).unwrap();
        assert_eq!(
            dump.trap.as_ref().map(|t| &t.kind),
            Some(&TrapKind::IntegerDivideByZero)
        );
        let names: Vec<_> = dump
            .main_frames()
            .iter()
            .map(|f| layout.function_name(f.function).unwrap_or("?"))
            .collect();
        assert_eq!(names, ["divide", "handle", "_start"]);
        assert_eq!(dump.info("request.method"), Some("POST"));
        assert_eq!(
            dump.info("request.url"),
            Some("/crash?user=ann&token=[scrubbed]")
        );
        assert_eq!(
            dump.info("request.header.authorization"),
            Some("[scrubbed]")
        );
        assert_eq!(dump.info("request.header.cookie"), Some("[scrubbed]"));
        assert_eq!(
            dump.info("request.header.x-request-id"),
            Some(request_id.as_str())
        );
        assert!(
            dump.modules[0]
                .path
                .as_deref()
                .is_some_and(|p| p.ends_with("crash.wasm"))
        );
        let memory = dump.memory(0).unwrap();
        assert_eq!(memory.read(100, 13).unwrap(), b"request state");
    }
    // Delivered dumps are marked (just after the collector answered).
    wait_until_spool_empty(&f.dumps);
    server.stop().unwrap();
}

#[test]
fn dumps_wait_in_the_spool_while_the_collector_is_down_and_none_are_lost() {
    let f = fixture();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let server = TestServer::start(
        ServeConfig::parse(&routes_toml(&url, &f.dumps), &f.modules_dir).unwrap(),
    );
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = reply(agent().post(&server.url("/crash")).send(&b""[..]).unwrap()).unwrap();
        assert_eq!(r.0, 500);
        ids.push(header(&r, "x-coredump-id").unwrap().to_string());
        // Served while the collector is unreachable.
        assert_eq!(get(&server.url("/hello")).unwrap().0, 200);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pending_dumps(&f.dumps).unwrap().len(), 5);

    // The collector comes up: the retry timer delivers everything.
    let collected = fake_collector(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let received = wait_for_dumps(&collected, 5);
    let mut keys: Vec<_> = received.iter().map(|r| r.idempotency_key.clone()).collect();
    keys.sort();
    keys.dedup();
    let mut expected: Vec<_> = ids.iter().map(|id| format!("{id}{DUMP_SUFFIX}")).collect();
    expected.sort();
    assert_eq!(keys, expected);
    wait_until_spool_empty(&f.dumps);
    server.stop().unwrap();
}

#[test]
fn timeouts_and_memory_limits_trap_the_request_not_the_server() {
    let f = fixture();
    let server = TestServer::start(config(&f));
    let started = Instant::now();
    let r = get(&server.url("/spin")).unwrap();
    assert_eq!(r.0, 500, "{r:?}");
    let body: serde_json::Value = serde_json::from_str(&r.2).unwrap();
    assert_eq!(body["trap"], "interrupt");
    assert!(started.elapsed() < Duration::from_secs(5));

    // 512 more pages exceed the 4 MiB cap: memory.grow fails, the module traps.
    let r = get(&server.url("/grow")).unwrap();
    assert_eq!(r.0, 500, "{r:?}");
    let body: serde_json::Value = serde_json::from_str(&r.2).unwrap();
    assert_eq!(body["trap"], "unreachable");
    assert_eq!(get(&server.url("/hello")).unwrap().0, 200);

    let received = wait_for_dumps(&f.collected, 2);
    let kinds: Vec<_> = received
        .iter()
        .filter_map(|r| CoreDump::parse(&r.body).ok()?.trap.map(|t| t.kind))
        .collect();
    assert!(kinds.contains(&TrapKind::Interrupt), "{kinds:?}");
    assert!(kinds.contains(&TrapKind::Unreachable), "{kinds:?}");
    server.stop().unwrap();
}

/// A route's own limits apply to its requests and no one else's: a shorter
/// timeout, a lower memory cap, a smaller body limit.
#[test]
fn routes_may_set_their_own_limits() {
    let dir = tempfile::tempdir().unwrap();
    for (name, wasm) in [
        ("spin", spin_module()),
        ("grow", grow_module(32)),
        ("echo", echo_module()),
    ] {
        std::fs::write(dir.path().join(format!("{name}.wasm")), wasm).unwrap();
    }
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
coredump_dir = "{dumps}"
timeout_ms = 120000
max_memory_bytes = 4194304

[[route]]
path = "/spin-briefly"
module = "spin.wasm"
timeout_ms = 100

[[route]]
path = "/grow"
module = "grow.wasm"

[[route]]
path = "/grow-small"
module = "grow.wasm"
max_memory_bytes = 1048576

[[route]]
path = "/echo"
module = "echo.wasm"

[[route]]
path = "/echo-small"
module = "echo.wasm"
max_body_bytes = 16
"#,
        dumps = dir.path().join("dumps").display()
    );
    let config = ServeConfig::parse(&text, dir.path()).unwrap();
    let server = TestServer::start(config);

    // The server would wait two minutes; the route stops it at 100 ms.
    let started = Instant::now();
    let r = get(&server.url("/spin-briefly")).unwrap();
    assert_eq!(r.0, 500, "{r:?}");
    let body: serde_json::Value = serde_json::from_str(&r.2).unwrap();
    assert_eq!(body["trap"], "interrupt");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );

    // 1 + 32 pages (2.1 MiB): within the server's 4 MiB, not the route's 1 MiB.
    assert_eq!(get(&server.url("/grow")).unwrap().0, 200);
    let r = get(&server.url("/grow-small")).unwrap();
    assert_eq!(r.0, 500, "{r:?}");

    let post = |path: &str, body: &[u8]| {
        reply(agent().post(&server.url(path)).send(body).unwrap())
            .unwrap()
            .0
    };
    assert_eq!(post("/echo", &[b'x'; 64]), 200);
    assert_eq!(post("/echo-small", &[b'x'; 64]), 413);
    assert_eq!(post("/echo-small", b"small"), 200);
    server.stop().unwrap();
}

#[test]
fn oversized_bodies_are_refused() {
    let f = fixture();
    let mut config = config(&f);
    config.server.max_body_bytes = 1024;
    let server = TestServer::start(config);
    let r = reply(
        agent()
            .post(&server.url("/echo"))
            .send(&vec![b'x'; 4096][..])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(r.0, 413);
    let r = reply(
        agent()
            .post(&server.url("/echo"))
            .send(&b"small"[..])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(r.0, 200);
    server.stop().unwrap();
}

#[test]
fn shutdown_finishes_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("busy.wasm");
    // Long enough to be in flight when shutdown starts.
    std::fs::write(
        &module,
        busy_module(300_000_000, "Content-Type: text/plain\n\ndone"),
    )
    .unwrap();
    let hello = dir.path().join("hello.wasm");
    std::fs::write(&hello, print_module("Content-Type: text/plain\n\nhi")).unwrap();
    let config = ServeConfig {
        server: ServerSettings {
            coredump_dir: dir.path().join("dumps"),
            timeout_ms: 20_000,
            ..ServerSettings::default()
        },
        routes: vec![
            RouteConfig::new("/busy", module),
            RouteConfig::new("/hello", hello),
        ],
    };
    let server = TestServer::start(config);
    let url = server.url("/busy");
    let in_flight = std::thread::spawn(move || get(&url));
    std::thread::sleep(Duration::from_millis(50));
    let stopped = Instant::now();
    server.stop().unwrap();
    let r = in_flight.join().unwrap().unwrap();
    assert_eq!((r.0, r.2.as_str()), (200, "done"));
    assert!(stopped.elapsed() < Duration::from_secs(20));
}

#[test]
fn bad_configs_are_clear_errors() {
    let base = Path::new("/srv");
    let err = |text: &str| ServeConfig::parse(text, base).unwrap_err();
    assert!(err("").contains("no [[route]]"));
    assert!(err("[[route]]\npath = \"x\"\nmodule = \"a.wasm\"").contains("must start with `/`"));
    assert!(
        err("[[route]]\npath = \"/a\"\nmodule = \"a.wasm\"\n[[route]]\npath = \"/a\"\nmodule = \"b.wasm\"")
            .contains("twice")
    );
    assert!(err("[[route]]\npath = \"/a\"\nmodule = \"a.wasm\"\ncolour = 1").contains("colour"));
    assert!(
        err("[server]\ncapture = \"psychic\"\n[[route]]\npath = \"/a\"\nmodule = \"a.wasm\"")
            .contains("psychic")
    );
    assert!(
        err("[server]\ntimeout_ms = 0\n[[route]]\npath = \"/a\"\nmodule = \"a.wasm\"")
            .contains("timeout_ms")
    );
    assert!(
        err("[server]\nlisten = \"nowhere\"\n[[route]]\npath = \"/a\"\nmodule = \"a.wasm\"")
            .contains("listen")
    );
    assert!(
        err("[[route]]\npath = \"/a\"\nmodule = \"a.wasm\"\ntimeout_ms = 0").contains("timeout_ms")
    );
    assert!(
        err("[server]\nmax_memory_bytes = 1048576\n[[route]]\npath = \"/a\"\nmodule = \"a.wasm\"\nmax_memory_bytes = 2097152")
            .contains("to the server's (1048576)")
    );
    assert!(
        err("[[route]]\npath = \"/a\"\nmodule = \"a.wasm\"\nmax_body_bytes = 0")
            .contains("max_body_bytes")
    );

    let ok = ServeConfig::parse(
        "[server]\ncapture = \"guest-debug\"\n[[route]]\npath = \"/a/...\"\nmodule = \"a.wasm\"\nargs = [\"--x\"]",
        base,
    )
    .unwrap();
    assert_eq!(ok.server.capture, Capture::GuestDebug);
    assert_eq!(ok.routes[0].module, Path::new("/srv/a.wasm"));
    assert_eq!(ok.routes[0].args, ["--x"]);
    assert_eq!(ok.server.listen, "127.0.0.1:3000".parse().unwrap());

    // A missing or malformed module stops the server before it serves.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.wasm"), b"\0asm\x01\0\0\0\x01\xff").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (module, expected) in [
        ("missing.wasm", "cannot read"),
        ("junk.wasm", "cannot compile"),
    ] {
        let config = ServeConfig::parse(
            &format!("[[route]]\npath = \"/a\"\nmodule = \"{module}\""),
            dir.path(),
        )
        .unwrap();
        let result = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            serve_on(listener, config, std::future::pending()).await
        });
        let err = result.unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn request_context_scrubs_credentials() {
    use axum::http::{HeaderMap, Method, Uri};
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    headers.insert("cookie", "a=b".parse().unwrap());
    headers.insert("x-api-key", "k".parse().unwrap());
    headers.insert("x-amz-security-token", "t".parse().unwrap());
    headers.insert("accept", "text/html".parse().unwrap());
    let uri: Uri = "/p?q=search&api_key=abc&password=hunter2".parse().unwrap();
    let context = coredump_host::request_context(&Method::GET, &uri, &headers);
    let get = |k: &str| {
        context
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("request.method"), Some("GET"));
    assert_eq!(
        get("request.url"),
        Some("/p?q=search&api_key=[scrubbed]&password=[scrubbed]")
    );
    assert_eq!(get("request.header.authorization"), Some("[scrubbed]"));
    assert_eq!(get("request.header.cookie"), Some("[scrubbed]"));
    assert_eq!(get("request.header.x-api-key"), Some("[scrubbed]"));
    assert_eq!(
        get("request.header.x-amz-security-token"),
        Some("[scrubbed]")
    );
    assert_eq!(get("request.header.accept"), Some("text/html"));
}

#[test]
fn cgi_response_parses_headers() {
    let response = coredump_host::cgi_response(b"Status: 201 Created\nX-A: 1\n\nbody");
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["x-a"], "1");
    // No header block: all body.
    assert_eq!(
        coredump_host::cgi_response(b"just text").status().as_u16(),
        200
    );
    assert_eq!(
        coredump_host::cgi_response(b"Status: banana\n\n")
            .status()
            .as_u16(),
        502
    );
    assert_eq!(
        coredump_host::cgi_response(b"Bad Header Name: x\n\n")
            .status()
            .as_u16(),
        502
    );
}

#[test]
fn the_capture_mode_applies_to_served_requests() {
    let f = fixture();
    let mut debug = config(&f);
    debug.server.capture = Capture::GuestDebug;
    let server = TestServer::start(debug);
    let r = get(&server.url("/crash")).unwrap();
    assert_eq!(r.0, 500);
    assert_eq!(get(&server.url("/hello")).unwrap().0, 200);
    let received = wait_for_dumps(&f.collected, 1);
    let dump = CoreDump::parse(&received[0].body).unwrap();
    assert_eq!(dump.info("locals"), Some("wasmtime-guest-debug"));
    assert_eq!(
        dump.main_frames()[0].locals,
        [wasm_coredump::Value::I32(42), wasm_coredump::Value::I32(0)]
    );
    server.stop().unwrap();

    let f = fixture();
    let mut off = config(&f);
    off.server.capture = Capture::Off;
    let server = TestServer::start(off);
    let r = get(&server.url("/crash")).unwrap();
    assert_eq!(r.0, 500);
    let body: serde_json::Value = serde_json::from_str(&r.2).unwrap();
    assert_eq!(body["trap"], "integer-divide-by-zero");
    assert!(body["dump_id"].is_null());
    assert_eq!(header(&r, "x-coredump-id"), None);
    server.stop().unwrap();
    assert!(pending_dumps(&f.dumps).unwrap().is_empty());
}

#[test]
fn requests_running_long_do_not_hold_up_the_others() {
    let f = fixture();
    let mut slow = config(&f);
    slow.server.timeout_ms = 2_000;
    let server = TestServer::start(slow);
    // More spinning requests than the server has worker threads.
    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let url = server.url("/spin");
            std::thread::spawn(move || get(&url).map(|r| r.0))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let r = get(&server.url("/hello")).unwrap();
        assert_eq!(r.0, 200);
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(1_000),
        "a hello took {slowest:?} while modules spun"
    );
    for spinner in spinners {
        assert_eq!(
            spinner.join().unwrap().unwrap(),
            500,
            "the deadline still holds"
        );
    }
    server.stop().unwrap();
}
