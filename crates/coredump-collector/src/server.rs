//! HTTP: the JSON API, the debuginfod-style symbol server, the web UI,
//! `/metrics` and `/healthz`.
//!
//! | method | path | access | what |
//! | --- | --- | --- | --- |
//! | POST | `/api/v1/dumps` | ingest | upload a dump (raw or multipart; gzip/zstd) |
//! | GET | `/api/v1/dumps` | read | dumps, newest first (`group`, `before`, `limit`) |
//! | GET | `/api/v1/dumps/{id}` | read | one dump: stack, values, context, links |
//! | GET | `/api/v1/dumps/{id}/raw` | read | the dump file |
//! | GET | `/api/v1/groups` | read | groups by last seen (`limit`, `offset`) |
//! | GET | `/api/v1/groups/{id}` | read | one group and its latest dumps |
//! | PUT | `/api/v1/debug-files/{build_id}` | ingest | upload a debug file |
//! | GET | `/api/v1/debug-files/{build_id}` | read | download it (symbol server) |
//! | GET | `/buildid/{build_id}/debuginfo` | read | the same, debuginfod's path |
//! | GET | `/api/v1/debug-files` | read | debug files |
//! | GET | `/`, `/groups/{id}`, `/dumps/{id}`, `/debug-files` | read | web UI |
//! | GET | `/metrics`, `/healthz` | open | Prometheus metrics, health |
//!
//! With [`Config::cors_origins`](crate::Config::cors_origins) set, pages on
//! those origins may upload dumps from a browser: CORS (and its `OPTIONS`
//! preflight) is on `POST /api/v1/dumps` and nowhere else, so reads, the UI
//! and debug-file uploads stay same-origin. See [`ingest_cors`].

use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

use crate::auth::{Access, Denied, TOKEN_COOKIE};
use crate::collector::{Collector, IngestRequest, parse_build_id_path};
use crate::error::Error;
use crate::ingest::{Encoding, UploadError, UploadMetadata, decode_body};
use crate::model::{DumpRecord, DumpSummary, GroupRecord};
use crate::ui;

/// An error as an HTTP reply: status plus `{"error": "…"}`.
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let status = match &err {
            Error::Upload(UploadError::TooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Upload(UploadError::UnsupportedMediaType(_)) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Error::Upload(UploadError::BadRequest(_)) => StatusCode::BAD_REQUEST,
            Error::InvalidDump(_) | Error::InvalidBuildId(_) => StatusCode::BAD_REQUEST,
            Error::InvalidDebugFile(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Gone(_) => StatusCode::GONE,
            Error::Index(_) | Error::Store(_) | Error::Config(_) | Error::Internal(_) => {
                tracing::error!(error = %err, "request failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        ApiError::new(status, err.to_string())
    }
}

impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        Error::from(err).into()
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Missing => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a token is required: send `Authorization: Bearer <token>`",
            ),
            Denied::Wrong => ApiError::new(
                StatusCode::FORBIDDEN,
                "this token is not valid for this endpoint",
            ),
            Denied::Limited(wait) => ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: "rate limit exceeded for this token".into(),
                retry_after: Some(wait),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn reject(collector: &Collector, reason: &'static str, err: impl Into<ApiError>) -> ApiError {
    collector.metrics().reject(reason);
    err.into()
}

fn reason_of(err: &Error) -> &'static str {
    match err {
        Error::Upload(UploadError::TooLarge(_)) => "too_large",
        Error::Upload(UploadError::UnsupportedMediaType(_)) => "unsupported_media_type",
        Error::Upload(UploadError::BadRequest(_)) => "bad_request",
        Error::InvalidDump(_) => "invalid_dump",
        Error::InvalidBuildId(_) | Error::InvalidDebugFile(_) => "invalid_debug_file",
        _ => "server_error",
    }
}

fn denied_reason(denied: &Denied) -> &'static str {
    match denied {
        Denied::Missing => "unauthorized",
        Denied::Wrong => "forbidden",
        Denied::Limited(_) => "rate_limited",
    }
}

