//! A WAGI/CGI-style HTTP gateway: each route runs a WASI module per request.
//!
//! The request becomes CGI environment variables plus stdin; the module's
//! stdout, CGI headers first, becomes the response. Every request gets a fresh
//! instance (pre-linked, pooled), a deadline and a memory cap. A trapping
//! request answers 500 with the dump's id; the dump, with the request's
//! context (secrets scrubbed), is written to the spool and delivered in the
//! background while the server keeps serving.
//!
//! The `routes.toml` format is documented in the crate's README.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc};
use wasmtime::InstancePre;

use crate::deliver::{Collector, DUMP_SUFFIX, flush};
use crate::run::{Capture, Exit, Host, HostOptions, HostState, RunLimits, RunRequest, Stdio};
use crate::store::write_dump_atomically;

/// `routes.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(rename = "route", default)]
    pub routes: Vec<RouteConfig>,
}

/// The `[server]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub coredump_dir: PathBuf,
    /// Collector base URL; dumps are spooled and delivered there.
    pub collector: Option<String>,
    /// Collector ingest token (prefer the `COREDUMP_TOKEN` environment variable).
    pub token: Option<String>,
    /// Per-request wall-clock limit.
    pub timeout_ms: u64,
    /// Per-instance memory cap.
    pub max_memory_bytes: usize,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Instance slots kept ready: the most requests running at once (more wait).
    pub instances: u32,
    /// `native`, `guest-debug` or `off`.
    pub capture: Capture,
    /// How often dumps left in the spool (collector down) are retried.
    pub retry_interval_ms: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            coredump_dir: PathBuf::from("coredumps"),
            collector: None,
            token: None,
            timeout_ms: 10_000,
            max_memory_bytes: 256 << 20,
            max_body_bytes: 16 << 20,
            instances: 128,
            capture: Capture::Native,
            retry_interval_ms: 30_000,
        }
    }
}

/// A `[[route]]`: requests whose path is `path` (or, for a path ending in
/// `/...`, starts with it) run `module`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub path: String,
    pub module: PathBuf,
    /// Arguments after `argv[0]`.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// This route's wall-clock limit per request (default: the server's).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// This route's memory cap, at most the server's (whose pooled instance
    /// slots are sized for it).
    #[serde(default)]
    pub max_memory_bytes: Option<usize>,
    /// This route's largest request body (default: the server's).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

impl RouteConfig {
    /// A route running `module` for `path`, with no arguments or extra
    /// environment, on the server's limits.
    pub fn new(path: impl Into<String>, module: impl Into<PathBuf>) -> Self {
        RouteConfig {
            path: path.into(),
            module: module.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            timeout_ms: None,
            max_memory_bytes: None,
            max_body_bytes: None,
        }
    }

    fn limits(&self) -> RunLimits {
        RunLimits {
            timeout: self.timeout_ms.map(Duration::from_millis),
            max_memory_bytes: self.max_memory_bytes,
        }
    }
}

/// Errors setting the gateway up.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    Host(#[from] crate::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(std::io::Error),
}

