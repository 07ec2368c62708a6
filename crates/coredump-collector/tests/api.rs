//! The API suite, run against both backends: SQLite with a local store, and
//! PostgreSQL with a real S3-compatible server. Every dump is a real crash of
//! a fixture program captured by `coredump-host` on wasmtime.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::{Backend, BackendResources, FixtureDump, INGEST_TOKEN, READ_TOKEN};

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(base: String) -> Self {
        Api {
            base,
            http: support::client(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn post_dump(&self, body: Vec<u8>) -> reqwest::RequestBuilder {
        self.post_dump_as(INGEST_TOKEN, body)
    }

    fn post_dump_as(&self, token: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        self.http
            .post(self.url("/api/v1/dumps"))
            .bearer_auth(token)
            .header("content-type", "application/wasm")
            .body(body)
    }

    async fn upload(&self, body: Vec<u8>) -> Value {
        let response = self.post_dump(body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(READ_TOKEN)
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn put_debug_file(&self, id: &str, body: Vec<u8>) -> (StatusCode, String) {
        let response = self
            .http
            .put(self.url(&format!("/api/v1/debug-files/{id}")))
            .bearer_auth(INGEST_TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn wait_symbolicated(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let dump = self.json(&format!("/api/v1/dumps/{id}")).await;
            if dump["symbolication"] == "complete" {
                return dump;
            }
            assert!(
                Instant::now() < deadline,
                "dump {id} was not re-symbolicated: {dump}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn status_of(result: &reqwest::Response) -> StatusCode {
    result.status()
}

/// A module that is valid Wasm, has a build id, and no DWARF.
fn module_without_dwarf(build_id: &str) -> Vec<u8> {
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    let id = wasm_coredump::BuildId::parse(build_id).unwrap();
    wasm_coredump::append_custom_section(&mut wasm, "build_id", &id.to_section_payload());
    wasm
}

fn check_frames(what: &str, dump: &Value, fixture: &FixtureDump) {
    let frames = crash_fixtures::record_in_app_frames(dump);
    // The recursion of a stack overflow aside, the manifest lists the source frames from the trap down.
    crash_fixtures::frames_match(&fixture.expected, &frames)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

async fn suite(backend: Backend) {
    let abort = tokio::task::spawn_blocking(|| support::fixture("c-O0", "abort"))
        .await
        .unwrap();
    let divide = tokio::task::spawn_blocking(|| support::fixture("c-O0", "divide-by-zero"))
        .await
        .unwrap();
    let no_id =
        tokio::task::spawn_blocking(|| support::fixture_without_build_id("c-O0", "unreachable"))
            .await
            .unwrap();
    assert_eq!(abort.build_id, divide.build_id);

    let resources = BackendResources::new(backend).await;
    let mut config = resources.config();
    config.limits.max_body = 4 << 20;
    config.limits.max_dump = 4 << 20;
    let server = resources.start(config.clone()).await;
    let api = Api::new(server.url());
    let http = support::client();

    // ---- health ----
    let health = api.json("/healthz").await;
    assert_eq!(health["status"], "ok", "{health}");

    // ---- auth ----
    let r = http
        .post(api.url("/api/v1/dumps"))
        .header("content-type", "application/wasm")
        .body(abort.dump.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = api
        .post_dump_as(READ_TOKEN, abort.dump.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a read token cannot upload"
    );
    let r = api
        .post_dump_as("nope", abort.dump.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http.get(api.url("/api/v1/groups")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(api.url("/api/v1/groups"))
        .bearer_auth(INGEST_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "an ingest token cannot read"
    );
    let r = http
        .get(api.url("/api/v1/groups"))
        .header("x-api-key", READ_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // ---- rejected uploads store nothing ----
    let truncated = abort.dump[..abort.dump.len() / 2].to_vec();
    let r = api.post_dump(truncated).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "truncated dump");
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("offset"), "{body}");
    let r = api
        .post_dump(b"GIF89a not a dump".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "not wasm");
    let r = api.post_dump(abort.module.clone()).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a plain module is not a dump"
    );
    let r = http
        .post(api.url("/api/v1/dumps"))
        .bearer_auth(INGEST_TOKEN)
        .header("content-type", "text/plain")
        .body(abort.dump.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = http
        .post(api.url("/api/v1/dumps"))
        .bearer_auth(INGEST_TOKEN)
        .body(abort.dump.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "missing content type"
    );
    let r = api
        .post_dump(abort.dump.clone())
        .header("content-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unknown encoding"
    );
    let r = api
        .post_dump(vec![0u8; (4 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "oversized body");
    // A 64 MiB bomb that compresses to about 64 KiB.
    let bomb = support::gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    let r = api
        .post_dump(bomb)
        .header("content-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "decompression bomb"
    );
    let r = api
        .post_dump(b"\x1f\x8b garbage".to_vec())
        .header("content-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "corrupt gzip");
    let r = api
        .post_dump(abort.dump.clone())
        .header("idempotency-key", "bad key with spaces")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(api.json("/api/v1/dumps").await.as_array().unwrap().len(), 0);
    assert_eq!(
        resources.stored_dump_files(),
        0,
        "rejected uploads left files behind"
    );

    // ---- a dump before its debug file ----
    let first = api.upload(abort.dump.clone()).await;
    assert_eq!(first["new_group"], true);
    assert_eq!(first["symbolication"], "pending");
    let first_id = first["id"].as_str().unwrap().to_string();
    let index_group = first["group_id"].as_str().unwrap().to_string();
    let pending = api.json(&format!("/api/v1/dumps/{first_id}")).await;
    assert_eq!(
        pending["stack"]["missing_build_ids"][0],
        abort.build_id.as_str()
    );
    assert!(
        pending["top_frame"].as_str().unwrap().starts_with("func["),
        "{}",
        pending["top_frame"]
    );
    assert_eq!(resources.stored_dump_files(), 1);

    // ---- debug files ----
    let (status, text) = api
        .put_debug_file("..%2F..%2Fetc%2Fpasswd", abort.module.clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "path traversal: {text}");
    let (status, _) = api.put_debug_file("not-hex", abort.module.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, text) = api
        .put_debug_file("00112233445566778899aabbccddeeff", abort.module.clone())
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "wrong build id: {text}"
    );
    assert!(text.contains(&abort.build_id), "{text}");
    let (status, _) = api
        .put_debug_file(&abort.build_id, module_without_dwarf(&abort.build_id))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no DWARF");
    let (status, _) = api
        .put_debug_file(&abort.build_id, b"not wasm".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = http
        .put(api.url(&format!("/api/v1/debug-files/{}", abort.build_id)))
        .bearer_auth(READ_TOKEN)
        .body(abort.module.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(status_of(&r), StatusCode::FORBIDDEN);
    let (status, text) = api
        .put_debug_file(&abort.build_id, abort.module.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let (status, _) = api
        .put_debug_file(&abort.build_id.to_uppercase(), abort.module.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "replacing is allowed");
    for path in [
        format!("/api/v1/debug-files/{}", abort.build_id),
        format!("/buildid/{}/debuginfo", abort.build_id),
    ] {
        let r = api.get(&path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], "application/wasm");
        assert_eq!(r.bytes().await.unwrap().to_vec(), abort.module, "{path}");
    }
    assert_eq!(
        api.get("/api/v1/debug-files/00ff").await.status(),
        StatusCode::NOT_FOUND
    );
    let list = api.json("/api/v1/debug-files").await;
    assert_eq!(list[0]["build_id"], abort.build_id.as_str());
    assert_eq!(list[0]["size"], abort.module.len());

    // ---- re-symbolication moves the waiting dump to its symbolic group ----
    let first_dump = api.wait_symbolicated(&first_id).await;
    check_frames("re-symbolicated dump", &first_dump, &abort);
    let symbolic_group = first_dump["group_id"].as_str().unwrap().to_string();
    assert_ne!(symbolic_group, index_group);
    assert_eq!(
        api.get(&format!("/api/v1/groups/{index_group}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(first_dump["top_frame"], "fail_abort (crash.c:96)");

    // ---- symbolication at ingest; idempotency ----
    let second = api
        .post_dump(abort.dump.clone())
        .header("idempotency-key", "retry-1")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert!(second.headers().get("idempotent-replayed").is_none());
    let second_text = second.text().await.unwrap();
    let second: Value = serde_json::from_str(&second_text).unwrap();
    assert_eq!(second["group_id"], symbolic_group.as_str());
    assert_eq!(second["new_group"], false);
    assert_eq!(second["symbolication"], "complete");
    let replay = api
        .post_dump(abort.dump.clone())
        .header("idempotency-key", "retry-1")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(
        replay.text().await.unwrap(),
        second_text,
        "a retry gets the same reply"
    );
    let second_id = second["id"].as_str().unwrap().to_string();
    check_frames(
        "symbolicated at ingest",
        &api.json(&format!("/api/v1/dumps/{second_id}")).await,
        &abort,
    );

    // ---- multipart with metadata, gzip-encoded; a new group ----
    let metadata = serde_json::json!({
        "service": "checkout",
        "version": "1.4.2",
        "environment": "production",
        "request": {
            "method": "POST",
            "url": "/orders?id=7&token=hunter2-url",
            "headers": {
                "Authorization": "Bearer hunter2-auth",
                "Cookie": "session=hunter2-cookie",
                "X-Api-Key": "hunter2-key",
                "User-Agent": "test-agent/1.0"
            }
        },
        "tags": {"region": "eu-<script>"}
    });
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(metadata.to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "dump",
            reqwest::multipart::Part::bytes(divide.dump.clone()).file_name("crash.core.wasm"),
        );
    let boundary = form.boundary().to_string();
    let mut body = Vec::new();
    {
        use futures_util::StreamExt;
        let mut stream = form.into_stream();
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.unwrap());
        }
    }
    let r = http
        .post(api.url("/api/v1/dumps"))
        .bearer_auth(INGEST_TOKEN)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("content-encoding", "gzip")
        .body(support::gzip(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let third: Value = r.json().await.unwrap();
    assert_eq!(third["new_group"], true);
    let third_id = third["id"].as_str().unwrap().to_string();
    let divide_group = third["group_id"].as_str().unwrap().to_string();
    let third_dump = api.json(&format!("/api/v1/dumps/{third_id}")).await;
    check_frames("multipart dump", &third_dump, &divide);
    assert_eq!(third_dump["trap_kind"], "integer-divide-by-zero");
    assert_eq!(third_dump["service"], "checkout");
    assert_eq!(third_dump["version"], "1.4.2");
    assert_eq!(third_dump["environment"], "production");
    assert_eq!(
        third_dump["context"]["request"]["headers"]["User-Agent"],
        "test-agent/1.0"
    );
    assert_eq!(
        third_dump["context"]["request"]["headers"]["Authorization"],
        "[scrubbed]"
    );
    let text = third_dump.to_string();
    assert!(!text.contains("hunter2"), "a secret was stored: {text}");
    assert!(
        third_dump["wasmgdb_command"]
            .as_str()
            .unwrap()
            .starts_with("wasmgdb --symbol-server ")
    );

    // ---- zstd; a dump whose build id comes from the metadata ----
    let r = api
        .post_dump(zstd::encode_all(&abort.dump[..], 3).unwrap())
        .header("content-encoding", "zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let fourth: Value = r.json().await.unwrap();
    assert_eq!(fourth["group_id"], symbolic_group.as_str());
    let r = api.post_dump(no_id.dump.clone()).send().await.unwrap();
    let unidentified: Value = r.json().await.unwrap();
    assert_eq!(unidentified["symbolication"], "unavailable");
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(
                serde_json::json!({"modules": [{"index": 0, "build_id": abort.build_id}]})
                    .to_string(),
            ),
        )
        .part("dump", reqwest::multipart::Part::bytes(no_id.dump.clone()));
    let r = http
        .post(api.url("/api/v1/dumps"))
        .bearer_auth(INGEST_TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let identified: Value = r.json().await.unwrap();
    assert_eq!(identified["symbolication"], "complete", "{identified}");
    let identified_dump = api
        .json(&format!(
            "/api/v1/dumps/{}",
            identified["id"].as_str().unwrap()
        ))
        .await;
    check_frames("build id from metadata", &identified_dump, &no_id);

    // ---- downloads ----
    let r = api.get(&format!("/api/v1/dumps/{third_id}/raw")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        divide.dump,
        "stored bytes differ"
    );

    // ---- concurrent uploads keep counts exact ----
    let before = api.json(&format!("/api/v1/groups/{symbolic_group}")).await["count"]
        .as_i64()
        .unwrap();
    assert_eq!(before, 3);
    let uploads = (0..16).map(|_| {
        let request = api.post_dump(abort.dump.clone());
        async move { request.send().await.unwrap().status() }
    });
    for status in futures_util::future::join_all(uploads).await {
        assert_eq!(status, StatusCode::CREATED);
    }
    let group = api.json(&format!("/api/v1/groups/{symbolic_group}")).await;
    assert_eq!(group["count"], 19);
    assert_eq!(group["title"], "unreachable in fail_abort");
    assert_eq!(group["dumps"].as_array().unwrap().len(), 19);

    // ---- lists ----
    let groups = api.json("/api/v1/groups").await;
    let groups = groups.as_array().unwrap();
    let ids: Vec<&str> = groups.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&symbolic_group.as_str()) && ids.contains(&divide_group.as_str()),
        "{ids:?}"
    );
    let dumps = api
        .json(&format!("/api/v1/dumps?group={divide_group}"))
        .await;
    assert_eq!(dumps.as_array().unwrap().len(), 1);
    let page = api.json("/api/v1/dumps?limit=2").await;
    assert_eq!(page.as_array().unwrap().len(), 2);
    let before = page[1]["received_at"].as_i64().unwrap();
    let older = api
        .json(&format!("/api/v1/dumps?limit=500&before={before}"))
        .await;
    assert!(
        older
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["received_at"].as_i64().unwrap() < before)
    );

    // ---- UI pages and metrics ----
    let r = http.get(api.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text().await.unwrap().contains("name=\"token\""),
        "login form"
    );
    let page = api
        .get(&format!("/dumps/{third_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("divide"), "{page}");
    assert!(page.contains("eu-&lt;script&gt;"), "context is escaped");
    assert!(!page.contains("eu-<script>"));
    assert!(page.contains("wasmgdb --symbol-server"));
    let page = api.get("/").await.text().await.unwrap();
    assert!(page.contains("unreachable in fail_abort"));
    let metrics = http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("collector_dumps_received_total 22"),
        "{metrics}"
    );
    assert!(
        metrics.contains("collector_dumps_duplicate_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("collector_uploads_rejected_total{reason=\"too_large\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("collector_dumps_resymbolicated_total 1"),
        "{metrics}"
    );

    // ---- a second instance on the same index and store ----
    let other = resources.start(config.clone()).await;
    let other_api = Api::new(other.url());
    let from_other = other_api.json(&format!("/api/v1/dumps/{first_id}")).await;
    assert_eq!(from_other["group_id"], symbolic_group.as_str());
    let r = other_api
        .get(&format!("/api/v1/dumps/{first_id}/raw"))
        .await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), abort.dump);
    let r = other_api
        .post_dump(abort.dump.clone())
        .header("idempotency-key", "retry-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        second_text,
        "idempotency holds across instances"
    );

    // ---- retention: the per-group cap prunes files, counts stay exact ----
    let mut capped = config.clone();
    capped.retention.max_dumps_per_group = Some(5);
    let pruner = resources.start(capped).await;
    // (Its background pass may have done part of the work already.)
    let report = pruner.collector.run_retention().await.unwrap();
    assert!(report.pruned <= 14, "{report:?}");
    let group = api.json(&format!("/api/v1/groups/{symbolic_group}")).await;
    assert_eq!(group["count"], 19);
    let stored = group["dumps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["stored"] == true)
        .count();
    assert_eq!(stored, 5);
    let r = api.get(&format!("/api/v1/dumps/{first_id}/raw")).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(
        api.json(&format!("/api/v1/dumps/{first_id}")).await["stored"],
        false
    );
    pruner.stop().await;

    // ---- retention by age removes everything, groups included ----
    let mut expiring = config.clone();
    expiring.retention.max_age = Some(Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let expirer = resources.start(expiring).await;
    let report = expirer.collector.run_retention().await.unwrap();
    assert!(report.expired <= 22, "{report:?}");
    assert_eq!(
        api.json("/api/v1/groups").await.as_array().unwrap().len(),
        0
    );
    assert_eq!(api.json("/api/v1/dumps").await.as_array().unwrap().len(), 0);
    assert_eq!(resources.stored_dump_files(), 0);
    expirer.stop().await;

    other.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_suite_sqlite_and_local_store() {
    suite(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_suite_postgres_and_s3() {
    suite(Backend::PostgresS3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_per_token() {
    let abort = tokio::task::spawn_blocking(|| support::fixture("c-O0", "abort"))
        .await
        .unwrap();
    let resources = BackendResources::new(Backend::Embedded).await;
    let mut config = resources.config();
    config.ingest_tokens.push("second-ingest-token".into());
    config.rate_limit = coredump_collector::RateLimit {
        per_second: 0.5,
        burst: 2.0,
    };
    let server = resources.start(config).await;
    let api = Api::new(server.url());
    api.upload(abort.dump.clone()).await;
    api.upload(abort.dump.clone()).await;
    let r = api.post_dump(abort.dump.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Another token has its own budget.
    let r = api
        .post_dump_as("second-ingest-token", abort.dump.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    server.stop().await;
}

/// With a dump that has locals (guest-debug capture), the dump record carries
/// the top in-app frame's source variables, evaluated by the symbolication
/// crate, both when symbolicated at ingest and when re-symbolicated later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_of_the_top_in_app_frame() {
    let abort = tokio::task::spawn_blocking(|| support::fixture_with_locals("c-O0", "abort"))
        .await
        .unwrap();
    let resources = BackendResources::new(Backend::Embedded).await;
    let server = resources.start(resources.config()).await;
    let api = Api::new(server.url());
    let check = |dump: &Value| {
        let vars = &dump["variables"];
        let fail_abort = dump["stack"]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["locations"][0]["function"] == "fail_abort")
            .unwrap_or_else(|| panic!("no fail_abort frame: {dump}"));
        assert_eq!(vars["frame"], fail_abort["index"], "{vars}");
        let all: Vec<&Value> = vars["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["variables"].as_array().unwrap())
            .collect();
        let find = |name: &str| {
            all.iter()
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("no {name} in {vars}"))
        };
        assert_eq!(find("code")["value"], "60", "{vars}");
        assert!(
            find("reason")["value"]
                .as_str()
                .unwrap()
                .contains("\"widget\""),
            "{vars}"
        );
        assert_eq!(find("reason")["parameter"], true);
        // The raw Wasm locals of the trapping frame are kept too.
        assert!(
            !dump["values"].as_array().unwrap().is_empty(),
            "no raw values"
        );
    };
    // Re-symbolicated: the dump first, then its debug file.
    let first = api.upload(abort.dump.clone()).await;
    let (status, text) = api
        .put_debug_file(&abort.build_id, abort.module.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let dump = api.wait_symbolicated(first["id"].as_str().unwrap()).await;
    check(&dump);
    // Symbolicated at ingest.
    let second = api.upload(abort.dump.clone()).await;
    let dump = api
        .json(&format!("/api/v1/dumps/{}", second["id"].as_str().unwrap()))
        .await;
    check(&dump);
    let page = api
        .get(&format!("/dumps/{}", second["id"].as_str().unwrap()))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"variables\"") && page.contains("&quot;widget&quot;"),
        "{page}"
    );
    server.stop().await;
}

/// A Rust panic: the in-app frames start at the program's own function, past
/// the panic machinery in std (whose paths are under `/rustc/`), and the group
/// is named after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_panic_groups_by_the_programs_own_frames() {
    let panic = tokio::task::spawn_blocking(|| support::fixture("rust-debug", "unwrap-none"))
        .await
        .unwrap();
    let resources = BackendResources::new(Backend::Embedded).await;
    let server = resources.start(resources.config()).await;
    let api = Api::new(server.url());
    let (status, text) = api
        .put_debug_file(&panic.build_id, panic.module.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let reply = api.upload(panic.dump.clone()).await;
    assert_eq!(reply["symbolication"], "complete");
    let dump = api
        .json(&format!("/api/v1/dumps/{}", reply["id"].as_str().unwrap()))
        .await;
    check_frames("rust panic", &dump, &panic);
    let frames = dump["stack"]["frames"].as_array().unwrap();
    let first_in_app = frames.iter().position(|f| {
        f["locations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["in_app"] == true)
    });
    assert!(
        first_in_app.unwrap() > 0,
        "the panic machinery above the program's frame is not in-app"
    );
    let group = api
        .json(&format!(
            "/api/v1/groups/{}",
            reply["group_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(group["title"], "unreachable in crash::lookup", "{group}");
    server.stop().await;
}

/// `coredump-host`'s delivery client talks to the collector as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coredump_host_delivers_to_the_collector() {
    let abort = tokio::task::spawn_blocking(|| support::fixture("c-O0", "abort"))
        .await
        .unwrap();
    let resources = BackendResources::new(Backend::Embedded).await;
    let server = resources.start(resources.config()).await;
    let spool = tempfile::tempdir().unwrap();
    let path = spool.path().join("crash-1.core.wasm");
    std::fs::write(&path, &abort.dump).unwrap();
    let url = server.url();
    let receipts = tokio::task::spawn_blocking(move || {
        let collector = coredump_host::Collector::new(url, Some(INGEST_TOKEN.to_string()));
        // Twice: the second is a retry with the same idempotency key.
        let first = coredump_host::deliver(&collector, &path).expect("delivered");
        let second = coredump_host::deliver(&collector, &path).expect("delivered again");
        (first, second)
    })
    .await
    .unwrap();
    assert_eq!(receipts.0.status, 201);
    assert_eq!(
        receipts.0.body, receipts.1.body,
        "the retry is answered with the first reply"
    );
    let api = Api::new(server.url());
    assert_eq!(api.json("/api/v1/dumps").await.as_array().unwrap().len(), 1);
    server.stop().await;
}