/// Reads a body of at most `max` bytes; a larger one is 413.
///
/// Before answering 413 the rest of the body is read and discarded, up to
/// another `max` bytes and 10 seconds, so that ordinary clients (which send
/// the whole body before reading the reply) see the 413 instead of a reset
/// connection. Anything larger is cut off.
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, UploadError> {
    let too_large = || {
        UploadError::TooLarge(format!(
            "the request body is larger than the limit of {max} bytes"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = body;
    if declared.is_some_and(|length| length > max as u64) {
        drain(body, max).await;
        return Err(too_large());
    }
    let mut collected = Vec::with_capacity(declared.map_or(64 * 1024, |l| l as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| UploadError::BadRequest(format!("cannot read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > max {
                drain(body, max).await;
                return Err(too_large());
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.into())
}

async fn drain(mut body: Body, budget: usize) {
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.len();
                if seen > budget {
                    break;
                }
            }
        }
    })
    .await;
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The collector's own base URL: `--public-url`, else from `Host`.
pub fn base_url(collector: &Collector, headers: &HeaderMap) -> String {
    if let Some(url) = &collector.config().public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The response header an idempotent replay carries, readable by pages.
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(86_400);

/// CORS for the ingest endpoint, or `None` when no origin is configured.
///
/// Only what an upload needs: `POST` with the token in `Authorization` or
/// `X-Api-Key` (never cookies, so no credentials mode), the body's type and encoding,
/// and `Idempotency-Key`; pages may read `Idempotent-Replayed` and
/// `Retry-After` (the JS helper honours it on 429). The layer answers
/// preflights itself, before auth and rate limits, which run in the handler.
/// An origin that does not parse is left out (never matched) and logged;
/// [`Collector::open`] refuses it before a router is ever built.
pub fn ingest_cors(origins: &[String]) -> Option<CorsLayer> {
    let mut any = false;
    let mut list = Vec::new();
    for text in origins {
        match crate::config::parse_cors_origin(text) {
            Ok(origin) if origin == "*" => any = true,
            Ok(origin) => match HeaderValue::from_str(&origin) {
                Ok(value) => list.push(value),
                Err(_) => tracing::error!(origin, "CORS origin left out: not a header value"),
            },
            Err(err) => tracing::error!(error = %err, "CORS origin left out"),
        }
    }
    let allow_origin = if any {
        AllowOrigin::any()
    } else if !list.is_empty() {
        AllowOrigin::list(list)
    } else {
        return None;
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::CONTENT_ENCODING,
                HeaderName::from_static("idempotency-key"),
                // The other way to send the ingest token.
                HeaderName::from_static("x-api-key"),
            ])
            .expose_headers([IDEMPOTENT_REPLAYED, header::RETRY_AFTER])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

/// `OPTIONS /api/v1/dumps` is routed only so the CORS layer sees it; the
/// layer answers every preflight itself, so this runs for none.
async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Builds the router for a collector.
pub fn router(collector: Collector) -> Router {
    let max_body = collector
        .config()
        .limits
        .max_body
        .max(collector.config().limits.max_debug_file);
    // `route_layer` wraps the methods routed so far and not the fallback:
    // the CORS layer sees POST and OPTIONS, never GET.
    let dumps = match ingest_cors(&collector.config().cors_origins) {
        Some(cors) => {
            tracing::info!(origins = ?collector.config().cors_origins, "CORS on for uploads");
            post(ingest).options(preflight).route_layer(cors)
        }
        None => post(ingest),
    }
    .get(list_dumps);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/dumps", dumps)
        .route("/api/v1/dumps/{id}", get(get_dump))
        .route("/api/v1/dumps/{id}/raw", get(get_dump_raw))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{id}", get(get_group))
        .route("/api/v1/debug-files", get(list_debug_files))
        .route(
            "/api/v1/debug-files/{build_id}",
            get(get_debug_file).put(put_debug_file),
        )
        .route("/buildid/{build_id}/debuginfo", get(get_debug_file))
        .route("/", get(ui_groups))
        .route("/groups/{id}", get(ui_group))
        .route("/dumps/{id}", get(ui_dump))
        .route("/debug-files", get(ui_debug_files))
        .route("/login", get(ui_login_form).post(ui_login))
        .route("/logout", post(ui_logout))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        // A request cut off here was not acknowledged: the client retries it.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(300),
        ))
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG)),
        )
        .with_state(collector)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    index: String,
    store: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

