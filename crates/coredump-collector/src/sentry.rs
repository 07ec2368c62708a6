//! Forwarding new dumps to Sentry, for teams whose crash reports already
//! live there: each newly stored dump becomes one Sentry event, sent to the
//! project's envelope endpoint.
//!
//! # Delivery
//!
//! Ingest only writes an outbox row (`sentry_outbox`, in the dump's own
//! transaction), so a slow or unreachable Sentry never slows an upload, and
//! the event of an acknowledged dump survives a crash. A background worker claims due
//! rows (a lease in `locked_until`, so instances sharing one PostgreSQL index
//! do not send the same row together), builds the event from the stored
//! record and posts it:
//!
//! - 2xx: sent, the row goes;
//! - network error, timeout, 408, 5xx: tried again after an exponential
//!   backoff, up to [`SentryConfig::max_attempts`], then dropped;
//! - 429: tried again after `Retry-After` / `X-Sentry-Rate-Limits`, and
//!   nothing else is sent meanwhile;
//! - any other status: dropped at once (it would never succeed).
//!
//! The event id is the dump id, so a repeated delivery (a lease that ran out,
//! a crash after Sentry answered) is deduplicated by Sentry.
//!
//! # The event
//!
//! See [`build_event`]: the trap as the exception, the symbolicated stack
//! (oldest frame first, one Sentry frame per source location), the
//! collector's group id as the fingerprint, `debug_meta` images for the
//! modules' build ids ([`debug_id_for_build_id`]), and the dump's scrubbed
//! request context.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use wasm_coredump::BuildId;

use crate::collector::{Collector, Inner, now_ms};
use crate::config::SentryConfig;
use crate::error::Error;
use crate::index::{IndexError, OutboxRow};
use crate::ingest::{scrub, scrub_query};
use crate::model::{DumpRecord, SymbolicationState};

/// `sentry_client` and `User-Agent` of the requests.
pub const CLIENT: &str = concat!("coredump-collector/", env!("CARGO_PKG_VERSION"));

/// The envelope media type.
pub const ENVELOPE_CONTENT_TYPE: &str = "application/x-sentry-envelope";

/// Sentry frames kept per event (the youngest); Sentry trims longer stacks anyway.
pub const MAX_FRAMES: usize = 256;

/// How long a 429 without rate-limit headers holds delivery.
const DEFAULT_RATE_LIMIT: Duration = Duration::from_secs(60);

/// The longest pause a rate limit may impose at once (it is asked again after).
const MAX_RATE_LIMIT: Duration = Duration::from_secs(3600);

/// Characters of an error kept in the outbox and the logs.
const MAX_ERROR_CHARS: usize = 500;

/// A Sentry configuration problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SentryError {
    #[error(
        "invalid Sentry DSN: {0} (expected {{scheme}}://{{public_key}}@{{host}}[:{{port}}]/[{{path}}/]{{project_id}})"
    )]
    InvalidDsn(String),
}

/// A Sentry DSN: where and as whom events are sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Dsn {
    text: String,
    scheme: String,
    public_key: String,
    secret_key: Option<String>,
    /// As in a URL (an IPv6 address in brackets).
    host: String,
    port: Option<u16>,
    /// The path before the project id, with a trailing `/`.
    path: String,
    project_id: String,
}

impl std::fmt::Debug for Dsn {
    // No keys in logs or panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dsn")
            .field("endpoint", &self.envelope_url())
            .finish_non_exhaustive()
    }
}

impl Dsn {
    /// Parses `{scheme}://{public_key}[:{secret}]@{host}[:{port}]/{path/}{project_id}`.
    pub fn parse(text: &str) -> Result<Dsn, SentryError> {
        let text = text.trim();
        let bad = |why: String| SentryError::InvalidDsn(why);
        let url = url::Url::parse(text).map_err(|e| bad(format!("not a URL ({e})")))?;
        let scheme = url.scheme();
        if scheme != "https" && scheme != "http" {
            return Err(bad(format!(
                "unsupported scheme `{scheme}`, use https or http"
            )));
        }
        if url.username().is_empty() {
            return Err(bad("no public key before the `@`".into()));
        }
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.to_string(),
            _ => return Err(bad("no host".into())),
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a DSN has no query string or fragment".into()));
        }
        let (path, project_id) = url.path().rsplit_once('/').unwrap_or(("", url.path()));
        if project_id.is_empty() {
            return Err(bad("no project id at the end of the path".into()));
        }
        if !project_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                "the project id (the last path segment) is not a number".into(),
            ));
        }
        Ok(Dsn {
            text: text.to_string(),
            scheme: scheme.to_string(),
            public_key: url.username().to_string(),
            secret_key: url.password().map(str::to_string),
            host,
            port: url.port(),
            path: format!("{path}/"),
            project_id: project_id.to_string(),
        })
    }

    /// The DSN as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// `{scheme}://{host}[:{port}]/{path}api/{project_id}/envelope/`
    pub fn envelope_url(&self) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{}{port}{}api/{}/envelope/",
            self.scheme, self.host, self.path, self.project_id
        )
    }

    /// The `X-Sentry-Auth` header value.
    pub fn auth_header(&self) -> String {
        let mut value = format!(
            "Sentry sentry_version=7, sentry_client={CLIENT}, sentry_key={}",
            self.public_key
        );
        if let Some(secret) = &self.secret_key {
            value.push_str(&format!(", sentry_secret={secret}"));
        }
        value
    }
}

impl FromStr for Dsn {
    type Err = SentryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Dsn::parse(text)
    }
}