impl ServeConfig {
    /// Reads a config file; module paths are relative to its directory.
    pub fn load(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|message| ServeError::Config {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and checks a config's text; relative module paths are joined to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let mut config: ServeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.routes.is_empty() {
            return Err("no [[route]] tables".into());
        }
        let mut seen = std::collections::HashSet::new();
        for route in &mut config.routes {
            if !route.path.starts_with('/') {
                return Err(format!("route path `{}` must start with `/`", route.path));
            }
            if route.path.contains('?') || route.path.contains('#') {
                return Err(format!("route path `{}` must not hold a query", route.path));
            }
            if !seen.insert(route.path.clone()) {
                return Err(format!("route path `{}` appears twice", route.path));
            }
            route.module = base.join(&route.module);
        }
        let server = &config.server;
        if server.timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".into());
        }
        for route in &config.routes {
            let path = &route.path;
            if route.timeout_ms == Some(0) {
                return Err(format!("route `{path}`: timeout_ms must be at least 1"));
            }
            if let Some(max) = route.max_memory_bytes
                && !(64 << 10..=server.max_memory_bytes).contains(&max)
            {
                return Err(format!(
                    "route `{path}`: max_memory_bytes must be from one page (65536) to the server's ({})",
                    server.max_memory_bytes
                ));
            }
            if route.max_body_bytes == Some(0) {
                return Err(format!("route `{path}`: max_body_bytes must be at least 1"));
            }
        }
        if server.instances == 0 {
            return Err("instances must be at least 1".into());
        }
        if server.max_memory_bytes < 64 << 10 {
            return Err("max_memory_bytes must be at least one page (65536)".into());
        }
        if server.retry_interval_ms == 0 {
            return Err("retry_interval_ms must be at least 1".into());
        }
        Ok(config)
    }
}

struct Route {
    config: RouteConfig,
    name: String,
    wasm: Arc<[u8]>,
    pre: InstancePre<HostState>,
}

impl Route {
    fn matches(&self, path: &str) -> bool {
        match self.config.path.strip_suffix("/...") {
            Some(prefix) => path == prefix || path.starts_with(&format!("{prefix}/")),
            None => path == self.config.path,
        }
    }

    /// The route's own part of the path (CGI `SCRIPT_NAME`).
    fn script_name(&self) -> &str {
        self.config
            .path
            .strip_suffix("/...")
            .unwrap_or(&self.config.path)
    }
}

struct Gateway {
    host: Host,
    routes: Vec<Route>,
    settings: ServerSettings,
    dumps: mpsc::UnboundedSender<PathBuf>,
    /// One permit per pooled instance slot.
    slots: Semaphore,
}

/// Loads every route's module and serves until `shutdown` resolves.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.server.listen,
            source,
        })?;
    serve_on(listener, config, shutdown).await
}

/// Like [`serve`], on a listener the caller bound (e.g. to port 0 in tests).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut settings = config.server.clone();
    // SERVER_NAME and SERVER_PORT name where the server really listens.
    if let Ok(addr) = listener.local_addr() {
        settings.listen = addr;
    }
    let host = Host::new(HostOptions {
        capture: settings.capture,
        fuel: None,
        max_memory_bytes: Some(settings.max_memory_bytes),
        timeout: Some(Duration::from_millis(settings.timeout_ms)),
        pooled_instances: Some(settings.instances),
    })?;
    let mut routes = Vec::new();
    for route in config.routes {
        let wasm: Arc<[u8]> = std::fs::read(&route.module)
            .map_err(|source| ServeError::Read {
                path: route.module.clone(),
                source,
            })?
            .into();
        let name = route
            .module
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "module.wasm".into());
        let module = host.compile(&name, &wasm)?;
        let pre = host.pre_instantiate(&name, &module)?;
        tracing::info!(route = %route.path, module = %route.module.display(), "route ready");
        routes.push(Route {
            config: route,
            name,
            wasm,
            pre,
        });
    }

    let (dumps, pending) = mpsc::unbounded_channel();
    let collector = settings.collector.as_ref().map(|url| {
        let token = settings
            .token
            .clone()
            .or_else(|| std::env::var("COREDUMP_TOKEN").ok());
        Collector::new(url.clone(), token)
    });
    let delivery = tokio::spawn(deliver_dumps(
        collector,
        settings.coredump_dir.clone(),
        Duration::from_millis(settings.retry_interval_ms),
        pending,
    ));

    let slots = Semaphore::new(settings.instances as usize);
    let gateway = Arc::new(Gateway {
        host,
        routes,
        settings,
        dumps,
        slots,
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(gateway.clone());
    tracing::info!(addr = %gateway.settings.listen, routes = gateway.routes.len(), "serving");
    // Responses are small and latency matters: no Nagle delays.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
    });
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    tracing::info!("shutting down: delivering queued dumps");
    // Let the delivery worker drain what is queued, then stop.
    drop(gateway);
    let _ = delivery.await;
    tracing::info!("stopped");
    served.map_err(ServeError::Io)
}

