//! The JS helper (`js/coredump`) inside real JavaScript engines, with a real
//! collector:
//!
//! - **workerd**, the Cloudflare Workers runtime (npm `workerd`, installed by
//!   scripts/test.sh under js/runtimes): a Worker wrapped in
//!   `withCoredumps` runs an instrumented fixture; a request, a cron event
//!   and a queue batch make it trap; the helper sends the dump to the
//!   collector through a service binding and through the collector's URL.
//! - **node**, with plain `WebAssembly.instantiate` (no `node:wasi`) and
//!   `recordCoredump`. The `node:wasi` path runs in tests/pipeline.rs for
//!   every fixture mode.
//!
//! Each dump's symbolicated frames and variables must be the fixture
//! manifest's, and the request context must arrive scrubbed. In the workerd
//! runs the collector also forwards every dump to a local stand-in for Sentry,
//! whose events must carry the same frames, the scrubbed request and the
//! module's debug id as Sentry computes it.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coredump_collector::SentryConfig;
use coredump_collector::sentry::Dsn;
use crash_fixtures::{Mode, TrapKind};
use end_to_end::{Api, INGEST_TOKEN, Staged, check_dump};
use serde_json::Value;

/// A workerd process serving the test's config; killed on drop.
struct Workerd {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Workerd {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn runtimes_dir() -> PathBuf {
    crash_fixtures::repo_root().join("js/runtimes")
}

fn workerd_binary() -> PathBuf {
    let binary = runtimes_dir().join("node_modules/.bin/workerd");
    assert!(
        binary.exists(),
        "{} is missing: scripts/test.sh installs it (npm ci in js/runtimes)",
        binary.display()
    );
    binary
}

/// The mode a Worker's scheduled event runs.
const SCHEDULED_MODE: &str = "divide-by-zero";

/// The workerd config: a driver Worker on `port` (the test's entry point),
/// two copies of the app Worker, one reaching the collector through a
/// service binding (and no network) and one through its URL (over a
/// loopback-only global outbound), and the collector as an external service.
fn workerd_config(port: u16, collector: SocketAddr) -> String {
    let app = |bindings: &str, outbound: &str| {
        format!(
            r#"(
  modules = .appModules,
  bindings = [
    {bindings}
    (name = "COLLECTOR_TOKEN", text = "{INGEST_TOKEN}"),
    (name = "SCHEDULED_MODE", text = "{SCHEDULED_MODE}"),
  ],
  compatibilityDate = "2024-09-23",
  {outbound}
)"#
        )
    };
    let endpoint = app(
        &format!(r#"(name = "COLLECTOR_URL", text = "http://{collector}"),"#),
        r#"globalOutbound = "loopback","#,
    );
    let binding = app(r#"(name = "COLLECTOR", service = "collector"),"#, "");
    format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "driver", worker = .driver),
    (name = "app-endpoint", worker = .appEndpoint),
    (name = "app-binding", worker = .appBinding),
    (name = "collector", external = (address = "{collector}", http = ())),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "driver") ],
);
const driver :Workerd.Worker = (
  modules = [ (name = "driver.js", esModule = embed "driver.js") ],
  bindings = [
    (name = "APP_ENDPOINT", service = "app-endpoint"),
    (name = "APP_BINDING", service = "app-binding"),
  ],
  compatibilityDate = "2024-09-23",
  compatibilityFlags = ["service_binding_extra_handlers"],
);
const appModules :List(Workerd.Worker.Module) = [
  (name = "app.js", esModule = embed "app.js"),
  (name = "coredump.js", esModule = embed "coredump.js"),
  (name = "mini-wasi.js", esModule = embed "mini-wasi.js"),
  (name = "app.wasm", wasm = embed "app.wasm"),
];
const appEndpoint :Workerd.Worker = {endpoint};
const appBinding :Workerd.Worker = {binding};
"#
    )
}