/// The debug id Sentry gives a Wasm module whose build id is `id` (the id
/// bytes, as the collector keeps them, without the section's length prefix).
///
/// Sentry's readers (symbolic, `@sentry/wasm`) take the raw `build_id`
/// section payload, length included: a varuint32 length then the id. The
/// debug id is the first 16 bytes of that payload (zero-padded when shorter)
/// with age 0, so lld's 16-byte id `aa bb … pp` gives `10aabbcc-…` — `0x10`
/// then the first 15 id bytes. Written as a hyphenated UUID, the form Relay
/// normalises `@sentry/wasm`'s `<32 hex>0` to.
pub fn debug_id_for_build_id(id: &[u8]) -> String {
    BuildId::new(id.to_vec())
        .sentry_debug_id()
        .hyphenated()
        .to_string()
}

/// The code id Sentry gives that module: lower-case hex of the raw section
/// payload (length prefix and id bytes), see [`debug_id_for_build_id`].
pub fn code_id_for_build_id(id: &[u8]) -> String {
    hex(&BuildId::new(id.to_vec()).to_section_payload())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The event id of a dump: its id (a UUID v7) in 32-hex form, so that a
/// repeated delivery is the same event to Sentry. A non-UUID id (none is
/// stored today) maps to a UUID v5 of it.
pub fn event_id_for_dump(dump_id: &str) -> String {
    match uuid::Uuid::parse_str(dump_id) {
        Ok(id) => id.simple().to_string(),
        Err(_) => uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, dump_id.as_bytes())
            .simple()
            .to_string(),
    }
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

fn time_of_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// Whether Relay accepts a release name (else it drops it with an error).
fn valid_release(release: &str) -> bool {
    !release.trim().is_empty()
        && release.len() <= 200
        && !matches!(release, "." | ".." | "latest")
        && !release
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Whether Relay accepts an environment name.
fn valid_environment(environment: &str) -> bool {
    !environment.trim().is_empty()
        && environment.chars().count() <= 64
        && !environment.chars().any(|c| c == '/' || c.is_control())
}

/// The Sentry event of a stored dump.
///
/// - `exception.values[0]`: the trap kind as `type`, its message as `value`,
///   mechanism `wasm-coredump` (unhandled); the stack oldest frame first, one
///   Sentry frame per source location (inlined callees after their caller),
///   `func[N]` for frames not symbolicated. `in_app` is the collector's
///   flag (unsymbolicated frames count as in-app, as for grouping).
/// - `instruction_addr` (hex) with `addr_mode: rel:<image>`: the pc's
///   whole-module offset, from `addresses` (by stack frame index; only
///   frames whose debug file is stored have one). Caller pcs point at their
///   `call`, so the stack asks for no address adjustment.
/// - `fingerprint`: the collector's group id; `tags`: service, version,
///   trap kind; `release`: `service@version` (or the version);
///   `environment`.
/// - `debug_meta.images`: one `wasm` image per module with a build id.
/// - `request`: the scrubbed request context; `contexts`: the collector's
///   links (`base_url` is `--public-url`; without it the links are paths)
///   and the engine as the runtime; `extra`: the rest of the metadata.
pub fn build_event(
    dump: &DumpRecord,
    addresses: &HashMap<usize, u64>,
    base_url: Option<&str>,
) -> Value {
    let event_id = event_id_for_dump(&dump.id);
    let mut event = Map::new();
    event.insert("event_id".into(), json!(event_id));
    event.insert(
        "timestamp".into(),
        json!(rfc3339(time_of_ms(dump.received_at))),
    );
    event.insert("platform".into(), json!("native"));
    event.insert("level".into(), json!("fatal"));
    event.insert("logger".into(), json!("coredump-collector"));
    event.insert(
        "sdk".into(),
        json!({"name": "coredump-collector", "version": env!("CARGO_PKG_VERSION")}),
    );
    let release = match (&dump.service, &dump.version) {
        (Some(service), Some(version)) => Some(format!("{service}@{version}")),
        (None, Some(version)) => Some(version.clone()),
        _ => None,
    };
    if let Some(release) = release.filter(|r| valid_release(r)) {
        event.insert("release".into(), json!(release));
    }
    if let Some(environment) = dump.environment.as_deref().filter(|e| valid_environment(e)) {
        event.insert("environment".into(), json!(environment));
    }
    // Relay moves an `environment` tag into the field, so it is not a tag here.
    let mut tags = Map::new();
    for (key, value) in [
        ("service", dump.service.as_deref()),
        ("version", dump.version.as_deref()),
        ("trap_kind", Some(dump.trap_kind.as_str())),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            tags.insert(key.into(), json!(value));
        }
    }
    event.insert("tags".into(), Value::Object(tags));
    event.insert("fingerprint".into(), json!([dump.group_id]));

    // Images: modules with a build id, in module order.
    let mut images = Vec::new();
    let mut image_of_module = HashMap::new();
    for module in &dump.modules {
        let Some(id) = module.build_id.as_deref().and_then(BuildId::parse) else {
            continue;
        };
        image_of_module.insert(module.index, images.len());
        images.push(json!({
            "type": "wasm",
            "debug_id": debug_id_for_build_id(id.as_bytes()),
            "code_id": code_id_for_build_id(id.as_bytes()),
            "code_file": crate::symbolicate::module_display_name(module),
        }));
    }

    let mut exception = Map::new();
    exception.insert("type".into(), json!(dump.trap_kind));
    if !dump.trap_message.is_empty() {
        exception.insert("value".into(), json!(dump.trap_message));
    }
    exception.insert(
        "mechanism".into(),
        json!({"type": "wasm-coredump", "handled": false}),
    );
    exception.insert(
        "stacktrace".into(),
        json!({
            "frames": sentry_frames(dump, addresses, &image_of_module),
            "instruction_addr_adjustment": "none",
        }),
    );
    event.insert("exception".into(), json!({"values": [exception]}));
    if !images.is_empty() {
        event.insert("debug_meta".into(), json!({"images": images}));
    }
    if let Some(request) = sentry_request(&dump.context) {
        event.insert("request".into(), request);
    }

    let base = base_url.unwrap_or("").trim_end_matches('/');
    let mut contexts = Map::new();
    let mut collector = json!({
        "type": "default",
        "dump_id": dump.id,
        "group_id": dump.group_id,
        "url": format!("{base}/dumps/{}", dump.id),
        "api_url": format!("{base}/api/v1/dumps/{}", dump.id),
        "symbolication": dump.symbolication.as_str(),
    });
    if let Some(executable) = &dump.executable {
        collector["executable"] = json!(executable);
    }
    if !dump.stack.thread.is_empty() {
        collector["thread"] = json!(dump.stack.thread);
    }
    contexts.insert("wasm_coredump".into(), collector);
    if let Some(engine) = dump.context["capture"]["engine"].as_str() {
        let (name, version) = match engine.split_once(' ') {
            Some((name, version)) => (name, Some(version)),
            None => (engine, None),
        };
        let mut runtime = json!({"type": "runtime", "name": name});
        if let Some(version) = version {
            runtime["version"] = json!(version);
        }
        contexts.insert("runtime".into(), runtime);
    }
    event.insert("contexts".into(), Value::Object(contexts));

    if let Some(context) = dump.context.as_object() {
        let extra: Map<String, Value> = context
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "service" | "version" | "environment" | "request"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !extra.is_empty() {
            let mut extra = Value::Object(extra);
            scrub(&mut extra);
            event.insert("extra".into(), extra);
        }
    }
    Value::Object(event)
}

/// The stack as Sentry frames, oldest first (the trapping frame last).
fn sentry_frames(
    dump: &DumpRecord,
    addresses: &HashMap<usize, u64>,
    image_of_module: &HashMap<u32, usize>,
) -> Vec<Value> {
    let mut frames = Vec::new();
    for frame in dump.stack.frames.iter().rev() {
        let image = frame.module.and_then(|m| image_of_module.get(&m));
        let mut base = Map::new();
        base.insert("platform".into(), json!("native"));
        if let Some(module) = &frame.module_name {
            base.insert("package".into(), json!(module));
        }
        if let (Some(image), Some(address)) = (image, addresses.get(&frame.index)) {
            base.insert("instruction_addr".into(), json!(format!("{address:#x}")));
            base.insert("addr_mode".into(), json!(format!("rel:{image}")));
        }
        let func_n = format!("func[{}]", frame.function_index);
        if frame.locations.is_empty() {
            let mut sentry = base;
            sentry.insert("function".into(), json!(func_n));
            // Not symbolicated yet: in-app, as the fingerprint counts it.
            sentry.insert("in_app".into(), json!(!frame.symbolicated));
            frames.push(Value::Object(sentry));
            continue;
        }
        // The collector lists the innermost inlined location first.
        for location in frame.locations.iter().rev() {
            let mut sentry = base.clone();
            match &location.function {
                Some(name) => {
                    sentry.insert("function".into(), json!(name));
                }
                None if !location.inlined => {
                    sentry.insert("function".into(), json!(func_n));
                }
                None => {}
            }
            if let Some(symbol) = &location.linkage_name {
                sentry.insert("symbol".into(), json!(symbol));
            }
            if let Some(file) = &location.file {
                sentry.insert("filename".into(), json!(file));
                sentry.insert("abs_path".into(), json!(file));
            }
            if let Some(line) = location.line.filter(|l| *l > 0) {
                sentry.insert("lineno".into(), json!(line));
                if let Some(column) = location.column.filter(|c| *c > 0) {
                    sentry.insert("colno".into(), json!(column));
                }
            }
            sentry.insert("in_app".into(), json!(location.in_app));
            frames.push(Value::Object(sentry));
        }
    }
    if frames.len() > MAX_FRAMES {
        frames.drain(..frames.len() - MAX_FRAMES);
    }
    frames
}

/// A JSON value as a header or parameter value.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `[name, value]` pairs from an object, a list of pairs or a list of
/// `{"name", "value"}` entries.
fn pairs_of(value: &Value) -> Option<Value> {
    let pairs: Vec<Value> = match value {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| Some(json!([k, text_of(v)?])))
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::Array(pair) if pair.len() == 2 => {
                    Some(json!([pair[0].as_str()?, text_of(&pair[1])?]))
                }
                Value::Object(entry) => Some(json!([
                    entry.get("name")?.as_str()?,
                    text_of(entry.get("value")?)?
                ])),
                _ => None,
            })
            .collect(),
        _ => return None,
    };
    (!pairs.is_empty()).then_some(Value::Array(pairs))
}

