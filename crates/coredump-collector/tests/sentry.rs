//! Sentry forwarding against a fake Sentry on 127.0.0.1 (an axum server that
//! records every request and answers from a script): the exact envelope,
//! retries and rate limits, ingest never waiting for Sentry, the outbox
//! surviving a restart, refusals, retention, several instances on one
//! PostgreSQL index, and the event checked by Relay's own normaliser.
//! Every dump is a real crash of a fixture program.

mod support;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use bytes::Bytes;
use coredump_collector::index::Index;
use coredump_collector::sentry::Dsn;
use coredump_collector::{Config, RunningServer, SentryConfig};
use serde_json::{Value, json};
use support::{Backend, BackendResources, FixtureDump, INGEST_TOKEN, READ_TOKEN};

/// One request the fake Sentry received.
#[derive(Debug, Clone)]
struct Captured {
    at: Instant,
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Captured {
    fn envelope(&self) -> Envelope {
        Envelope::parse(&self.body)
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// A fake Sentry: records requests, answers from its script, then 200.
#[derive(Clone, Default)]
struct FakeSentry {
    requests: Arc<Mutex<Vec<Captured>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// Answer this when the script is empty (default 200).
    fallback: Arc<Mutex<Option<Reply>>>,
    /// How long each answer takes.
    delay: Arc<Mutex<Duration>>,
}

impl FakeSentry {
    async fn start() -> (FakeSentry, SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (FakeSentry::serve(listener), addr)
    }

    async fn start_on(addr: SocketAddr) -> FakeSentry {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        FakeSentry::serve(listener)
    }

    fn serve(listener: tokio::net::TcpListener) -> FakeSentry {
        let fake = FakeSentry::default();
        let state = fake.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let delay = *state.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    state.answer(method, uri, headers, body)
                }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    fn answer(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, HeaderMap, String) {
        self.requests.lock().unwrap().push(Captured {
            at: Instant::now(),
            method: method.to_string(),
            path: uri.path().to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: body.to_vec(),
        });
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .or_else(|| self.fallback.lock().unwrap().clone())
            .unwrap_or(Reply {
                status: 200,
                headers: Vec::new(),
                body: "{}".into(),
            });
        let mut out = HeaderMap::new();
        for (name, value) in &reply.headers {
            out.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        (StatusCode::from_u16(reply.status).unwrap(), out, reply.body)
    }

    fn then(&self, reply: Reply) -> &Self {
        self.script.lock().unwrap().push_back(reply);
        self
    }

    fn slow(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    fn always(&self, reply: Reply) {
        *self.fallback.lock().unwrap() = Some(reply);
    }

    fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<Captured> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "the fake Sentry got {} requests, expected {n}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An envelope split into its three lines.
#[derive(Debug)]
struct Envelope {
    header: Value,
    item: Value,
    payload: Vec<u8>,
    event: Value,
}

impl Envelope {
    fn parse(body: &[u8]) -> Envelope {
        let text = std::str::from_utf8(body).expect("the envelope is UTF-8");
        assert!(text.ends_with('\n'), "the envelope ends with a newline");
        let lines: Vec<&str> = text[..text.len() - 1].split('\n').collect();
        assert_eq!(lines.len(), 3, "three lines: {text}");
        let payload = lines[2].as_bytes().to_vec();
        Envelope {
            header: serde_json::from_str(lines[0]).unwrap(),
            item: serde_json::from_str(lines[1]).unwrap(),
            event: serde_json::from_slice(&payload).unwrap(),
            payload,
        }
    }
}

fn dsn_for(addr: SocketAddr) -> String {
    format!("http://publickey@{addr}/42")
}

/// Forwarding to `addr` with test-sized waits.
fn sentry_config(addr: SocketAddr) -> SentryConfig {
    let mut config = SentryConfig::new(Dsn::parse(&dsn_for(addr)).unwrap());
    config.initial_backoff = Duration::from_millis(50);
    config.poll_interval = Duration::from_millis(200);
    // Most dumps here have no debug file: send them at once.
    config.symbolication_wait = Duration::ZERO;
    config
}

/// A collector forwarding to Sentry at `addr`, as most tests here start one.
struct Forwarding {
    /// Keeps the database and store alive.
    resources: BackendResources,
    /// What the collector started with (to start it again).
    config: Config,
    server: RunningServer,
    api: Api,
}

/// Starts a collector on `backend` forwarding to `addr` with test-sized
/// waits, after `configure` has seen its config and Sentry settings.
async fn forwarding(
    backend: Backend,
    addr: SocketAddr,
    configure: impl FnOnce(&mut Config, &mut SentryConfig),
) -> Forwarding {
    let resources = BackendResources::new(backend).await;
    let mut config = resources.config();
    let mut sentry = sentry_config(addr);
    configure(&mut config, &mut sentry);
    config.sentry = Some(sentry);
    let server = resources.start(config.clone()).await;
    let api = Api::new(&server);
    Forwarding {
        resources,
        config,
        server,
        api,
    }
}

/// A port nothing listens on (bound, then released).
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

async fn fixture(program: &'static str, mode: &'static str) -> FixtureDump {
    tokio::task::spawn_blocking(move || support::fixture(program, mode))
        .await
        .unwrap()
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(server: &RunningServer) -> Self {
        Api {
            base: server.url(),
            http: support::client(),
        }
    }

    /// Uploads a raw dump; panics unless `201` arrives within 20 s.
    async fn upload(&self, dump: &[u8]) -> Value {
        let (replayed, reply) = self.upload_with_key(dump, None).await;
        assert!(!replayed);
        reply
    }

    /// Uploads a raw dump; returns whether it was an idempotent replay, and the reply.
    async fn upload_with_key(&self, dump: &[u8], key: Option<&str>) -> (bool, Value) {
        let mut request = self
            .http
            .post(format!("{}/api/v1/dumps", self.base))
            .bearer_auth(INGEST_TOKEN)
            .header("content-type", "application/wasm")
            .body(dump.to_vec());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = tokio::time::timeout(Duration::from_secs(20), request.send())
            .await
            .expect("the upload was answered within 20 s")
            .unwrap();
        let status = response.status();
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{text}");
        (replayed, serde_json::from_str(&text).unwrap())
    }

    async fn upload_with_metadata(&self, dump: &[u8], metadata: &Value) -> Value {
        let form = reqwest::multipart::Form::new()
            .text("metadata", metadata.to_string())
            .part(
                "dump",
                reqwest::multipart::Part::bytes(dump.to_vec()).file_name("crash.core.wasm"),
            );
        let response = self
            .http
            .post(format!("{}/api/v1/dumps", self.base))
            .bearer_auth(INGEST_TOKEN)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn put_debug_file(&self, fixture: &FixtureDump) {
        let response = self
            .http
            .put(format!(
                "{}/api/v1/debug-files/{}",
                self.base, fixture.build_id
            ))
            .bearer_auth(INGEST_TOKEN)
            .body(fixture.module.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "{status}: {}",
            response.text().await.unwrap()
        );
    }

    async fn dump(&self, id: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/api/v1/dumps/{id}", self.base))
            .bearer_auth(READ_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
    }
}

fn event_id_of(dump_id: &str) -> String {
    dump_id.replace('-', "")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sentry's ids for a 16-byte build id, computed here from the bytes: the
/// raw section payload is `0x10` then the id; the code id is all of it, the
/// debug id its first 16 bytes.
fn sentry_ids(build_id: &[u8]) -> (String, String) {
    assert_eq!(build_id.len(), 16);
    let raw: Vec<u8> = std::iter::once(0x10)
        .chain(build_id.iter().copied())
        .collect();
    let d = hex(&raw[..16]);
    let debug_id = format!(
        "{}-{}-{}-{}-{}",
        &d[0..8],
        &d[8..12],
        &d[12..16],
        &d[16..20],
        &d[20..32]
    );
    (debug_id, hex(&raw))
}

/// Module offsets where each defined function's body starts (after its size).
fn body_starts(module: &[u8]) -> (u32, Vec<usize>) {
    use wasmparser::{Parser, Payload, TypeRef};
    let mut imported = 0;
    let mut starts = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.unwrap() {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(_) | TypeRef::FuncExact(_) = import.unwrap().ty {
                        imported += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => starts.push(body.range().start),
            _ => {}
        }
    }
    (imported, starts)
}

/// The `instruction_addr` each Sentry frame must carry: body start plus the
/// dump's code offset, from the module and the dump themselves, repeated
/// for each source location of a Wasm frame, oldest frame first.
fn expected_addresses(fixture: &FixtureDump, record: &Value) -> Vec<String> {
    let (imported, starts) = body_starts(&fixture.module);
    let dump = wasm_coredump::CoreDump::parse(&fixture.dump).unwrap();
    let wasm_frames = dump.main_frames();
    let mut out = Vec::new();
    for frame in record["stack"]["frames"].as_array().unwrap().iter().rev() {
        let index = frame["index"].as_u64().unwrap() as usize;
        let wasm = &wasm_frames[index];
        let start = starts[(wasm.function - imported) as usize];
        let address = format!("{:#x}", start + wasm.code_offset as usize);
        let n = frame["locations"].as_array().unwrap().len().max(1);
        out.extend(std::iter::repeat_n(address, n));
    }
    out
}

/// `(function, in_app)` of the collector's locations in Sentry order.
fn record_frames_in_sentry_order(record: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for frame in record["stack"]["frames"].as_array().unwrap().iter().rev() {
        let locations = frame["locations"].as_array().unwrap();
        if locations.is_empty() {
            out.push((
                format!("func[{}]", frame["function_index"]),
                frame["symbolicated"] != true,
            ));
        }
        for location in locations.iter().rev() {
            out.push((
                location["function"].as_str().unwrap_or("").to_string(),
                location["in_app"].as_bool().unwrap(),
            ));
        }
    }
    out
}

fn frames_of(event: &Value) -> &Vec<Value> {
    event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no frames in {event}"))
}

fn request_metadata() -> Value {
    json!({
        "service": "checkout",
        "version": "1.4.2",
        "environment": "production",
        "request": {
            "method": "POST",
            "url": "https://shop.example/orders?token=hunter2-url&q=1",
            "headers": {
                "Authorization": "Bearer hunter2-auth",
                "Cookie": "session=hunter2-cookie",
                "User-Agent": "test-agent/1.0"
            }
        }
    })
}

async fn exact_envelope(backend: Backend) {
    // Optimised Rust: inlined calls (a Wasm frame expands to several source
    // frames), std and libc frames that are not in-app.
    let abort = fixture("rust-O2", "abort").await;
    let (fake, addr) = FakeSentry::start().await;
    let Forwarding {
        resources,
        config,
        server,
        api,
    } = forwarding(backend, addr, |config, _| {
        config.public_url = Some("http://collector.example".into());
    })
    .await;
    api.put_debug_file(&abort).await;
    let reply = api
        .upload_with_metadata(&abort.dump, &request_metadata())
        .await;
    assert_eq!(reply["symbolication"], "complete", "{reply}");
    let id = reply["id"].as_str().unwrap().to_string();
    let group = reply["group_id"].as_str().unwrap().to_string();
    let record = api.dump(&id).await;
    let inlined = record["stack"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["locations"].as_array().unwrap().len() > 1)
        .count();
    assert!(inlined > 0, "no inlined frames to order: {record}");

    let request = fake.wait_for(1).await.remove(0);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/42/envelope/");
    assert_eq!(
        request.headers["content-type"],
        "application/x-sentry-envelope"
    );
    assert_eq!(
        request.headers["x-sentry-auth"],
        format!(
            "Sentry sentry_version=7, sentry_client=coredump-collector/{}, sentry_key=publickey",
            env!("CARGO_PKG_VERSION")
        )
    );
    let body = String::from_utf8_lossy(&request.body);
    assert!(!body.contains("hunter2"), "a secret reached Sentry: {body}");

    let envelope = request.envelope();
    let event_id = event_id_of(&id);
    assert_eq!(envelope.header["event_id"], event_id.as_str());
    assert_eq!(envelope.header["dsn"], dsn_for(addr));
    let sent_at = humantime::parse_rfc3339(envelope.header["sent_at"].as_str().unwrap())
        .expect("sent_at is RFC 3339");
    let age = SystemTime::now().duration_since(sent_at).unwrap();
    assert!(age < Duration::from_secs(120), "sent_at {age:?} ago");
    assert_eq!(envelope.item["type"], "event");
    assert_eq!(envelope.item["content_type"], "application/json");
    assert_eq!(envelope.item["length"], envelope.payload.len());

    let event = &envelope.event;
    assert_eq!(event["event_id"], event_id.as_str());
    assert_eq!(event["platform"], "native");
    assert_eq!(event["level"], "fatal");
    assert_eq!(event["release"], "checkout@1.4.2");
    assert_eq!(event["environment"], "production");
    assert_eq!(
        event["tags"],
        json!({"service": "checkout", "version": "1.4.2", "trap_kind": abort.trap})
    );
    assert_eq!(event["fingerprint"], json!([group]));
    let received = humantime::parse_rfc3339(event["timestamp"].as_str().unwrap()).unwrap();
    let received_ms = received
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert_eq!(received_ms, record["received_at"].as_i64().unwrap());

    let exception = &event["exception"]["values"][0];
    assert_eq!(exception["type"], abort.trap.as_str());
    assert!(!abort.trap.is_empty());
    assert_eq!(exception["value"], record["trap_message"]);
    assert!(!record["trap_message"].as_str().unwrap().is_empty());
    assert_eq!(
        exception["mechanism"],
        json!({"type": "wasm-coredump", "handled": false})
    );

    // The in-app frames, youngest first, are the manifest's backtrace.
    let frames = frames_of(event);
    crash_fixtures::frames_match(
        &abort.expected,
        &crash_fixtures::sentry_in_app_frames(event),
    )
    .unwrap();
    // Sentry order: the trapping function's frame comes after its callers.
    let position = |name: &str| {
        frames
            .iter()
            .position(|f| f["function"] == name)
            .unwrap_or_else(|| panic!("no {name} frame"))
    };
    assert!(position(&abort.expected[0].function) > position(&abort.expected[4].function));
    // in_app is the collector's flag, set on every frame, both ways.
    let sent: Vec<(String, bool)> = frames
        .iter()
        .map(|f| {
            (
                f["function"].as_str().unwrap_or("").to_string(),
                f["in_app"]
                    .as_bool()
                    .unwrap_or_else(|| panic!("in_app not set: {f}")),
            )
        })
        .collect();
    assert_eq!(sent, record_frames_in_sentry_order(&record));
    assert!(
        sent.iter().any(|(_, in_app)| !in_app),
        "no libc frame: {sent:?}"
    );
    for frame in frames {
        assert_eq!(frame["platform"], "native");
        assert_eq!(frame["addr_mode"], "rel:0");
    }

    // Whole-module offsets, computed from the module and the dump.
    let addresses: Vec<String> = frames
        .iter()
        .map(|f| f["instruction_addr"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(addresses, expected_addresses(&abort, &record));

    let (debug_id, code_id) = sentry_ids(support::fixture_build_id("rust-O2").as_bytes());
    let images = event["debug_meta"]["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["type"], "wasm");
    assert_eq!(images[0]["debug_id"], debug_id.as_str());
    assert_eq!(images[0]["code_id"], code_id.as_str());
    assert_eq!(images[0]["code_file"], frames[0]["package"]);

    let sentry_request = &event["request"];
    assert_eq!(sentry_request["method"], "POST");
    assert_eq!(sentry_request["url"], "https://shop.example/orders");
    assert_eq!(sentry_request["query_string"], "token=[scrubbed]&q=1");
    let headers: HashMap<String, String> = sentry_request["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(headers["Authorization"], "[scrubbed]");
    assert_eq!(headers["Cookie"], "[scrubbed]");
    assert_eq!(headers["User-Agent"], "test-agent/1.0");

    let links = &event["contexts"]["wasm_coredump"];
    assert_eq!(links["type"], "default");
    assert_eq!(links["dump_id"], id.as_str());
    assert_eq!(links["group_id"], group.as_str());
    assert_eq!(links["url"], format!("http://collector.example/dumps/{id}"));
    assert_eq!(event["contexts"]["runtime"]["name"], "wasmtime");

    // An idempotent replay is not a new event.
    let (replayed, first) = api.upload_with_key(&abort.dump, Some("crash-1")).await;
    assert!(!replayed);
    let (replayed, again) = api.upload_with_key(&abort.dump, Some("crash-1")).await;
    assert!(replayed);
    assert_eq!(first, again);
    fake.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.requests().len(), 2, "the replay was forwarded");
    assert_eq!(api.metric("collector_sentry_events_sent_total").await, 2.0);
    assert_eq!(api.metric("collector_sentry_outbox").await, 0.0);

    if backend == Backend::PostgresS3 {
        // Two instances on one index, each polling the other's rows while
        // they are in flight (slow answers): each event is sent once.
        fake.slow(Duration::from_millis(400));
        let other = resources.start(config).await;
        let other_api = Api::new(&other);
        let mut ids: Vec<String> = fake
            .requests()
            .iter()
            .map(|r| {
                r.envelope().header["event_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        for i in 0..6 {
            let api = if i % 2 == 0 { &api } else { &other_api };
            let reply = api.upload(&abort.dump).await;
            ids.push(event_id_of(reply["id"].as_str().unwrap()));
        }
        fake.wait_for(ids.len()).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut sent: Vec<String> = fake
            .requests()
            .iter()
            .map(|r| {
                r.envelope().header["event_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        sent.sort();
        ids.sort();
        assert_eq!(sent, ids, "every event exactly once");
        other.stop().await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_envelope_sqlite() {
    exact_envelope(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_envelope_and_two_instances_postgres() {
    exact_envelope(Backend::PostgresS3).await;
}

/// A dump whose debug file is missing holds its event back: sent
/// symbolicated once the debug file arrives, or unsymbolicated when the wait
/// is over. Waiting is not an attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_for_their_debug_files() {
    let abort = fixture("c-O0", "abort").await;
    let (fake, addr) = FakeSentry::start().await;

    let Forwarding {
        resources: _resources,
        server,
        api,
        ..
    } = forwarding(Backend::Embedded, addr, |_, sentry| {
        sentry.symbolication_wait = Duration::from_secs(600)
    })
    .await;
    let reply = api.upload(&abort.dump).await;
    assert_eq!(reply["symbolication"], "pending", "{reply}");
    // Several polls of the outbox go by with nothing sent.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        fake.requests().is_empty(),
        "sent before its debug file arrived"
    );
    let outbox = server.collector.index().sentry_outbox().await.unwrap();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(
        outbox[0].attempts, 0,
        "waiting counted as an attempt: {outbox:?}"
    );
    api.put_debug_file(&abort).await;
    let request = fake.wait_for(1).await.remove(0);
    let event = request.envelope().event;
    crash_fixtures::frames_match(
        &abort.expected,
        &crash_fixtures::sentry_in_app_frames(&event),
    )
    .unwrap();
    assert_eq!(fake.requests().len(), 1);
    server.stop().await;

    // No debug file within the wait: the event leaves without symbols.
    let Forwarding {
        resources: _resources,
        server,
        api,
        ..
    } = forwarding(Backend::Embedded, addr, |_, sentry| {
        sentry.symbolication_wait = Duration::from_secs(1)
    })
    .await;
    let uploaded = Instant::now();
    let reply = api.upload(&abort.dump).await;
    assert_eq!(reply["symbolication"], "pending", "{reply}");
    let request = fake.wait_for(2).await.remove(1);
    assert!(
        request.at.duration_since(uploaded) >= Duration::from_secs(1),
        "sent {:?} after the upload, before the wait was over",
        request.at.duration_since(uploaded)
    );
    let event = request.envelope().event;
    assert!(
        frames_of(&event).iter().all(|f| f["function"]
            .as_str()
            .is_some_and(|n| n.starts_with("func["))),
        "symbolicated without a debug file? {event}"
    );
    server.stop().await;
}

/// 503s are retried with backoff under one event id; a 429 holds delivery
/// for `Retry-After`, and `X-Sentry-Rate-Limits` holds every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_and_rate_limits() {
    let abort = fixture("c-O0", "abort").await;
    let (fake, addr) = FakeSentry::start().await;
    let Forwarding {
        resources: _resources,
        server,
        api,
        ..
    } = forwarding(Backend::Embedded, addr, |_, sentry| {
        sentry.initial_backoff = Duration::from_millis(200)
    })
    .await;

    fake.then(Reply::status(503)).then(Reply::status(503));
    let first = api.upload(&abort.dump).await;
    let requests = fake.wait_for(3).await;
    let ids: Vec<Value> = requests
        .iter()
        .map(|r| r.envelope().header["event_id"].clone())
        .collect();
    let expected = json!(event_id_of(first["id"].as_str().unwrap()));
    assert_eq!(ids, [expected.clone(), expected.clone(), expected]);
    // Backoff: 200 ms, then 400 ms.
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(200));
    assert!(requests[2].at - requests[1].at >= Duration::from_millis(400));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.requests().len(), 3, "sent again after a 200");
    assert_eq!(api.metric("collector_sentry_events_sent_total").await, 1.0);
    assert_eq!(
        api.metric("collector_sentry_events_retried_total").await,
        2.0
    );
    assert!(
        server
            .collector
            .index()
            .sentry_outbox()
            .await
            .unwrap()
            .is_empty()
    );

    // 429 + Retry-After: 1 (longer than the 200 ms backoff).
    fake.then(Reply::status(429).header("retry-after", "1"));
    api.upload(&abort.dump).await;
    let requests = fake.wait_for(5).await;
    assert_eq!(
        requests[3].envelope().header["event_id"],
        requests[4].envelope().header["event_id"]
    );
    let gap = requests[4].at - requests[3].at;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");

    // A rate limit for events holds the other queued events too.
    fake.then(Reply::status(429).header("x-sentry-rate-limits", "2:error:key"));
    api.upload(&abort.dump).await;
    fake.wait_for(6).await;
    api.upload(&abort.dump).await;
    let requests = fake.wait_for(8).await;
    let limited = requests[5].at;
    for later in &requests[6..] {
        let gap = later.at - limited;
        assert!(
            gap >= Duration::from_secs(2),
            "sent {gap:?} into a 2 s rate limit"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.requests().len(), 8);
    assert_eq!(api.metric("collector_sentry_events_sent_total").await, 4.0);
    server.stop().await;
}

/// A Sentry that accepts connections and never answers does not hold up
/// uploads; on shutdown the events being sent are released for the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_sentry_never_blocks_ingest() {
    let abort = fixture("c-O0", "abort").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let accepted = accepted.clone();
        let held = held.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                held.lock().unwrap().push(stream);
            }
        });
    }
    let Forwarding {
        resources,
        server,
        api,
        ..
    } = forwarding(Backend::Embedded, addr, |_, sentry| {
        sentry.timeout = Duration::from_secs(60)
    })
    .await;

    let mut ids = vec![
        api.upload(&abort.dump).await["id"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    // The worker is now stuck on a request that will not be answered.
    let deadline = Instant::now() + Duration::from_secs(20);
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the worker never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..5 {
        let reply = api.upload(&abort.dump).await;
        ids.push(reply["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        assert_eq!(api.dump(id).await["id"], id.as_str());
    }
    let outbox = server.collector.index().sentry_outbox().await.unwrap();
    assert_eq!(outbox.len(), ids.len(), "{outbox:?}");
    assert!(
        outbox.iter().any(|row| row.locked_until > 0),
        "nothing in flight"
    );

    tokio::time::timeout(Duration::from_secs(20), server.stop())
        .await
        .expect("the collector stops while a delivery hangs");
    let index = Index::open(&resources.database_url).await.unwrap();
    let outbox = index.sentry_outbox().await.unwrap();
    assert_eq!(outbox.len(), ids.len());
    assert!(
        outbox.iter().all(|row| row.locked_until == 0),
        "claims kept after shutdown: {outbox:?}"
    );
    index.close().await;
}

/// An event queued while Sentry is down is sent after a restart.
async fn durable_outbox(backend: Backend) {
    let abort = fixture("c-O0", "abort").await;
    let addr = free_port();
    let Forwarding {
        resources,
        config,
        server,
        api,
    } = forwarding(backend, addr, |_, _| {}).await;
    let id = api.upload(&abort.dump).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Wait for a failed attempt (connection refused).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let outbox = server.collector.index().sentry_outbox().await.unwrap();
        assert_eq!(outbox.len(), 1);
        if outbox[0].attempts >= 1 {
            assert!(outbox[0].last_error.is_some(), "{outbox:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no attempt was made: {outbox:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;

    let fake = FakeSentry::start_on(addr).await;
    let server = resources.start(config).await;
    let request = fake.wait_for(1).await.remove(0);
    assert_eq!(request.envelope().header["event_id"], event_id_of(&id));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .collector
        .index()
        .sentry_outbox()
        .await
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the row stayed after delivery");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.requests().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_outbox_sqlite() {
    durable_outbox(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_outbox_postgres() {
    durable_outbox(Backend::PostgresS3).await;
}

/// A 400 is final: one attempt, counted as dropped. Out of attempts on
/// 5xx, the event is dropped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_events_are_dropped() {
    let abort = fixture("c-O0", "abort").await;
    let (fake, addr) = FakeSentry::start().await;
    let Forwarding {
        resources: _resources,
        server,
        api,
        ..
    } = forwarding(Backend::Embedded, addr, |_, sentry| sentry.max_attempts = 3).await;

    fake.then(Reply {
        status: 400,
        headers: Vec::new(),
        body: "{\"detail\":\"bad envelope\"}".into(),
    });
    api.upload(&abort.dump).await;
    fake.wait_for(1).await;
    // With a 50 ms backoff, a retry would have come by now.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(fake.requests().len(), 1, "a 400 was retried");
    assert!(
        server
            .collector
            .index()
            .sentry_outbox()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        api.metric("collector_sentry_events_dropped_total").await,
        1.0
    );
    assert_eq!(api.metric("collector_sentry_events_sent_total").await, 0.0);
    assert_eq!(
        api.metric("collector_sentry_events_retried_total").await,
        0.0
    );

    fake.always(Reply::status(502));
    api.upload(&abort.dump).await;
    fake.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(fake.requests().len(), 4, "more than max_attempts");
    assert!(
        server
            .collector
            .index()
            .sentry_outbox()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        api.metric("collector_sentry_events_dropped_total").await,
        2.0
    );
    assert_eq!(
        api.metric("collector_sentry_events_retried_total").await,
        2.0
    );
    server.stop().await;
}

/// Retention deleting a dump takes its pending event with it, and the
/// worker goes on with the next ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_pending_events() {
    let abort = fixture("c-O0", "abort").await;
    let (fake, addr) = FakeSentry::start().await;
    let Forwarding {
        resources: _resources,
        server,
        api,
        ..
    } = forwarding(Backend::Embedded, addr, |config, sentry| {
        config.retention.max_age = Some(Duration::from_millis(300));
        sentry.initial_backoff = Duration::from_secs(3600);
    })
    .await;

    fake.then(Reply::status(503));
    api.upload(&abort.dump).await;
    fake.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let report = server.collector.run_retention().await.unwrap();
    assert_eq!(report.expired, 1);
    assert!(
        server
            .collector
            .index()
            .sentry_outbox()
            .await
            .unwrap()
            .is_empty()
    );

    let reply = api.upload(&abort.dump).await;
    let requests = fake.wait_for(2).await;
    assert_eq!(
        requests[1].envelope().header["event_id"],
        event_id_of(reply["id"].as_str().unwrap())
    );
    server.stop().await;
}

/// The Python with `sentry-relay`, from `SENTRY_RELAY_PYTHON`; a test that
/// needs it fails without it.
fn relay_python() -> String {
    std::env::var("SENTRY_RELAY_PYTHON").unwrap_or_else(|_| {
        panic!(
            "SENTRY_RELAY_PYTHON is not set: it must name a Python with PyPI's sentry-relay==0.10.1 \
             (python3 -m venv /tmp/relayvenv && /tmp/relayvenv/bin/pip install sentry-relay==0.10.1, \
             then SENTRY_RELAY_PYTHON=/tmp/relayvenv/bin/python)"
        )
    })
}

/// Runs an event through `tests/sentry_normalize.py` with `python`.
fn normalize(python: &str, event: &Value) -> Value {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sentry_normalize.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run SENTRY_RELAY_PYTHON={python}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "Relay's normaliser failed ({python} {script}; is sentry-relay installed there?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `(function, lineno, in_app, instruction_addr, addr_mode)` of each frame.
fn frame_facts(event: &Value) -> Vec<[Value; 5]> {
    frames_of(event)
        .iter()
        .map(|f| {
            [
                "function",
                "lineno",
                "in_app",
                "instruction_addr",
                "addr_mode",
            ]
            .map(|k| f.get(k).cloned().unwrap_or(Value::Null))
        })
        .collect()
}

/// Tags as a map, from an object or Relay's list of pairs.
fn tag_map(tags: &Value) -> HashMap<String, String> {
    match tags {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        Value::Array(pairs) => pairs
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_string(),
                    p[1].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        other => panic!("tags are {other}"),
    }
}

/// Our events pass Relay's normaliser untouched: no errors, nothing in
/// `_meta`, and the fields that matter come out as sent. One symbolicated
/// Rust panic (std frames, inlining), one C dump with no debug file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_accepts_the_events() {
    let python = relay_python();
    let panic = fixture("rust-debug", "unwrap-none").await;
    let divide = fixture("c-O0", "divide-by-zero").await;
    let (fake, addr) = FakeSentry::start().await;
    let Forwarding {
        resources: _resources,
        server,
        api,
        ..
    } = forwarding(Backend::Embedded, addr, |_, _| {}).await;
    api.put_debug_file(&panic).await;
    api.upload_with_metadata(&panic.dump, &request_metadata())
        .await;
    let unsymbolicated = api.upload(&divide.dump).await;
    assert_eq!(unsymbolicated["symbolication"], "pending");
    let requests = fake.wait_for(2).await;

    for (i, request) in requests.iter().enumerate() {
        let sent = &request.envelope().event;
        let normalized = normalize(&python, sent);
        assert!(
            normalized
                .get("errors")
                .is_none_or(|e| e.as_array().is_some_and(Vec::is_empty)),
            "event {i}: Relay reported errors: {}",
            normalized["errors"]
        );
        assert!(
            normalized
                .get("_meta")
                .is_none_or(|m| m.is_null() || m.as_object().is_some_and(|o| o.is_empty())),
            "event {i}: Relay changed or removed fields: {}",
            normalized["_meta"]
        );
        assert_eq!(normalized["event_id"], sent["event_id"]);
        assert_eq!(normalized["platform"], "native");
        assert_eq!(normalized["level"], "fatal");
        assert_eq!(normalized["fingerprint"], sent["fingerprint"]);
        assert_eq!(
            normalized["exception"]["values"][0]["type"],
            sent["exception"]["values"][0]["type"]
        );
        assert_eq!(
            normalized["exception"]["values"][0]["mechanism"],
            sent["exception"]["values"][0]["mechanism"]
        );
        assert_eq!(frame_facts(&normalized), frame_facts(sent), "event {i}");
        assert!(!frame_facts(sent).is_empty());
        assert_eq!(
            tag_map(&normalized["tags"]),
            tag_map(&sent["tags"]),
            "event {i}"
        );
        assert_eq!(normalized["debug_meta"], sent["debug_meta"], "event {i}");
        assert_eq!(
            normalized["contexts"]["wasm_coredump"],
            sent["contexts"]["wasm_coredump"]
        );
    }

    // The symbolicated panic: our debug id survives, std frames are not in-app.
    let sent = requests[0].envelope().event;
    let normalized = normalize(&python, &sent);
    let (debug_id, _) = sentry_ids(support::fixture_build_id("rust-debug").as_bytes());
    assert_eq!(
        normalized["debug_meta"]["images"][0]["debug_id"],
        debug_id.as_str()
    );
    assert_eq!(normalized["release"], "checkout@1.4.2");
    assert_eq!(normalized["environment"], "production");
    crash_fixtures::frames_match(
        &panic.expected,
        &crash_fixtures::sentry_in_app_frames(&normalized),
    )
    .unwrap();
    let facts = frame_facts(&normalized);
    assert!(
        facts.iter().all(|f| f[3].is_string()),
        "addresses: {facts:?}"
    );
    assert!(facts.iter().any(|f| f[2] == false) && facts.iter().any(|f| f[2] == true));
    let std_frames: Vec<&Value> = frames_of(&normalized)
        .iter()
        .filter(|f| {
            f["filename"]
                .as_str()
                .is_some_and(|p| p.contains("library/std/src/"))
        })
        .collect();
    assert!(
        !std_frames.is_empty(),
        "no std frames: {:#}",
        normalized["exception"]
    );
    assert!(std_frames.iter().all(|f| f["in_app"] == false));
    let headers = tag_map(&normalized["request"]["headers"]);
    assert_eq!(headers["Authorization"], "[scrubbed]");

    // The dump without a debug file: func[N] frames and no addresses.
    let sent = requests[1].envelope().event;
    let facts = frame_facts(&normalize(&python, &sent));
    assert!(
        facts
            .iter()
            .all(|f| f[0].as_str().is_some_and(|n| n.starts_with("func[")) && f[3].is_null()),
        "{facts:?}"
    );
    server.stop().await;
}