/// Delivers dumps as they are written; at start, on every new dump and every
/// `retry` while some are left, the whole spool is flushed, so dumps left by
/// earlier runs or a collector outage go too.
async fn deliver_dumps(
    collector: Option<Collector>,
    dir: PathBuf,
    retry: Duration,
    mut pending: mpsc::UnboundedReceiver<PathBuf>,
) {
    let Some(collector) = collector else {
        while pending.recv().await.is_some() {}
        return;
    };
    // Returns whether dumps are left in the spool.
    let flush_now = |collector: Collector, dir: PathBuf| async move {
        let result = tokio::task::spawn_blocking(move || flush(&collector, &dir)).await;
        match result {
            Ok(Ok(report)) => {
                for (path, receipt) in &report.delivered {
                    tracing::info!(dump = %path.display(), receipt = %receipt.body.trim(), "dump delivered");
                }
                for (path, why) in &report.pending {
                    tracing::warn!(dump = %path.display(), %why, "dump stays in the spool");
                }
                for (path, why) in &report.rejected {
                    tracing::error!(dump = %path.display(), %why, "collector rejected dump");
                }
                !report.pending.is_empty()
            }
            Ok(Err(err)) => {
                tracing::error!(%err, "cannot flush the spool");
                true
            }
            Err(err) => {
                tracing::error!(%err, "delivery task failed");
                true
            }
        }
    };
    let mut left = flush_now(collector.clone(), dir.clone()).await;
    loop {
        let next = if left {
            match tokio::time::timeout(retry, pending.recv()).await {
                Ok(next) => next.map(Some),
                // Time to retry what is left.
                Err(_) => Some(None),
            }
        } else {
            pending.recv().await.map(Some)
        };
        let Some(_) = next else { break };
        // Coalesce a burst of crashes into one flush.
        while pending.try_recv().is_ok() {}
        left = flush_now(collector.clone(), dir.clone()).await;
    }
    // Shutting down: one last try for anything written since.
    if left {
        flush_now(collector, dir).await;
    }
}

/// Whether a header carries credentials, which never go into a dump.
fn is_secret_header(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
    ];
    const PARTS: &[&str] = &[
        "token",
        "secret",
        "api-key",
        "apikey",
        "password",
        "session",
        "csrf",
        "signature",
    ];
    let name = name.to_ascii_lowercase();
    EXACT.contains(&name.as_str()) || PARTS.iter().any(|part| name.contains(part))
}

/// Whether a query parameter's value is scrubbed from the recorded URL.
fn is_secret_param(name: &str) -> bool {
    const PARTS: &[&str] = &[
        "token", "secret", "key", "password", "passwd", "auth", "session", "sig", "code",
    ];
    let name = name.to_ascii_lowercase();
    PARTS.iter().any(|part| name.contains(part))
}

const SCRUBBED: &str = "[scrubbed]";

/// The URL with secret-looking query values replaced.
fn scrubbed_url(uri: &Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => format!("{name}={SCRUBBED}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{}?{}", uri.path(), query.join("&"))
}