/// Sentry's request interface from the stored (scrubbed) `context.request`:
/// `method`, `url` (query and fragment split off), `headers`,
/// `query_string`. Scrubbed again here, in case an older record or a new
/// shape got past ingest.
fn sentry_request(context: &Value) -> Option<Value> {
    let request = context.get("request")?.as_object()?;
    let mut out = Map::new();
    if let Some(method) = request.get("method").and_then(Value::as_str)
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_alphabetic())
    {
        out.insert("method".into(), json!(method.to_ascii_uppercase()));
    }
    let mut query = request
        .get("query_string")
        .or_else(|| request.get("query"))
        .cloned();
    if let Some(url) = request.get("url").and_then(Value::as_str) {
        let (rest, fragment) = match url.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (url, None),
        };
        let (path, url_query) = match rest.split_once('?') {
            Some((path, q)) => (path, Some(q)),
            None => (rest, None),
        };
        out.insert("url".into(), json!(path));
        if query.is_none()
            && let Some(q) = url_query.filter(|q| !q.is_empty())
        {
            query = Some(json!(q));
        }
        if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
            out.insert("fragment".into(), json!(fragment));
        }
    }
    match query {
        Some(Value::String(q)) => {
            let q = q.trim_start_matches('?');
            // The `?` makes scrub_query read it as a query whatever it holds.
            let scrubbed = scrub_query(&format!("?{q}"));
            out.insert(
                "query_string".into(),
                json!(scrubbed.trim_start_matches('?')),
            );
        }
        Some(other) => {
            if let Some(pairs) = pairs_of(&other) {
                out.insert("query_string".into(), pairs);
            }
        }
        None => {}
    }
    if let Some(headers) = request.get("headers").and_then(pairs_of) {
        out.insert("headers".into(), headers);
    }
    if out.is_empty() {
        return None;
    }
    let mut out = Value::Object(out);
    scrub(&mut out);
    Some(out)
}