/// Starts workerd on the instrumented `wasm`, with the collector at
/// `collector`, and waits until it answers.
fn start_workerd(dir: &Path, wasm: &[u8], collector: SocketAddr) -> Workerd {
    let js = crash_fixtures::repo_root().join("js");
    let copy = |from: PathBuf, to: &str| {
        std::fs::copy(&from, dir.join(to)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    };
    copy(js.join("runtimes/workerd/app.js"), "app.js");
    copy(js.join("runtimes/workerd/driver.js"), "driver.js");
    copy(js.join("runtimes/mini-wasi.js"), "mini-wasi.js");
    copy(js.join("coredump/index.js"), "coredump.js");
    std::fs::write(dir.join("app.wasm"), wasm).expect("write module");

    let binary = workerd_binary();
    let mut last_log = String::new();
    // A free port can be taken between the probe and workerd's bind: retry.
    for _ in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        std::fs::write(dir.join("config.capnp"), workerd_config(port, collector))
            .expect("write config");
        let log = dir.join(format!("workerd-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(&binary)
            .args(["serve", "--experimental", "--verbose", "config.capnp"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        let mut workerd = Workerd {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = workerd.child.try_wait() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return workerd;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        last_log = workerd.log();
    }
    panic!("workerd did not start:\n{last_log}");
}

/// Waits until the collector holds `count` dumps and returns the records of
/// those not in `seen`, which it extends.
async fn new_dumps(api: &Api, seen: &mut Vec<String>, count: usize, what: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ids = api.dump_ids().await;
        if ids.len() >= count || Instant::now() > deadline {
            let mut fresh = Vec::new();
            for id in ids {
                if !seen.contains(&id) {
                    fresh.push(api.dump(&serde_json::json!({ "id": id })).await);
                    seen.push(id);
                }
            }
            assert_eq!(
                seen.len(),
                count,
                "{what}: the collector holds {} dumps, expected {count}",
                seen.len()
            );
            return fresh;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The one new dump `what` must have produced.
async fn one_new_dump(api: &Api, seen: &mut Vec<String>, what: &str) -> Value {
    let count = seen.len() + 1;
    let mut fresh = new_dumps(api, seen, count, what).await;
    fresh.pop().unwrap_or_else(|| panic!("{what}: no dump"))
}

/// The one new dump of a cron or queue event, whose outcome the driver
/// answered with (`answer`: status and body): the trap must have reached
/// workerd as an exception.
async fn event_dump(what: &str, answer: (u16, String), api: &Api, seen: &mut Vec<String>) -> Value {
    let (status, body) = answer;
    assert_eq!(status, 200, "{what}: {body}");
    let outcome: Value = serde_json::from_str(&body).expect("outcome JSON");
    assert_eq!(
        outcome["outcome"], "exception",
        "{what}: the trap must be rethrown: {outcome}"
    );
    one_new_dump(api, seen, what).await
}

/// Checks the metadata the helper sent with a dump.
fn check_context(what: &str, dump: &Value, trigger: &str, service: &str) {
    let context = &dump["context"];
    assert_eq!(context["trigger"], trigger, "{what}: context {context}");
    assert_eq!(dump["service"], service, "{what}");
    assert_eq!(dump["environment"], "test", "{what}");
    assert!(
        context["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: no error message in {context}"
    );
    let build_id = context["modules"][0]["build_id"].as_str().unwrap_or("");
    assert!(
        dump["modules"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["build_id"] == build_id),
        "{what}: the helper's build id hint {build_id:?} is not the dump's module's: {}",
        dump["modules"]
    );
}

/// The request context as the Worker saw it, scrubbed by the helper.
fn check_request(what: &str, dump: &Value) {
    let request = &dump["context"]["request"];
    assert_eq!(request["method"], "GET", "{what}: {request}");
    assert!(
        request["url"]
            .as_str()
            .unwrap_or("")
            .starts_with("https://app.example/run?mode="),
        "{what}: {request}"
    );
    let header = |name: &str| {
        request["headers"]
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    for secret in ["authorization", "cookie", "cf-connecting-ip"] {
        assert_eq!(
            header(secret),
            "[scrubbed]",
            "{what}: {secret} in {request}"
        );
    }
    assert_eq!(header("x-request-id"), "req-42", "{what}: {request}");
}

/// A stand-in for Sentry's envelope endpoint on 127.0.0.1: keeps the event
/// of every envelope and answers 200.
struct SentryEnvelopes {
    addr: SocketAddr,
    events: Arc<Mutex<Vec<Value>>>,
}

impl SentryEnvelopes {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let events = Arc::new(Mutex::new(Vec::new()));
        let kept = events.clone();
        let app = axum::Router::new().route(
            "/api/7/envelope/",
            axum::routing::post(move |body: String| {
                let kept = kept.clone();
                async move {
                    // Header, item header, event: one JSON document a line.
                    if let Some(event) = body
                        .lines()
                        .nth(2)
                        .and_then(|line| serde_json::from_str::<Value>(line).ok())
                    {
                        kept.lock().unwrap_or_else(|p| p.into_inner()).push(event);
                    }
                    "{}"
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SentryEnvelopes { addr, events }
    }

    fn dsn(&self) -> String {
        format!("http://e2ekey@{}/7", self.addr)
    }

    /// The events, once `count` have arrived.
    async fn events(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = self
                .events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if events.len() >= count || Instant::now() > deadline {
                assert_eq!(events.len(), count, "Sentry events");
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Sentry's debug id for a module whose `build_id` section holds the 16
/// bytes `build_id_hex` (as lld writes it: length byte 0x10, then the id):
/// Sentry reads the section's raw payload, so its id is 0x10 followed by the
/// first 15 id bytes.
fn sentry_debug_id(build_id_hex: &str) -> String {
    let raw = format!("10{}", &build_id_hex[..30]);
    format!(
        "{}-{}-{}-{}-{}",
        &raw[..8],
        &raw[8..12],
        &raw[12..16],
        &raw[16..20],
        &raw[20..32]
    )
}

/// An event the collector forwarded for `dump`: the trap, the in-app frames
/// (Sentry lists the oldest first), the scrubbed request and the module image.
fn check_sentry_event(
    what: &str,
    event: &Value,
    dump: &Value,
    mode: &Mode,
    debug_id: &str,
) -> Result<(), String> {
    let exception = &event["exception"]["values"][0];
    if exception["type"] != dump["trap_kind"] {
        return Err(format!("{what}: Sentry exception {exception}"));
    }
    crash_fixtures::frames_match(&mode.frames, &crash_fixtures::sentry_in_app_frames(event))
        .map_err(|e| format!("{what}: Sentry frames: {e}"))?;
    if event["tags"]["service"] != "workerd-e2e" || event["environment"] != "test" {
        return Err(format!(
            "{what}: Sentry tags {} environment {}",
            event["tags"], event["environment"]
        ));
    }
    let images = event["debug_meta"]["images"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !images
        .iter()
        .any(|i| i["type"] == "wasm" && i["debug_id"] == debug_id)
    {
        return Err(format!(
            "{what}: no wasm image with debug id {debug_id}: {images:?}"
        ));
    }
    if dump["context"]["trigger"] == "fetch" {
        let text = event["request"].to_string();
        if text.contains("user-secret")
            || text.contains("session=abc")
            || text.contains("203.0.113.7")
        {
            return Err(format!("{what}: a secret reached Sentry: {text}"));
        }
        if !text.contains("req-42") {
            return Err(format!(
                "{what}: the request is not in the Sentry event: {text}"
            ));
        }
    }
    Ok(())
}

/// Whether the default instrumented build (no bounds checks) turns `mode`'s
/// crash into a dump. Out-of-bounds accesses (the stack overflows run the
/// shadow stack past address 0) trap natively in V8 with no dump, and the
/// helper must then send nothing.
fn dumps_by_default(mode: &Mode) -> bool {
    mode.crashes() && mode.trap != Some(TrapKind::MemoryOutOfBounds)
}

async fn workerd_program(program_id: &str) {
    let sentry = SentryEnvelopes::start().await;
    let dsn = Dsn::parse(&sentry.dsn()).expect("DSN");
    let Staged {
        prepared,
        dir,
        server,
        api,
        scratch: _keep,
    } = Staged::with(program_id, |config| {
        let mut forwarding = SentryConfig::new(dsn);
        forwarding.poll_interval = Duration::from_millis(200);
        config.sentry = Some(forwarding);
    })
    .await;
    let http = api.http.clone();
    let mut checked = Vec::new();
    let collector: SocketAddr = server
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("collector address");
    let workerd_dir = dir.join("workerd");
    std::fs::create_dir_all(&workerd_dir).expect("workerd dir");
    let workerd = start_workerd(&workerd_dir, &prepared.instrumented, collector);
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", workerd.url);
        async move {
            let response = http.get(&url).send().await.expect("workerd answers");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
    };

    let mut seen = Vec::new();
    let mut failures = Vec::new();
    let program = &prepared.program;
    let optimized = program.optimized;

    // A run that exits normally records nothing, and neither does a trap the
    // default build leaves native (no dump was written: nothing stale is sent).
    let ok = program.mode("ok").expect("ok mode");
    let (status, body) = get(format!("/fetch/binding?mode={}", ok.mode)).await;
    assert_eq!(status, 200, "ok run: {body}\n{}", workerd.log());
    for mode in program
        .modes
        .iter()
        .filter(|m| m.crashes() && !dumps_by_default(m))
    {
        let (status, _) = get(format!("/fetch/binding?mode={}", mode.mode)).await;
        assert_eq!(
            status, 500,
            "{} {}: the trap must reach workerd",
            program.id, mode.mode
        );
    }

    // Every crash the default build dumps, as a request, through both ways of
    // reaching the collector.
    for mode in program.modes.iter().filter(|m| dumps_by_default(m)) {
        for variant in ["binding", "endpoint"] {
            let what = format!("{} {} (workerd fetch, {variant})", program.id, mode.mode);
            let (status, body) = get(format!("/fetch/{variant}?mode={}", mode.mode)).await;
            assert_eq!(status, 500, "{what}: the trap must be rethrown: {body}");
            let dump = one_new_dump(&api, &mut seen, &what).await;
            if let Err(e) = check_dump(&what, &dump, mode, optimized) {
                failures.push(format!("{e}\n{}", workerd.log()));
            }
            check_context(&what, &dump, "fetch", "workerd-e2e");
            check_request(&what, &dump);
            checked.push((what.clone(), dump.clone(), mode.clone()));
            assert!(
                dump["context"]["runtime"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Cloudflare-Workers"),
                "{what}: runtime {}",
                dump["context"]["runtime"]
            );
        }
    }

    // A cron event (the mode is the Worker's SCHEDULED_MODE).
    let scheduled = program.mode(SCHEDULED_MODE).expect("scheduled mode");
    if dumps_by_default(scheduled) {
        let what = format!("{} {SCHEDULED_MODE} (workerd scheduled)", program.id);
        let answer = get("/scheduled/binding".to_string()).await;
        let dump = event_dump(&what, answer, &api, &mut seen).await;
        if let Err(e) = check_dump(&what, &dump, scheduled, optimized) {
            failures.push(e);
        }
        check_context(&what, &dump, "scheduled", "workerd-e2e");
        checked.push((what.clone(), dump.clone(), scheduled.clone()));
        assert_eq!(
            dump["context"]["scheduled"]["cron"], "*/5 * * * *",
            "{what}"
        );
    }

    // A queue batch.
    let queued = program
        .modes
        .iter()
        .find(|m| dumps_by_default(m))
        .expect("a mode the default build dumps");
    let what = format!("{} {} (workerd queue)", program.id, queued.mode);
    let answer = get(format!("/queue/endpoint?mode={}", queued.mode)).await;
    let dump = event_dump(&what, answer, &api, &mut seen).await;
    if let Err(e) = check_dump(&what, &dump, queued, optimized) {
        failures.push(e);
    }
    check_context(&what, &dump, "queue", "workerd-e2e");
    assert_eq!(dump["context"]["queue"]["name"], "jobs", "{what}");
    checked.push((what.clone(), dump.clone(), queued.clone()));

    // Sentry got one event per dump, with the dump's frames.
    let events = sentry.events(checked.len()).await;
    let debug_id = sentry_debug_id(&prepared.build_id());
    for (what, dump, mode) in &checked {
        let id = dump["id"].as_str().unwrap_or_default().replace('-', "");
        let Some(event) = events.iter().find(|e| e["event_id"] == id.as_str()) else {
            failures.push(format!("{what}: no Sentry event {id}"));
            continue;
        };
        if let Err(e) = check_sentry_event(what, event, dump, mode, &debug_id) {
            failures.push(e);
        }
    }

    drop(workerd);
    server.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workerd_c_o0() {
    workerd_program("c-O0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workerd_rust_debug() {
    workerd_program("rust-debug").await;
}

/// Runs the instrumented module under node with plain
/// `WebAssembly.instantiate` and the helper's `recordCoredump`.
fn run_plain_node(wasm: &Path, mode: &Mode, collector: &str) -> Value {
    let script = runtimes_dir().join("node/run-plain.mjs");
    let mut child = Command::new(crash_fixtures::node_binary())
        .arg(&script)
        .arg(collector)
        .arg(INGEST_TOKEN)
        .arg(wasm)
        .args(&mode.args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (scripts/test.sh installs it)");
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let status = child.wait().expect("node exits");
    assert_eq!(
        status.code(),
        Some(134),
        "{} {}: no dump recorded: {stdout}\n{stderr}",
        wasm.display(),
        mode.mode
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}\n{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_plain_instantiate() {
    let mut failures = Vec::new();
    for program_id in ["c-O0", "c-O2", "rust-debug", "zig-Debug"] {
        let Staged {
            prepared,
            dir,
            server,
            api,
            scratch: _keep,
        } = Staged::new(program_id).await;
        for mode in prepared.program.modes.iter().filter(|m| m.crashes()) {
            let path = dir.join(format!("{}.instrumented.wasm", mode.mode));
            std::fs::write(&path, prepared.instrumented_for(mode)).expect("write module");
            let (url, run_mode) = (server.url(), mode.clone());
            let reply = tokio::task::spawn_blocking(move || run_plain_node(&path, &run_mode, &url))
                .await
                .expect("node run");
            let what = format!("{program_id} {} (node, plain instantiate)", mode.mode);
            let dump = api.dump(&reply).await;
            if let Err(e) = check_dump(&what, &dump, mode, prepared.program.optimized) {
                failures.push(e);
            }
            check_context(&what, &dump, "manual", "node-plain-e2e");
        }
        server.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