/// The request's context for the dump: method, URL and headers, with
/// credentials (Authorization, Cookie, token-like headers and query values)
/// scrubbed.
pub fn request_context(method: &Method, uri: &Uri, headers: &HeaderMap) -> Vec<(String, String)> {
    let mut context = vec![
        ("request.method".to_string(), method.to_string()),
        ("request.url".to_string(), scrubbed_url(uri)),
    ];
    for (name, value) in headers {
        let shown = if is_secret_header(name.as_str()) {
            SCRUBBED.to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        context.push((format!("request.header.{name}"), shown));
    }
    context
}

async fn handle(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let (log_method, path) = (method.clone(), uri.path().to_string());
    let response = respond(&gateway, peer, method, uri, headers, body).await;
    tracing::debug!(
        method = %log_method,
        path = %path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

async fn respond(
    gateway: &Arc<Gateway>,
    peer: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().to_string();
    let Some(route) = gateway.routes.iter().find(|r| r.matches(&path)) else {
        return (StatusCode::NOT_FOUND, "no route for this path\n").into_response();
    };
    let max_body = route
        .config
        .max_body_bytes
        .unwrap_or(gateway.settings.max_body_bytes);
    let body: Bytes = match axum::body::to_bytes(body, max_body).await {
        Ok(body) => body,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
        }
    };
    let env = cgi_environment(
        route,
        &method,
        &uri,
        &headers,
        &body,
        peer,
        &gateway.settings,
    );
    // Wait for a free instance slot rather than fail the instantiation.
    let Ok(_slot) = gateway.slots.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    };
    let request = RunRequest {
        name: route.name.clone(),
        path: Some(route.config.module.clone()),
        wasm: route.wasm.clone(),
        args: route.config.args.clone(),
        env,
        dirs: Vec::new(),
        stdio: Stdio::Capture {
            stdin: body.to_vec(),
        },
        context: request_context(&method, &uri, &headers),
        limits: route.config.limits(),
    };
    let outcome = match gateway.host.run_pre_async(&route.pre, &request).await {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::error!(route = %route.config.path, %err, "module could not run");
            return (StatusCode::INTERNAL_SERVER_ERROR, "module could not run\n").into_response();
        }
    };
    match (&outcome.exit, &outcome.crash) {
        (Exit::Trap, Some(crash)) => {
            let dump_id = match &crash.dump {
                Some(dump) => save_dump(gateway, route, dump.to_bytes()).await,
                None => None,
            };
            tracing::error!(
                route = %route.config.path, method = %method, url = %uri,
                trap = %crash.kind, dump = ?dump_id, "request trapped"
            );
            let body = serde_json::json!({
                "error": "the module trapped",
                "trap": crash.kind.as_str(),
                "message": crash.message,
                "dump_id": dump_id,
            });
            let mut response =
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
            if let Some(id) = dump_id
                .as_deref()
                .and_then(|id| HeaderValue::from_str(id).ok())
            {
                response.headers_mut().insert(DUMP_ID_HEADER, id);
            }
            response
        }
        (Exit::Code(0), _) => cgi_response(&outcome.stdout),
        (Exit::Code(code), _) => {
            tracing::warn!(route = %route.config.path, code, "module exited with an error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("module exited with status {code}\n"),
            )
                .into_response()
        }
        (Exit::Trap, None) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "module trapped\n").into_response()
        }
    }
}

/// Response header naming the dump of a trapped request.
pub const DUMP_ID_HEADER: &str = "x-coredump-id";

/// Writes the dump to the spool and queues it for delivery; returns its id.
async fn save_dump(gateway: &Arc<Gateway>, route: &Route, bytes: Vec<u8>) -> Option<String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let stem = route.name.trim_end_matches(".wasm").to_string();
    let id = format!("{stem}-{nanos}-{}", std::process::id());
    let file = format!("{id}{DUMP_SUFFIX}");
    let dir = gateway.settings.coredump_dir.clone();
    let written =
        tokio::task::spawn_blocking(move || write_dump_atomically(&dir, &file, &bytes)).await;
    match written {
        Ok(Ok(path)) => {
            let _ = gateway.dumps.send(path);
            Some(id)
        }
        Ok(Err(err)) => {
            tracing::error!(%err, "cannot write dump");
            None
        }
        Err(err) => {
            tracing::error!(%err, "dump writer failed");
            None
        }
    }
}