/// The envelope of one event: envelope header, item header, payload, each
/// on its own line.
pub fn encode_envelope(dsn: &Dsn, sent_at: SystemTime, event: &Value) -> Vec<u8> {
    let payload = event.to_string().into_bytes();
    let header = json!({
        "event_id": event["event_id"],
        "dsn": dsn.as_str(),
        "sent_at": rfc3339(sent_at),
    });
    let item = json!({
        "type": "event",
        "length": payload.len(),
        "content_type": "application/json",
    });
    let mut out = Vec::with_capacity(payload.len() + 256);
    out.extend_from_slice(header.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(item.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&payload);
    out.push(b'\n');
    out
}

/// What to do with an event after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Sent,
    /// Worth trying again, not before `not_before` (a rate limit) if given.
    Retry {
        error: String,
        not_before: Option<Duration>,
    },
    /// It would never succeed: drop it.
    Drop(String),
}

/// Judges Sentry's reply by its status, rate-limit headers and body.
pub fn verdict(
    status: u16,
    retry_after: Option<&str>,
    rate_limits: Option<&str>,
    body: &str,
) -> Verdict {
    let detail = |what: &str| {
        let body: String = body.trim().chars().take(200).collect();
        if body.is_empty() {
            format!("{what} {status}")
        } else {
            format!("{what} {status}: {body}")
        }
    };
    match status {
        200..=299 => Verdict::Sent,
        429 => Verdict::Retry {
            error: detail("rate limited,"),
            not_before: Some(rate_limit(retry_after, rate_limits).unwrap_or(DEFAULT_RATE_LIMIT)),
        },
        408 | 500..=599 => Verdict::Retry {
            error: detail("server error"),
            not_before: None,
        },
        _ => Verdict::Drop(detail("refused with")),
    }
}

/// How long Sentry asks for events to be held: the longest `retry_after`
/// (first field, seconds) of the `X-Sentry-Rate-Limits` entries that cover
/// events (no categories, or `error` / `default`), and `Retry-After`
/// (seconds), whichever is longer; at most an hour.
pub fn rate_limit(retry_after: Option<&str>, rate_limits: Option<&str>) -> Option<Duration> {
    let seconds = |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
    };
    let from_limits = rate_limits
        .into_iter()
        .flat_map(|h| h.split(','))
        .filter_map(|limit| {
            let mut fields = limit.trim().split(':');
            let secs = seconds(fields.next()?)?;
            let categories = fields.next().unwrap_or("");
            let covers = categories.is_empty()
                || categories
                    .split(';')
                    .any(|c| matches!(c.trim(), "error" | "default"));
            covers.then_some(secs)
        });
    from_limits
        .chain(retry_after.and_then(seconds))
        .fold(None, |max: Option<f64>, s| {
            Some(max.map_or(s, |m| m.max(s)))
        })
        .map(|s| Duration::from_secs_f64(s.min(MAX_RATE_LIMIT.as_secs_f64())))
}

