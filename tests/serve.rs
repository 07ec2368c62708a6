//! Serve mode end to end: an HTTP request crashes a module behind
//! `coredump-host serve`; the gateway answers 500 with the dump's id and
//! keeps serving; the dump reaches the collector with the request's context
//! (credentials scrubbed); and the collector's dump page, rendered by
//! headless Chromium, shows the manifest's backtrace.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use coredump_host::{ServeConfig, serve_on};
use crash_fixtures::Manifest;
use end_to_end::{CHROMIUM_HEADLESS, INGEST_TOKEN, Prepared, chromium, scratch, start_collector};
use serde_json::Value;

/// The page at `url` after Chromium has rendered it.
fn rendered_dom(url: &str, profile: &Path) -> String {
    let output = Command::new(chromium())
        .args(CHROMIUM_HEADLESS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_request_reaches_the_collector_and_its_web_ui() {
    let manifest = Manifest::load().expect("fixture manifest");
    let program = manifest.program("c-O0").expect("fixture program").clone();
    let mode = program
        .mode("divide-by-zero")
        .expect("fixture mode")
        .clone();
    let prepared = tokio::task::spawn_blocking(move || Prepared::new(&program))
        .await
        .expect("build steps");
    let (_keep, dir) = scratch("serve");

    let (collector, http) = start_collector(&dir, &prepared).await;

    // The route runs the instrumented module: its own dump, in the input's offsets.
    std::fs::write(dir.join("app.wasm"), prepared.instrumented_for(&mode)).expect("module");
    let routes = format!(
        r#"
[server]
coredump_dir = "{dumps}"
collector = "{collector}"
token = "{INGEST_TOKEN}"
timeout_ms = 20000
retry_interval_ms = 200

[[route]]
path = "/orders/..."
module = "app.wasm"
args = {args:?}
"#,
        dumps = dir.join("spool").display(),
        collector = collector.url(),
        args = mode.args,
    );
    let serve_config = ServeConfig::parse(&routes, &dir).expect("routes.toml");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let gateway = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(listener, serve_config, async move {
        let _ = stopped.await;
    }));

    // Two crashing requests: the second shows the gateway kept serving.
    let mut local_ids = Vec::new();
    for attempt in 0..2 {
        let response = http
            .post(format!(
                "{gateway}/orders/1042?page={attempt}&token=hunter2"
            ))
            .header("Authorization", "Bearer very-secret")
            .header("Cookie", "session=abc")
            .header("X-Request-Id", format!("req-{attempt}"))
            .body("{\"quantity\": 1000000000}")
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(response.status().as_u16(), 500, "request {attempt}");
        let body: Value = response.json().await.expect("500 body is JSON");
        assert_eq!(
            body["trap"],
            mode.trap
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default()
                .as_str()
        );
        let id = body["dump_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no dump id: {body}"))
            .to_string();
        local_ids.push(id);
    }
    assert_ne!(local_ids[0], local_ids[1], "each crash gets its own dump");

    // Both dumps arrive (delivery runs in the background).
    let deadline = Instant::now() + Duration::from_secs(60);
    let dumps = loop {
        let list: Value = http
            .get(format!("{}/api/v1/dumps", collector.url()))
            .send()
            .await
            .expect("collector answers")
            .json()
            .await
            .expect("dump list is JSON");
        let dumps = list.as_array().cloned().unwrap_or_default();
        if dumps.len() >= 2 {
            break dumps;
        }
        assert!(
            Instant::now() < deadline,
            "dumps did not reach the collector: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dumps.len(), 2, "one dump per crash, none twice");

    let id = dumps[0]["id"].as_str().expect("dump id").to_string();
    let dump: Value = http
        .get(format!("{}/api/v1/dumps/{id}", collector.url()))
        .send()
        .await
        .expect("collector answers")
        .json()
        .await
        .expect("dump is JSON");
    crash_fixtures::frames_match(&mode.frames, &crash_fixtures::record_in_app_frames(&dump))
        .unwrap_or_else(|e| panic!("{e}"));
    let capture = &dump["context"]["capture"];
    assert_eq!(capture["request.method"], "POST", "{capture}");
    let url = capture["request.url"]
        .as_str()
        .unwrap_or_else(|| panic!("no URL in {capture}"));
    assert!(url.starts_with("/orders/1042?page="), "{url}");
    assert!(
        !url.contains("hunter2"),
        "a secret query value reached the collector: {url}"
    );
    let context = dump["context"].to_string();
    for secret in ["very-secret", "session=abc", "hunter2"] {
        assert!(
            !context.contains(secret),
            "{secret} reached the collector: {context}"
        );
    }
    assert!(
        context.contains("req-"),
        "the request id header is kept: {context}"
    );

    // The dump page, as a browser shows it.
    let page_url = format!("{}/dumps/{id}", collector.url());
    let profile = dir.join("chromium-profile");
    let dom = tokio::task::spawn_blocking(move || rendered_dom(&page_url, &profile))
        .await
        .expect("chromium");
    for frame in &mode.frames {
        let line = format!("{}:{}", frame.file, frame.line);
        assert!(
            dom.contains(&frame.function),
            "{} not on the page:\n{dom}",
            frame.function
        );
        // The trapping frame's line may be off by one (see frames_match).
        if frame.function != mode.frames[0].function {
            assert!(dom.contains(&line), "{line} not on the page:\n{dom}");
        }
    }

    let _ = stop.send(());
    server
        .await
        .expect("gateway task")
        .expect("gateway shuts down cleanly");
    collector.stop().await;
}