async fn healthz(State(collector): State<Collector>) -> Response {
    let index = collector.index().ping().await;
    let store = collector.store().check().await;
    let error = match (&index, &store) {
        (Err(e), _) => Some(e.to_string()),
        (_, Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let status = if error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if error.is_none() { "ok" } else { "unavailable" },
        index: collector.index().describe().to_string(),
        store: collector.store().describe(),
        error,
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(collector): State<Collector>) -> Response {
    let gauges = collector.gauges().await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        collector.metrics().render(gauges),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct IngestQuery {
    service: Option<String>,
    version: Option<String>,
    environment: Option<String>,
}

async fn ingest(
    State(collector): State<Collector>,
    Query(query): Query<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let scope = collector
        .inner
        .auth
        .check(Access::Ingest, &headers, false)
        .map_err(|d| reject(&collector, denied_reason(&d), d))?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str() {
            Ok(key) if crate::ingest::valid_idempotency_key(key) => Some(key.to_string()),
            _ => {
                return Err(reject(
                    &collector,
                    "bad_request",
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    ),
                ));
            }
        },
    };
    let body = read_body(&headers, body, collector.config().limits.max_body)
        .await
        .map_err(|e| reject(&collector, reason_of(&Error::Upload(e.clone())), e))?;
    let request = IngestRequest {
        scope,
        idempotency_key,
        content_type: header_str(&headers, header::CONTENT_TYPE),
        content_encoding: header_str(&headers, header::CONTENT_ENCODING),
        body,
        query_metadata: UploadMetadata {
            service: query.service,
            version: query.version,
            environment: query.environment,
            ..UploadMetadata::default()
        },
    };
    match collector.ingest(request).await {
        Ok(ingested) => {
            let location = serde_json::from_str::<serde_json::Value>(&ingested.reply)
                .ok()
                .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_string));
            let mut response = (
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/json")],
                ingested.reply,
            )
                .into_response();
            if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            if ingested.replayed {
                response
                    .headers_mut()
                    .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
            }
            Ok(response)
        }
        Err(err) => {
            let reason = reason_of(&err);
            if reason != "server_error" {
                tracing::info!(error = %err, "upload rejected");
            }
            Err(reject(&collector, reason, err))
        }
    }
}

fn check_read(collector: &Collector, headers: &HeaderMap) -> ApiResult<()> {
    collector
        .inner
        .auth
        .check(Access::Read, headers, true)
        .map(|_| ())
        .map_err(ApiError::from)
}

