//! The web UI in a real browser: headless Chromium driven over WebDriver
//! (chromedriver + fantoccini) against a collector on 127.0.0.1. Signs in
//! with a read token, walks the group list, a group and dump pages, checks
//! the backtrace against the fixture manifest and saves a screenshot of each
//! page under `tests/screenshots/`.
//!
//! Chromium and chromedriver come from Debian (`chromium`, `chromium-driver`);
//! they are installed when missing and the tests run as root. If they cannot
//! be had the test fails, saying so.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::Value;
use support::{Backend, BackendResources, INGEST_TOKEN, READ_TOKEN};

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .chain([
            PathBuf::from("/usr/bin").join(name),
            PathBuf::from("/usr/lib/chromium").join(name),
        ])
        .find(|p| p.is_file())
}

fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let chromium = which("chromium").or_else(|| which("chromium-browser"))?;
    let driver = which("chromedriver")?;
    Some((chromium, driver))
}

/// Chromium and chromedriver, installed from Debian when missing.
fn ensure_browser() -> (PathBuf, PathBuf) {
    if let Some(found) = browser_binaries() {
        return found;
    }
    eprintln!("ui test: installing Debian's chromium and chromium-driver");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let installed =
        apt(&["update", "-qq"]) && apt(&["install", "-y", "-qq", "chromium", "chromium-driver"]);
    browser_binaries().unwrap_or_else(|| {
        panic!(
            "the web UI test needs Chromium and chromedriver, and they could not be installed \
             (apt-get install chromium chromium-driver {}); this test does not pass without a browser",
            if installed { "succeeded but the binaries are missing" } else { "failed" }
        )
    })
}

struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(binary: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    let dir = crash_fixtures::repo_root().join("crates/coredump-collector/tests/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    dir
}

async fn upload(request: reqwest::RequestBuilder) -> Value {
    let response = request.bearer_auth(INGEST_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[test]
fn web_ui_in_headless_chromium() {
    let (chromium, chromedriver) = ensure_browser();
    let abort = support::fixture_with_locals("c-O0", "abort");
    let divide = support::fixture("c-O0", "divide-by-zero");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let resources = BackendResources::new(Backend::Embedded).await;
        let server = resources.start(resources.config()).await;
        let base = server.url();
        let http = support::client();

        // Data: a symbolicated crash with locals, and one with request context.
        let response = http
            .put(format!("{base}/api/v1/debug-files/{}", abort.build_id))
            .bearer_auth(INGEST_TOKEN)
            .body(abort.module.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let mut first = Value::Null;
        for _ in 0..3 {
            first = upload(
                http.post(format!("{base}/api/v1/dumps?service=checkout&version=1.4.2&environment=production"))
                    .header("content-type", "application/wasm")
                    .body(abort.dump.clone()),
            )
            .await;
        }
        let metadata = serde_json::json!({
            "service": "billing",
            "request": {"method": "POST", "url": "/invoices/17",
                        "headers": {"Authorization": "Bearer do-not-store", "User-Agent": "<script>alert(1)</script>"}}
        });
        let form = reqwest::multipart::Form::new()
            .part("metadata", reqwest::multipart::Part::text(metadata.to_string()))
            .part("dump", reqwest::multipart::Part::bytes(divide.dump.clone()));
        let second = upload(http.post(format!("{base}/api/v1/dumps")).multipart(form)).await;
        let abort_id = first["id"].as_str().unwrap().to_string();
        let abort_group = first["group_id"].as_str().unwrap().to_string();
        let divide_id = second["id"].as_str().unwrap().to_string();

        let driver = Driver::start(&chromedriver);
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "chrome".into());
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1600",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let browser = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .expect("a WebDriver session with headless Chromium");
        let shots = screenshots_dir();
        let shoot = |name: &'static str| {
            let browser = browser.clone();
            let path = shots.join(name);
            async move {
                let png = browser.screenshot().await.expect("screenshot");
                std::fs::write(&path, png).expect("write screenshot");
            }
        };

        // Sign in: the read token becomes a cookie.
        browser.goto(&format!("{base}/")).await.unwrap();
        let token = browser.find(Locator::Css("input[name=token]")).await.expect("login form");
        shoot("login.png").await;
        token.send_keys(READ_TOKEN).await.unwrap();
        browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();

        // Group list.
        // After a click the next page loads asynchronously: wait for it.
        let groups = browser
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id("groups"))
            .await
            .expect("group table after sign-in");
        let text = groups.text().await.unwrap();
        assert!(text.contains("unreachable in fail_abort"), "{text}");
        assert!(text.contains("integer-divide-by-zero in divide"), "{text}");
        shoot("groups.png").await;

        // Group page.
        browser
            .find(Locator::Css(&format!("a[href='/groups/{abort_group}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let count = browser
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id("count"))
            .await
            .expect("group page")
            .text()
            .await
            .unwrap();
        assert_eq!(count.trim(), "3");
        shoot("group.png").await;

        // Dump page: the backtrace is the manifest's, in order.
        browser
            .find(Locator::Css(&format!("a[href='/dumps/{abort_id}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let backtrace = browser
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id("backtrace"))
            .await
            .expect("dump page")
            .text()
            .await
            .unwrap();
        let mut at = 0;
        for frame in &abort.expected {
            let needle = format!("{} at ", frame.function);
            let found = backtrace[at..]
                .find(&needle)
                .unwrap_or_else(|| panic!("frame {} missing or out of order in:\n{backtrace}", frame.function));
            at += found + needle.len();
            let line = format!("{}:{}", frame.file, frame.line);
            assert!(backtrace.contains(&line), "{line} missing in:\n{backtrace}");
        }
        let variables = browser.find(Locator::Id("variables")).await.unwrap().text().await.unwrap();
        assert!(variables.contains("reason") && variables.contains("\"widget\""), "{variables}");
        let command = browser.find(Locator::Id("wasmgdb")).await.unwrap().text().await.unwrap();
        assert!(command.starts_with(&format!("wasmgdb --symbol-server {base}/ crash-O0.wasm {base}/api/v1/dumps/")), "{command}");
        shoot("dump.png").await;

        // The other dump: request context, scrubbed and shown as text.
        browser.goto(&format!("{base}/dumps/{divide_id}")).await.unwrap();
        let context = browser.find(Locator::Id("context")).await.unwrap().text().await.unwrap();
        assert!(context.contains("<script>alert(1)</script>"), "markup shows as text: {context}");
        assert!(context.contains("[scrubbed]") && !context.contains("do-not-store"), "{context}");
        let title = browser.find(Locator::Id("title")).await.unwrap().text().await.unwrap();
        assert!(title.starts_with("integer-divide-by-zero"), "{title}");
        shoot("dump-context.png").await;

        browser.goto(&format!("{base}/debug-files")).await.unwrap();
        let files = browser.find(Locator::Id("debug-files")).await.unwrap().text().await.unwrap();
        assert!(files.contains(&abort.build_id), "{files}");
        shoot("debug-files.png").await;

        browser.close().await.unwrap();
        drop(driver);
        server.stop().await;
    });
}
