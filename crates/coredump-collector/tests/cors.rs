//! CORS on the ingest endpoint (`--cors-origin`): a page on another origin
//! may upload a dump with its token in `Authorization`, and nothing else of
//! the collector becomes readable cross-origin. The requests are the ones a
//! browser sends (preflight, then the upload, with `Origin`); the real
//! browser runs in tests/js_browser.rs at the workspace root.

mod support;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use support::{Backend, BackendResources, INGEST_TOKEN, READ_TOKEN};

use coredump_collector::{Config, RateLimit, RunningServer};

const APP: &str = "https://app.example";
const OTHER: &str = "https://evil.example";

/// A collector on the embedded backend with `cors_origins` and `rate_limit`.
async fn start(origins: &[&str], rate_limit: RateLimit) -> (BackendResources, RunningServer) {
    let resources = BackendResources::new(Backend::Embedded).await;
    let config = Config {
        cors_origins: origins.iter().map(|o| o.to_string()).collect(),
        rate_limit,
        ..resources.config()
    };
    let server = resources.start(config).await;
    (resources, server)
}

fn no_rate_limit() -> RateLimit {
    RateLimit {
        per_second: 0.0,
        burst: 1.0,
    }
}

async fn divide_by_zero_dump() -> Vec<u8> {
    tokio::task::spawn_blocking(|| support::fixture("c-O0", "divide-by-zero").dump)
        .await
        .unwrap()
}

/// The preflight a browser sends before `fetch(…/api/v1/dumps, {method:
/// 'POST', headers: {Authorization, 'Idempotency-Key', 'Content-Type'}})`.
async fn preflight(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    method: &str,
) -> reqwest::Response {
    http.request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, idempotency-key, content-type",
        )
        .send()
        .await
        .unwrap()
}

fn upload(
    http: &reqwest::Client,
    base: &str,
    origin: &str,
    token: Option<&str>,
    key: &str,
    dump: &[u8],
) -> reqwest::RequestBuilder {
    let request = http
        .post(format!("{base}/api/v1/dumps"))
        .header("origin", origin)
        .header("content-type", "application/wasm")
        .header("idempotency-key", key)
        .body(dump.to_vec());
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The comma-separated values of a header, lower-cased.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

fn assert_no_cors(what: &str, headers: &HeaderMap) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
        "access-control-allow-credentials",
    ] {
        assert!(
            headers.get(name).is_none(),
            "{what}: unexpected {name}: {headers:?}"
        );
    }
}

/// No origin is allowed to read this reply.
fn assert_not_allowed(what: &str, headers: &HeaderMap) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
    ] {
        assert!(
            headers.get(name).is_none(),
            "{what}: unexpected {name}: {headers:?}"
        );
    }
}