#[derive(Deserialize, Default)]
struct ListQuery {
    group: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn limit_of(query: &ListQuery) -> i64 {
    query.limit.unwrap_or(50).clamp(1, 500)
}

async fn list_dumps(
    State(collector): State<Collector>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<DumpSummary>>> {
    check_read(&collector, &headers)?;
    let dumps = collector
        .index()
        .list_dumps(query.group.as_deref(), query.before, limit_of(&query))
        .await
        .map_err(Error::from)?;
    Ok(Json(dumps))
}

/// A dump with the links and commands the UI shows.
#[derive(Serialize)]
pub struct DumpView {
    #[serde(flatten)]
    pub record: DumpRecord,
    pub links: DumpLinks,
    /// The command that opens this dump in `wasmgdb`.
    pub wasmgdb_command: String,
}

#[derive(Serialize)]
pub struct DumpLinks {
    pub html: String,
    pub raw: Option<String>,
    pub group: String,
    /// Debug file URL per module build id (`None` when not uploaded yet).
    pub debug_files: Vec<DebugFileLink>,
    pub symbol_server: String,
}

#[derive(Serialize)]
pub struct DebugFileLink {
    pub module: String,
    pub build_id: String,
    pub url: Option<String>,
}

async fn dump_view(collector: &Collector, headers: &HeaderMap, id: &str) -> ApiResult<DumpView> {
    let (mut record, _) = collector
        .index()
        .dump(id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| ApiError::from(Error::NotFound(format!("dump {id}"))))?;
    let base = base_url(collector, headers);
    let ids: Vec<String> = record
        .modules
        .iter()
        .filter_map(|m| m.build_id.clone())
        .collect();
    let present = collector
        .index()
        .debug_files_present(&ids)
        .await
        .map_err(Error::from)?;
    for module in &mut record.modules {
        module.has_debug_file = module
            .build_id
            .as_ref()
            .is_some_and(|b| present.contains(b));
    }
    let debug_files = record
        .modules
        .iter()
        .filter_map(|m| {
            m.build_id.as_ref().map(|b| DebugFileLink {
                module: m.name.clone(),
                build_id: b.clone(),
                url: m
                    .has_debug_file
                    .then(|| format!("{base}/api/v1/debug-files/{b}")),
            })
        })
        .collect();
    let raw = record
        .stored
        .then(|| format!("{base}/api/v1/dumps/{}/raw", record.id));
    let module = record
        .modules
        .first()
        .map(|m| {
            let name = m.path.as_deref().unwrap_or(&m.name);
            name.rsplit(['/', '\\']).next().unwrap_or(name).to_string()
        })
        .filter(|n| !n.is_empty())
        .or_else(|| record.executable.clone())
        .unwrap_or_else(|| "app.wasm".into());
    let dump_arg = raw
        .clone()
        .unwrap_or_else(|| format!("dump-{}.wasm", record.id));
    let wasmgdb_command = format!(
        "wasmgdb --symbol-server {base}/ {} {}",
        shell_quote(&module),
        shell_quote(&dump_arg)
    );
    Ok(DumpView {
        links: DumpLinks {
            html: format!("{base}/dumps/{}", record.id),
            raw,
            group: format!("{base}/api/v1/groups/{}", record.group_id),
            debug_files,
            symbol_server: format!("{base}/"),
        },
        wasmgdb_command,
        record,
    })
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

async fn get_dump(
    State(collector): State<Collector>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<DumpView>> {
    check_read(&collector, &headers)?;
    Ok(Json(dump_view(&collector, &headers, &id).await?))
}

fn wasm_download(bytes: Bytes, file_name: &str) -> Response {
    let disposition = format!("attachment; filename=\"{file_name}\"");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/wasm"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn get_dump_raw(
    State(collector): State<Collector>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_read(&collector, &headers)?;
    if !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(Error::NotFound(format!("dump {id}")).into());
    }
    let bytes = collector.dump_bytes(&id).await?;
    Ok(wasm_download(bytes, &format!("dump-{id}.wasm")))
}

async fn list_groups(
    State(collector): State<Collector>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<GroupRecord>>> {
    check_read(&collector, &headers)?;
    let groups = collector
        .index()
        .list_groups(limit_of(&query), query.offset.unwrap_or(0).max(0))
        .await
        .map_err(Error::from)?;
    Ok(Json(groups))
}

#[derive(Serialize)]
struct GroupView {
    #[serde(flatten)]
    group: GroupRecord,
    dumps: Vec<DumpSummary>,
}

async fn get_group(
    State(collector): State<Collector>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<GroupView>> {
    check_read(&collector, &headers)?;
    let group = collector
        .index()
        .group(&id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| ApiError::from(Error::NotFound(format!("group {id}"))))?;
    let dumps = collector
        .index()
        .list_dumps(Some(&id), query.before, limit_of(&query))
        .await
        .map_err(Error::from)?;
    Ok(Json(GroupView { group, dumps }))
}

async fn list_debug_files(
    State(collector): State<Collector>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_read(&collector, &headers)?;
    let files = collector
        .index()
        .list_debug_files(limit_of(&query), query.offset.unwrap_or(0).max(0))
        .await
        .map_err(Error::from)?;
    Ok(Json(files).into_response())
}

async fn get_debug_file(
    State(collector): State<Collector>,
    Path(build_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_read(&collector, &headers)?;
    let hex = parse_build_id_path(&build_id)?;
    let bytes = collector.debug_file_bytes(&hex).await?;
    Ok(wasm_download(bytes, &format!("debug-{hex}.wasm")))
}

async fn put_debug_file(
    State(collector): State<Collector>,
    Path(build_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    collector
        .inner
        .auth
        .check(Access::Ingest, &headers, false)
        .map_err(|d| reject(&collector, denied_reason(&d), d))?;
    // Validate the id before reading a possibly large body.
    parse_build_id_path(&build_id).map_err(|e| reject(&collector, "invalid_debug_file", e))?;
    let max = collector.config().limits.max_debug_file;
    let body = read_body(&headers, body, max)
        .await
        .map_err(|e| reject(&collector, "too_large", e))?;
    let encoding = Encoding::from_header(
        headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    )?;
    let body = if encoding == Encoding::Identity {
        body
    } else {
        tokio::task::spawn_blocking(move || decode_body(body, encoding, max))
            .await
            .map_err(Error::from)??
    };
    match collector.put_debug_file(&build_id, body).await {
        Ok((record, created)) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(record)).into_response())
        }
        Err(err) => Err(reject(&collector, reason_of(&err), err)),
    }
}

// ---- web UI ----

/// Read access for a page: `Err` is the response to send instead (the login
/// form when a token is needed and none or a wrong one was sent).
fn check_page(collector: &Collector, headers: &HeaderMap, path: &str) -> Result<(), Box<Response>> {
    match collector.inner.auth.check(Access::Read, headers, true) {
        Ok(_) => Ok(()),
        Err(Denied::Limited(wait)) => Err(Box::new(
            ApiError::from(Denied::Limited(wait)).into_response(),
        )),
        Err(denied) => {
            let status = if denied == Denied::Missing {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            let message = (denied == Denied::Wrong).then_some("That token is not a read token.");
            Err(Box::new(
                (status, Html(ui::login_page(path, message))).into_response(),
            ))
        }
    }
}

fn page_error(err: ApiError) -> Response {
    let status = err.status;
    (status, Html(ui::error_page(status.as_u16(), &err.message))).into_response()
}

async fn ui_groups(
    State(collector): State<Collector>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = check_page(&collector, &headers, "/") {
        return *response;
    }
    let offset = query.offset.unwrap_or(0).max(0);
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    match collector.index().list_groups(limit, offset).await {
        Ok(groups) => Html(ui::groups_page(&groups, offset, limit)).into_response(),
        Err(err) => page_error(Error::from(err).into()),
    }
}

async fn ui_group(
    State(collector): State<Collector>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = check_page(&collector, &headers, &format!("/groups/{id}")) {
        return *response;
    }
    let group = match collector.index().group(&id).await {
        Ok(Some(group)) => group,
        Ok(None) => return page_error(Error::NotFound(format!("group {id}")).into()),
        Err(err) => return page_error(Error::from(err).into()),
    };
    match collector.index().list_dumps(Some(&id), None, 200).await {
        Ok(dumps) => Html(ui::group_page(&group, &dumps)).into_response(),
        Err(err) => page_error(Error::from(err).into()),
    }
}

async fn ui_dump(
    State(collector): State<Collector>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = check_page(&collector, &headers, &format!("/dumps/{id}")) {
        return *response;
    }
    match dump_view(&collector, &headers, &id).await {
        Ok(view) => {
            let group = collector
                .index()
                .group(&view.record.group_id)
                .await
                .ok()
                .flatten();
            Html(ui::dump_page(&view, group.as_ref())).into_response()
        }
        Err(err) => page_error(err),
    }
}

async fn ui_debug_files(State(collector): State<Collector>, headers: HeaderMap) -> Response {
    if let Err(response) = check_page(&collector, &headers, "/debug-files") {
        return *response;
    }
    let base = base_url(&collector, &headers);
    match collector.index().list_debug_files(500, 0).await {
        Ok(files) => Html(ui::debug_files_page(&files, &base)).into_response(),
        Err(err) => page_error(Error::from(err).into()),
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn ui_login_form(Query(query): Query<LoginQuery>) -> Html<String> {
    Html(ui::login_page(query.next.as_deref().unwrap_or("/"), None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

/// Only local paths are followed after login (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

async fn ui_login(State(collector): State<Collector>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    let token = form.token.trim();
    let valid = !token.is_empty()
        && token
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b';' && b != b',')
        && collector.inner.auth.is_read_token(token);
    if !valid {
        return (
            StatusCode::FORBIDDEN,
            Html(ui::login_page(
                &next,
                Some("That token is not a read token."),
            )),
        )
            .into_response();
    }
    let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn ui_logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("collector_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_redirects() {
        assert_eq!(
            shell_quote("http://h:1/api/v1/dumps/x/raw"),
            "http://h:1/api/v1/dumps/x/raw"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/dumps/1")), "/dumps/1");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
    }
}