/// The wait after the `attempts`-th failure: the initial backoff doubled
/// each time, capped.
pub fn backoff(config: &SentryConfig, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    config
        .initial_backoff
        .saturating_mul(1u32 << doublings)
        .min(config.max_backoff)
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// This instance's side of the outbox: wake-ups from ingest, and the rows it
/// holds (released on close).
/// Until when (Unix ms) the event of `record` is held back for its debug
/// files: a dump whose symbolication is pending or partial waits up to
/// `symbolication_wait` after it was received, so that a debug file uploaded
/// just after the crash still gives Sentry symbolicated frames. `None`: send
/// it now.
pub fn awaiting_debug_files(record: &DumpRecord, config: &SentryConfig, now: i64) -> Option<i64> {
    let waiting = matches!(
        record.symbolication,
        SymbolicationState::Pending | SymbolicationState::Partial
    );
    let until = record
        .received_at
        .saturating_add(config.symbolication_wait.as_millis() as i64);
    (waiting && now < until).then_some(until)
}

#[derive(Default)]
pub(crate) struct Outbox {
    wakeup: Arc<Notify>,
    claimed: Mutex<HashSet<String>>,
}

impl Outbox {
    /// Tells the worker a row was queued.
    pub fn wake(&self) {
        self.wakeup.notify_one();
    }

    fn hold(&self, rows: &[OutboxRow]) {
        let mut claimed = self.claimed.lock().unwrap_or_else(|p| p.into_inner());
        claimed.extend(rows.iter().map(|r| r.dump_id.clone()));
    }

    fn settle(&self, dump_id: &str) {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(dump_id);
    }

    /// The rows still held (the worker was stopped mid-delivery).
    pub fn take_claimed(&self) -> Vec<String> {
        std::mem::take(&mut *self.claimed.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .collect()
    }
}

/// The delivery worker: runs until the collector is dropped or the task is
/// aborted. Returns at once when forwarding is off.
pub(crate) async fn worker(weak: Weak<Inner>) {
    let (config, wakeup) = match weak.upgrade() {
        Some(inner) => match &inner.config.sentry {
            Some(config) => (config.clone(), inner.sentry.wakeup.clone()),
            None => return,
        },
        None => return,
    };
    let client = match reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(CLIENT)
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot create the HTTP client for Sentry: forwarding is off");
            return;
        }
    };
    let mut paused_until: Option<tokio::time::Instant> = None;
    loop {
        // Under a rate limit nothing is sent, whatever is queued.
        if let Some(until) = paused_until.take() {
            tokio::time::sleep_until(until).await;
        }
        let Some(inner) = weak.upgrade() else { break };
        let collector = Collector { inner };
        let wait = match collector.sentry_pass(&client, &config).await {
            Ok((claimed, pause)) => {
                if let Some(pause) = pause {
                    tracing::warn!(
                        seconds = pause.as_secs_f64(),
                        "Sentry rate limit: holding events"
                    );
                    paused_until = Some(tokio::time::Instant::now() + pause);
                }
                if claimed > 0 {
                    continue;
                }
                collector.sentry_idle_wait(&config).await
            }
            Err(err) => {
                tracing::warn!(error = %err, "Sentry outbox pass failed");
                config.poll_interval
            }
        };
        drop(collector);
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

impl Collector {
    /// Claims due rows and delivers them. Returns how many were claimed and
    /// the longest rate-limit pause Sentry asked for.
    async fn sentry_pass(
        &self,
        client: &reqwest::Client,
        config: &SentryConfig,
    ) -> Result<(usize, Option<Duration>), Error> {
        let now = now_ms();
        let lease_until = now.saturating_add(config.lease.as_millis() as i64);
        let limit = config.concurrency.max(1) as i64;
        let rows = self
            .inner
            .index
            .claim_sentry_events(now, lease_until, limit)
            .await?;
        self.inner.sentry.hold(&rows);
        let pauses = futures_util::future::join_all(
            rows.iter()
                .map(|row| self.deliver_to_sentry(client, config, row)),
        )
        .await;
        Ok((rows.len(), pauses.into_iter().flatten().max()))
    }

    /// How long to sleep with nothing due: until the next row falls due,
    /// at most the poll interval (rows of other instances, expired leases).
    async fn sentry_idle_wait(&self, config: &SentryConfig) -> Duration {
        let now = now_ms();
        match self.inner.index.next_sentry_attempt(now).await {
            Ok(Some(due)) => Duration::from_millis(due.saturating_sub(now).max(10) as u64)
                .min(config.poll_interval),
            Ok(None) => config.poll_interval,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the Sentry outbox");
                config.poll_interval
            }
        }
    }

    /// One attempt at one row, then its bookkeeping. Returns a rate-limit
    /// pause Sentry asked for.
    async fn deliver_to_sentry(
        &self,
        client: &reqwest::Client,
        config: &SentryConfig,
        row: &OutboxRow,
    ) -> Option<Duration> {
        let id = row.dump_id.as_str();
        let index = &self.inner.index;
        let metrics = &self.inner.metrics;
        let (verdict, pause) = match index.dump(id).await {
            Ok(Some((record, _))) => {
                let now = now_ms();
                if let Some(until) = awaiting_debug_files(&record, config, now) {
                    // Not an attempt: look again at the next poll, so the
                    // event leaves soon after the debug file arrives.
                    let next =
                        until.min(now.saturating_add(config.poll_interval.as_millis() as i64));
                    self.settle_sentry(
                        id,
                        index
                            .retry_sentry_event(id, row.attempts, next, "waiting for debug files")
                            .await,
                    );
                    return None;
                }
                self.send_to_sentry(client, config, &record).await
            }
            Ok(None) => {
                // Deleted by retention meanwhile.
                tracing::debug!(dump = %id, "dump gone before it was sent to Sentry");
                self.settle_sentry(id, index.forget_sentry_event(id).await);
                return None;
            }
            Err(IndexError::Other(err)) => (Verdict::Drop(err), None),
            Err(err) => {
                tracing::warn!(dump = %id, error = %err, "cannot read the dump for Sentry; trying later");
                return None;
            }
        };
        let attempts = row.attempts.saturating_add(1);
        match verdict {
            Verdict::Sent => {
                metrics.sentry_sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(dump = %id, event_id = %event_id_for_dump(id), attempts, "event sent to Sentry");
                self.settle_sentry(id, index.forget_sentry_event(id).await);
            }
            Verdict::Drop(error) => {
                metrics.sentry_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(dump = %id, attempts, error = %error, "Sentry refused the event; dropped");
                self.settle_sentry(id, index.forget_sentry_event(id).await);
            }
            Verdict::Retry { error, .. } if attempts >= i64::from(config.max_attempts) => {
                metrics.sentry_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(dump = %id, attempts, error = %error, "event not sent to Sentry after the last attempt; dropped");
                self.settle_sentry(id, index.forget_sentry_event(id).await);
            }
            Verdict::Retry { error, not_before } => {
                let wait = backoff(config, u32::try_from(attempts).unwrap_or(u32::MAX))
                    .max(not_before.unwrap_or_default());
                let next = now_ms().saturating_add(wait.as_millis() as i64);
                metrics.sentry_retried.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(dump = %id, attempts, retry_in_secs = wait.as_secs_f64(), error = %error, "Sentry delivery failed; will retry");
                self.settle_sentry(
                    id,
                    index
                        .retry_sentry_event(id, attempts, next, &clip(&error))
                        .await,
                );
            }
        }
        pause
    }

    fn settle_sentry(&self, dump_id: &str, result: Result<(), IndexError>) {
        match result {
            Ok(()) => self.inner.sentry.settle(dump_id),
            // Still held: released on close, or taken again when the lease ends.
            Err(err) => {
                tracing::warn!(dump = %dump_id, error = %err, "cannot update the Sentry outbox")
            }
        }
    }

    /// Builds the event of `record` and posts it once.
    async fn send_to_sentry(
        &self,
        client: &reqwest::Client,
        config: &SentryConfig,
        record: &DumpRecord,
    ) -> (Verdict, Option<Duration>) {
        let event = self.sentry_event(record).await;
        let body = encode_envelope(&config.dsn, SystemTime::now(), &event);
        let sent = client
            .post(config.dsn.envelope_url())
            .header(reqwest::header::CONTENT_TYPE, ENVELOPE_CONTENT_TYPE)
            .header("X-Sentry-Auth", config.dsn.auth_header())
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => {
                return (
                    Verdict::Retry {
                        error: describe(&err),
                        not_before: None,
                    },
                    None,
                );
            }
        };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = header("retry-after");
        let rate_limits = header("x-sentry-rate-limits");
        let status = response.status().as_u16();
        // A little of the body, for the log of a failure.
        let mut body = Vec::new();
        if !response.status().is_success() {
            while body.len() < 1024 {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    _ => break,
                }
            }
        }
        let verdict = verdict(
            status,
            retry_after.as_deref(),
            rate_limits.as_deref(),
            &String::from_utf8_lossy(&body),
        );
        // Rate limits may come with any reply, 429 or not.
        let pause = if status == 429 {
            Some(
                rate_limit(retry_after.as_deref(), rate_limits.as_deref())
                    .unwrap_or(DEFAULT_RATE_LIMIT),
            )
        } else {
            rate_limit(None, rate_limits.as_deref())
        };
        (verdict, pause)
    }

    /// The event of a stored dump, with instruction addresses from the debug
    /// files that are stored.
    pub async fn sentry_event(&self, record: &DumpRecord) -> Value {
        let wanted: BTreeSet<String> = record
            .stack
            .frames
            .iter()
            .filter_map(|f| f.build_id.clone())
            .collect();
        let symbols = self.symbols_for(&wanted).await;
        let addresses: HashMap<usize, u64> = record
            .stack
            .frames
            .iter()
            .filter_map(|frame| {
                let module = symbols.get(frame.build_id.as_ref()?)?;
                Some((
                    frame.index,
                    module.module_offset(frame.function_index, frame.code_offset)?,
                ))
            })
            .collect();
        build_event(record, &addresses, self.inner.config.public_url.as_deref())
    }
}