fn cgi_environment(
    route: &Route,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    peer: SocketAddr,
    settings: &ServerSettings,
) -> Vec<(String, String)> {
    let script = route.script_name();
    let path_info = uri.path().strip_prefix(script).unwrap_or("");
    let mut env: Vec<(String, String)> = vec![
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        (
            "SERVER_SOFTWARE".into(),
            format!("coredump-host/{}", env!("CARGO_PKG_VERSION")),
        ),
        ("SERVER_PROTOCOL".into(), "HTTP/1.1".into()),
        ("SERVER_NAME".into(), settings.listen.ip().to_string()),
        ("SERVER_PORT".into(), settings.listen.port().to_string()),
        ("REQUEST_METHOD".into(), method.to_string()),
        ("SCRIPT_NAME".into(), script.to_string()),
        ("PATH_INFO".into(), percent_decode(path_info)),
        ("QUERY_STRING".into(), uri.query().unwrap_or("").to_string()),
        ("REQUEST_URI".into(), uri.to_string()),
        ("X_FULL_URL".into(), full_url(uri, headers, settings)),
        ("X_RAW_PATH_INFO".into(), path_info.to_string()),
        ("REMOTE_ADDR".into(), peer.ip().to_string()),
        ("REMOTE_PORT".into(), peer.port().to_string()),
        ("CONTENT_LENGTH".into(), body.len().to_string()),
        ("X_MATCHED_ROUTE".into(), route.config.path.clone()),
    ];
    if let Some(ty) = headers.get("content-type").and_then(|v| v.to_str().ok()) {
        env.push(("CONTENT_TYPE".into(), ty.to_string()));
    }
    for (name, value) in headers {
        // As in CGI, credentials are not handed to the program.
        if name == "authorization"
            || name == "proxy-authorization"
            || name == "content-type"
            || name == "content-length"
        {
            continue;
        }
        if let Ok(value) = value.to_str() {
            let key = format!(
                "HTTP_{}",
                name.as_str().to_ascii_uppercase().replace('-', "_")
            );
            env.push((key, value.to_string()));
        }
    }
    env.extend(route.config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Decodes `%XX` escapes; invalid escapes and non-UTF-8 results are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn full_url(uri: &Uri, headers: &HeaderMap, settings: &ServerSettings) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| settings.listen.to_string());
    format!(
        "http://{host}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    )
}

/// Turns a CGI program's output into a response: headers up to the first
/// blank line (`Status`, `Location`, `Content-Type`, others passed through),
/// then the body.
pub fn cgi_response(output: &[u8]) -> Response {
    let (head, body) = split_cgi_output(output);
    let mut status = None;
    let mut headers = HeaderMap::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            return bad_gateway("malformed CGI header line");
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok());
            match code.and_then(|c| StatusCode::from_u16(c).ok()) {
                Some(code) => status = Some(code),
                None => return bad_gateway("malformed CGI Status header"),
            }
            continue;
        }
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            // Framing is the server's business, not the program's.
            (Ok(name), Ok(_)) if HOP_BY_HOP.contains(&name.as_str()) => {}
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            _ => return bad_gateway("malformed CGI header"),
        }
    }
    let status = status.unwrap_or(if headers.contains_key("location") {
        StatusCode::FOUND
    } else {
        StatusCode::OK
    });
    (status, headers, body.to_vec()).into_response()
}

/// Headers a CGI program may not set.
const HOP_BY_HOP: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
];

fn bad_gateway(why: &'static str) -> Response {
    (StatusCode::BAD_GATEWAY, format!("{why}\n")).into_response()
}

/// Splits at the first blank line (`\n\n` or `\r\n\r\n`). Output with no
/// header block is all body.
fn split_cgi_output(output: &[u8]) -> (String, &[u8]) {
    let crlf = find(output, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = find(output, b"\n\n").map(|i| (i, i + 2));
    let split = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match split {
        Some((head_end, body_start)) => {
            let head = String::from_utf8_lossy(&output[..head_end]).replace('\r', "");
            (head, &output[body_start..])
        }
        None => (String::new(), output),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