fn assert_preflight_allows(what: &str, response: &reqwest::Response, origin: &str) {
    assert!(
        response.status().is_success(),
        "{what}: preflight {}",
        response.status()
    );
    let headers = response.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        Some(origin),
        "{what}: {headers:?}"
    );
    assert_eq!(
        list(headers, "access-control-allow-methods"),
        ["post"],
        "{what}"
    );
    let allowed = list(headers, "access-control-allow-headers");
    for name in [
        "authorization",
        "content-type",
        "content-encoding",
        "idempotency-key",
        "x-api-key",
    ] {
        assert!(allowed.iter().any(|a| a == name), "{what}: {allowed:?}");
    }
    assert_eq!(
        header(headers, "access-control-max-age"),
        Some("86400"),
        "{what}"
    );
    // Tokens travel in Authorization, never in cookies.
    assert!(
        headers.get("access-control-allow-credentials").is_none(),
        "{what}: {headers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_may_upload_without_preflights_needing_a_token() {
    let dump = divide_by_zero_dump().await;
    // Two requests per token, then 429: preflights must not count, nor need a token.
    let (_resources, server) = start(
        &[APP, "http://127.0.0.1:8080"],
        RateLimit {
            per_second: 0.001,
            burst: 2.0,
        },
    )
    .await;
    let base = server.url();
    let dumps = format!("{base}/api/v1/dumps");
    let http = support::client();

    // Preflights: answered by the CORS layer, no token, no rate limit.
    for _ in 0..5 {
        let r = preflight(&http, &dumps, APP, "POST").await;
        assert_preflight_allows("preflight", &r, APP);
        assert!(
            list(r.headers(), "vary").iter().any(|v| v == "origin"),
            "{:?}",
            r.headers()
        );
    }
    let r = preflight(&http, &dumps, "http://127.0.0.1:8080", "POST").await;
    assert_preflight_allows("second origin", &r, "http://127.0.0.1:8080");

    // The upload itself carries the origin and exposes the replay header.
    let r = upload(&http, &base, APP, Some(INGEST_TOKEN), "cors-1", &dump)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(APP)
    );
    let exposed = list(r.headers(), "access-control-expose-headers");
    for name in ["idempotent-replayed", "retry-after"] {
        assert!(exposed.iter().any(|e| e == name), "{exposed:?}");
    }

    // A retry with the same key: the replay header, readable by the page.
    let r = upload(&http, &base, APP, Some(INGEST_TOKEN), "cors-1", &dump)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(r.headers(), "idempotent-replayed"), Some("true"));
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(APP)
    );

    // Refusals carry the origin too, so the page can read why.
    let r = upload(&http, &base, APP, None, "cors-2", &dump)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(APP)
    );
    let r = upload(&http, &base, APP, Some(INGEST_TOKEN), "cors-3", &dump)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(APP)
    );
    assert!(r.headers().get("retry-after").is_some());
    // The rate limit is spent, and preflights still pass.
    let r = preflight(&http, &dumps, APP, "POST").await;
    assert_preflight_allows("preflight after 429", &r, APP);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_origins_and_other_endpoints_get_no_cors() {
    let dump = divide_by_zero_dump().await;
    let (_resources, server) = start(&[APP], no_rate_limit()).await;
    let base = server.url();
    let dumps = format!("{base}/api/v1/dumps");
    let http = support::client();
    let r = upload(&http, &base, APP, Some(INGEST_TOKEN), "cors-1", &dump)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: serde_json::Value = r.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_string();

    // Another origin: neither the preflight nor the upload is allowed. (The
    // layer still lists methods and headers; without the origin a browser
    // refuses the request and the page cannot read the reply.)
    let r = preflight(&http, &dumps, OTHER, "POST").await;
    assert_not_allowed("preflight from another origin", r.headers());
    let r = upload(&http, &base, OTHER, Some(INGEST_TOKEN), "cors-4", &dump)
        .send()
        .await
        .unwrap();
    assert_not_allowed("upload from another origin", r.headers());

    // Reads, the UI and debug files stay same-origin, even for APP.
    for path in [
        "/api/v1/dumps".to_string(),
        format!("/api/v1/dumps/{id}"),
        format!("/api/v1/dumps/{id}/raw"),
        "/api/v1/groups".to_string(),
        "/api/v1/debug-files".to_string(),
        format!("/dumps/{id}"),
        "/".to_string(),
        "/healthz".to_string(),
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .header("origin", APP)
            .bearer_auth(READ_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        assert_no_cors(&format!("GET {path}"), r.headers());
    }
    let r = http.get(&dumps).header("origin", APP).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_no_cors("GET /api/v1/dumps without a token", r.headers());
    for (path, method) in [
        (format!("/api/v1/dumps/{id}"), "GET"),
        ("/api/v1/debug-files/00".to_string(), "PUT"),
        ("/".to_string(), "GET"),
    ] {
        let r = preflight(&http, &format!("{base}{path}"), APP, method).await;
        assert!(!r.status().is_success(), "OPTIONS {path}: {}", r.status());
        assert_no_cors(&format!("OPTIONS {path}"), r.headers());
    }
    let r = http
        .put(format!("{base}/api/v1/debug-files/00"))
        .header("origin", APP)
        .bearer_auth(INGEST_TOKEN)
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_no_cors("PUT /api/v1/debug-files", r.headers());

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_allows_any_origin() {
    let dump = divide_by_zero_dump().await;
    let (_resources, server) = start(&["*"], no_rate_limit()).await;
    let base = server.url();
    let dumps = format!("{base}/api/v1/dumps");
    let http = support::client();
    for origin in [APP, OTHER, "http://localhost:3000"] {
        let r = preflight(&http, &dumps, origin, "POST").await;
        assert_preflight_allows(origin, &r, "*");
        let r = upload(&http, &base, origin, Some(INGEST_TOKEN), origin, &dump)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{origin}");
        assert_eq!(
            header(r.headers(), "access-control-allow-origin"),
            Some("*")
        );
    }
    let r = http
        .get(&dumps)
        .header("origin", APP)
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_no_cors("GET /api/v1/dumps", r.headers());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default() {
    let resources = BackendResources::new(Backend::Embedded).await;
    assert!(
        Config::embedded(resources.dir.path())
            .cors_origins
            .is_empty()
    );
    assert!(resources.config().cors_origins.is_empty());
    let dump = divide_by_zero_dump().await;
    let server = resources.start(resources.config()).await;
    let base = server.url();
    let http = support::client();

    // No preflight route: as before, OPTIONS is not an allowed method.
    let r = preflight(&http, &format!("{base}/api/v1/dumps"), APP, "POST").await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_no_cors("preflight", r.headers());
    let r = upload(&http, &base, APP, Some(INGEST_TOKEN), "off-1", &dump)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_no_cors("upload", r.headers());
    assert!(r.headers().get("vary").is_none(), "{:?}", r.headers());
    server.stop().await;
}

/// A library user's config is checked as the binary's flags are: a bad
/// origin stops the collector from opening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_origin_is_refused_at_open() {
    let resources = BackendResources::new(Backend::Embedded).await;
    let mut config = resources.config();
    config.cors_origins = vec![APP.to_string(), "app.example/path".to_string()];
    match coredump_collector::Collector::open(config).await {
        Err(coredump_collector::Error::Config(message)) => {
            assert!(message.contains("app.example/path"), "{message}")
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a collector opened with an invalid CORS origin"),
    }
}