/// A request error with its causes (reqwest's own message is terse).
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        format!("timed out: {err}")
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    clip(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModuleInfo, SourceLocation, StackFrame, StackTrace};

    #[test]
    fn dsns() {
        let dsn = Dsn::parse("https://abc123@o1.ingest.sentry.io/42").unwrap();
        assert_eq!(dsn.public_key(), "abc123");
        assert_eq!(dsn.project_id(), "42");
        assert_eq!(
            dsn.envelope_url(),
            "https://o1.ingest.sentry.io/api/42/envelope/"
        );
        assert_eq!(
            dsn.auth_header(),
            format!(
                "Sentry sentry_version=7, sentry_client=coredump-collector/{}, sentry_key=abc123",
                env!("CARGO_PKG_VERSION")
            )
        );

        let dsn = Dsn::parse(" http://pub:sec@127.0.0.1:9000/sentry/relay/7 ").unwrap();
        assert_eq!(dsn.as_str(), "http://pub:sec@127.0.0.1:9000/sentry/relay/7");
        assert_eq!(
            dsn.envelope_url(),
            "http://127.0.0.1:9000/sentry/relay/api/7/envelope/"
        );
        assert!(
            dsn.auth_header()
                .ends_with(", sentry_key=pub, sentry_secret=sec")
        );
        // Keys stay out of Debug output.
        assert!(!format!("{dsn:?}").contains("sec"));

        let dsn: Dsn = "http://k@[::1]:8080/1".parse().unwrap();
        assert_eq!(dsn.envelope_url(), "http://[::1]:8080/api/1/envelope/");

        for bad in [
            "",
            "not a url",
            "ftp://k@host/1",
            "https://host/1",
            "https://k@/1",
            "https://k@host",
            "https://k@host/",
            "https://k@host/1/",
            "https://k@host/abc",
            "https://k@host/1?x=y",
            "https://k@host/1#frag",
            "https://k@host:99999/1",
        ] {
            let err = Dsn::parse(bad).expect_err(bad);
            assert!(err.to_string().starts_with("invalid Sentry DSN: "), "{err}");
        }
    }

    #[test]
    fn build_id_to_sentry_ids() {
        // lld's 16-byte id: the raw payload is 0x10 then the id.
        let id: Vec<u8> = (0..16u8).map(|i| 0xa0 + i).collect();
        assert_eq!(
            code_id_for_build_id(&id),
            "10a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
        );
        // 0x10 and the first 15 id bytes.
        assert_eq!(
            debug_id_for_build_id(&id),
            "10a0a1a2-a3a4-a5a6-a7a8-a9aaabacadae"
        );
        // A short id: zero-padded to 16 bytes.
        assert_eq!(code_id_for_build_id(&[0xde, 0xad]), "02dead");
        assert_eq!(
            debug_id_for_build_id(&[0xde, 0xad]),
            "02dead00-0000-0000-0000-000000000000"
        );
        // A 20-byte (SHA-1) id: length 0x14.
        let sha1 = [0x11u8; 20];
        assert_eq!(
            code_id_for_build_id(&sha1),
            format!("14{}", "11".repeat(20))
        );
        assert_eq!(
            debug_id_for_build_id(&sha1),
            "14111111-1111-1111-1111-111111111111"
        );
    }

    #[test]
    fn event_ids() {
        assert_eq!(
            event_id_for_dump("0190a1b2-c3d4-7e5f-8607-18293a4b5c6d"),
            "0190a1b2c3d47e5f860718293a4b5c6d"
        );
        let odd = event_id_for_dump("not-a-uuid");
        assert_eq!(odd.len(), 32);
        assert_eq!(odd, event_id_for_dump("not-a-uuid"));
    }

    #[test]
    fn envelope_lines() {
        let dsn = Dsn::parse("https://key@sentry.example/3").unwrap();
        let event = json!({"event_id": "0123456789abcdef0123456789abcdef", "message": "ünïcödé"});
        let sent_at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let bytes = encode_envelope(&dsn, sent_at, &event);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
        assert_eq!(lines.len(), 3, "{text}");
        let header: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(
            header,
            json!({
                "event_id": "0123456789abcdef0123456789abcdef",
                "dsn": "https://key@sentry.example/3",
                "sent_at": "2023-11-14T22:13:20.123Z",
            })
        );
        let item: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(item["type"], "event");
        assert_eq!(item["content_type"], "application/json");
        // Bytes, not characters.
        assert_eq!(item["length"], lines[2].len());
        assert!(lines[2].len() > lines[2].chars().count());
        assert_eq!(serde_json::from_str::<Value>(lines[2]).unwrap(), event);
    }

    #[test]
    fn replies() {
        assert_eq!(verdict(200, None, None, ""), Verdict::Sent);
        assert!(matches!(
            verdict(503, None, None, "busy"),
            Verdict::Retry {
                not_before: None,
                ..
            }
        ));
        assert!(matches!(
            verdict(408, None, None, ""),
            Verdict::Retry { .. }
        ));
        assert_eq!(
            verdict(429, Some("7"), None, ""),
            Verdict::Retry {
                error: "rate limited, 429".into(),
                not_before: Some(Duration::from_secs(7)),
            }
        );
        assert!(matches!(
            verdict(429, None, None, ""),
            Verdict::Retry { not_before: Some(d), .. } if d == DEFAULT_RATE_LIMIT
        ));
        assert_eq!(
            verdict(400, None, None, " bad envelope "),
            Verdict::Drop("refused with 400: bad envelope".into())
        );
        assert!(matches!(verdict(301, None, None, ""), Verdict::Drop(_)));
        assert!(matches!(verdict(413, None, None, ""), Verdict::Drop(_)));
    }

    #[test]
    fn rate_limits() {
        let secs = |s: u64| Some(Duration::from_secs(s));
        assert_eq!(rate_limit(Some("3"), None), secs(3));
        assert_eq!(rate_limit(None, Some("60:error:key")), secs(60));
        assert_eq!(rate_limit(None, Some("60::organization")), secs(60));
        // Only limits that cover events count.
        assert_eq!(rate_limit(None, Some("60:transaction:key")), None);
        assert_eq!(
            rate_limit(
                None,
                Some("60:transaction:key, 2:default;error:project:quota")
            ),
            secs(2)
        );
        // The longer of the two.
        assert_eq!(rate_limit(Some("5"), Some("2:error:key")), secs(5));
        assert_eq!(rate_limit(Some("junk"), None), None);
        assert_eq!(rate_limit(Some("999999"), None), Some(MAX_RATE_LIMIT));
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        let config = SentryConfig::new(Dsn::parse("https://k@h/1").unwrap());
        let waits: Vec<u64> = (1..=12).map(|a| backoff(&config, a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff(&config, u32::MAX), config.max_backoff);
    }

    fn location(
        function: &str,
        file: Option<&str>,
        line: u32,
        inlined: bool,
        in_app: bool,
    ) -> SourceLocation {
        SourceLocation {
            function: Some(function.into()),
            linkage_name: None,
            file: file.map(str::to_string),
            line: Some(line),
            column: Some(3),
            inlined,
            in_app,
        }
    }

    fn record() -> DumpRecord {
        let build_id = "c0".to_string() + &"11".repeat(14) + "1d";
        let frames = vec![
            StackFrame {
                index: 0,
                instance: 0,
                module: Some(0),
                module_name: Some("app.wasm".into()),
                build_id: Some(build_id.clone()),
                function_index: 7,
                code_offset: 12,
                symbolicated: true,
                // Innermost inlined first.
                locations: vec![
                    location("inner", Some("/src/app.c"), 10, true, true),
                    location("outer", Some("/src/app.c"), 20, false, true),
                ],
                note: None,
            },
            StackFrame {
                index: 1,
                instance: 0,
                module: Some(0),
                module_name: Some("app.wasm".into()),
                build_id: Some(build_id.clone()),
                function_index: 3,
                code_offset: 40,
                symbolicated: true,
                locations: vec![location("__main_void", None, 0, false, false)],
                note: None,
            },
            StackFrame {
                index: 2,
                instance: 1,
                module: Some(1),
                module_name: Some("lib.wasm".into()),
                build_id: None,
                function_index: 9,
                code_offset: 5,
                symbolicated: false,
                locations: Vec::new(),
                note: None,
            },
        ];
        DumpRecord {
            id: "0190a1b2-c3d4-7e5f-8607-18293a4b5c6d".into(),
            group_id: "ab".repeat(16),
            received_at: 1_700_000_000_123,
            size: 1,
            sha256: String::new(),
            stored: true,
            service: Some("checkout".into()),
            version: Some("1.4.2".into()),
            environment: Some("production".into()),
            trap_kind: "unreachable".into(),
            trap_message: "wasm trap: unreachable".into(),
            executable: Some("app.wasm".into()),
            symbolication: SymbolicationState::Partial,
            top_frame: String::new(),
            stack: StackTrace {
                thread: "main".into(),
                frames,
                state: SymbolicationState::Partial,
                missing_build_ids: Vec::new(),
            },
            values: Vec::new(),
            variables: None,
            modules: vec![
                ModuleInfo {
                    index: 0,
                    name: "app.wasm".into(),
                    build_id: Some(build_id),
                    path: None,
                    has_debug_file: true,
                },
                ModuleInfo {
                    index: 1,
                    name: "lib.wasm".into(),
                    build_id: None,
                    path: None,
                    has_debug_file: false,
                },
            ],
            context: json!({
                "service": "checkout",
                "version": "1.4.2",
                "environment": "production",
                "request": {
                    "method": "post",
                    "url": "https://shop.example/orders?id=7&token=abc#top",
                    "headers": [["Authorization", "Bearer x"], {"name": "Accept", "value": "*/*"}, ["X-Count", 3]],
                },
                "tags": {"region": "eu"},
                "capture": {"engine": "wasmtime 48", "host": "coredump-host 0.1.0"},
            }),
        }
    }

    #[test]
    fn event_mapping() {
        let dump = record();
        let addresses = HashMap::from([(0usize, 0x1234u64), (1, 0x2000)]);
        let event = build_event(&dump, &addresses, Some("https://collector.example/"));
        assert_eq!(event["event_id"], "0190a1b2c3d47e5f860718293a4b5c6d");
        assert_eq!(event["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(event["platform"], "native");
        assert_eq!(event["level"], "fatal");
        assert_eq!(event["release"], "checkout@1.4.2");
        assert_eq!(event["environment"], "production");
        assert_eq!(
            event["tags"],
            json!({"service": "checkout", "version": "1.4.2", "trap_kind": "unreachable"})
        );
        assert_eq!(event["fingerprint"], json!(["ab".repeat(16)]));
        let exception = &event["exception"]["values"][0];
        assert_eq!(exception["type"], "unreachable");
        assert_eq!(exception["value"], "wasm trap: unreachable");
        assert_eq!(
            exception["mechanism"],
            json!({"type": "wasm-coredump", "handled": false})
        );
        let frames = exception["stacktrace"]["frames"].as_array().unwrap();
        // Oldest first; inlined callees after their caller.
        let summary: Vec<(String, Option<u64>, bool, Option<String>)> = frames
            .iter()
            .map(|f| {
                (
                    f["function"].as_str().unwrap().to_string(),
                    f["lineno"].as_u64(),
                    f["in_app"].as_bool().unwrap(),
                    f["instruction_addr"].as_str().map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("func[9]".to_string(), None, true, None),
                (
                    "__main_void".to_string(),
                    None,
                    false,
                    Some("0x2000".to_string())
                ),
                (
                    "outer".to_string(),
                    Some(20),
                    true,
                    Some("0x1234".to_string())
                ),
                (
                    "inner".to_string(),
                    Some(10),
                    true,
                    Some("0x1234".to_string())
                ),
            ]
        );
        assert_eq!(frames[3]["addr_mode"], "rel:0");
        assert_eq!(frames[3]["package"], "app.wasm");
        assert_eq!(frames[3]["filename"], "/src/app.c");
        assert_eq!(frames[3]["colno"], 3);
        assert!(frames[0].get("addr_mode").is_none());
        assert_eq!(
            event["debug_meta"]["images"],
            json!([{
                "type": "wasm",
                "debug_id": "10c01111-1111-1111-1111-111111111111",
                "code_id": format!("10c0{}1d", "11".repeat(14)),
                "code_file": "app.wasm",
            }])
        );
        assert_eq!(
            event["request"],
            json!({
                "method": "POST",
                "url": "https://shop.example/orders",
                "query_string": "id=7&token=[scrubbed]",
                "fragment": "top",
                "headers": [["Authorization", "[scrubbed]"], ["Accept", "*/*"], ["X-Count", "3"]],
            })
        );
        let collector = &event["contexts"]["wasm_coredump"];
        assert_eq!(collector["type"], "default");
        assert_eq!(
            collector["url"],
            "https://collector.example/dumps/0190a1b2-c3d4-7e5f-8607-18293a4b5c6d"
        );
        assert_eq!(
            event["contexts"]["runtime"],
            json!({"type": "runtime", "name": "wasmtime", "version": "48"})
        );
        assert_eq!(event["extra"]["tags"], json!({"region": "eu"}));
        assert!(event["extra"].get("request").is_none());
    }

    #[test]
    fn names_relay_would_refuse_are_left_out() {
        let mut dump = record();
        dump.version = Some("feature/x".into());
        dump.environment = Some("prod/eu".into());
        let event = build_event(&dump, &HashMap::new(), None);
        assert!(event.get("release").is_none());
        assert!(event.get("environment").is_none());
        assert_eq!(event["tags"]["version"], "feature/x");
        assert_eq!(
            event["contexts"]["wasm_coredump"]["url"],
            "/dumps/0190a1b2-c3d4-7e5f-8607-18293a4b5c6d"
        );
        dump.service = None;
        dump.version = Some("2.0".into());
        assert_eq!(build_event(&dump, &HashMap::new(), None)["release"], "2.0");
    }

    #[test]
    fn long_stacks_keep_the_youngest_frames() {
        let mut dump = record();
        let template = dump.stack.frames[2].clone();
        dump.stack.frames = (0..MAX_FRAMES + 50)
            .map(|i| StackFrame {
                index: i,
                function_index: i as u32,
                ..template.clone()
            })
            .collect();
        let event = build_event(&dump, &HashMap::new(), None);
        let frames = event["exception"]["values"][0]["stacktrace"]["frames"]
            .as_array()
            .unwrap();
        assert_eq!(frames.len(), MAX_FRAMES);
        assert_eq!(frames.last().unwrap()["function"], "func[0]");
    }
}
