//! The JS helper (`js/coredump`) in a real browser: headless Chromium loads
//! a page (js/runtimes/browser) from one origin that runs an instrumented
//! fixture with plain `WebAssembly.instantiate`, catches its trap and sends
//! the dump with `recordCoredump` to a collector on another origin, which
//! allows the page's origin with `--cors-origin`.
//!
//! Every crash mode of c-O0 must arrive symbolicated as the fixture manifest
//! says, with the helper's context and Chromium's user agent. The same page
//! against a collector that does not list its origin (CORS off, or another
//! origin allowed) must fail to upload and store nothing: CORS is what makes
//! the upload work.
//!
//! The page is served by a small static server in this file, on its own
//! port: another origin than the collector's.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use coredump_collector::RunningServer;
use crash_fixtures::{Manifest, Mode};
use end_to_end::{
    Api, CHROMIUM_HEADLESS, INGEST_TOKEN, Prepared, check_dump, chromium, scratch,
    start_collector_with,
};
use serde_json::{Value, json};

/// How long one page may take, load to upload.
const PAGE_TIMEOUT: Duration = Duration::from_secs(120);

// ---- the page's origin: a static server ----

/// Which `hold` names have been released by their page.
#[derive(Default)]
struct Holds {
    released: Mutex<HashSet<String>>,
    changed: Condvar,
}

/// Serves one directory on 127.0.0.1, plus the page's load-event hold:
/// `hold.gif?run=NAME` is answered only once `release?run=NAME` was fetched.
struct StaticServer {
    origin: String,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl StaticServer {
    fn start(root: PathBuf) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("static server listens");
        let port = listener.local_addr().expect("address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let holds = Arc::new(Holds::default());
        let root = Arc::new(root);
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, holds) = (root.clone(), holds.clone());
                std::thread::spawn(move || serve_one(stream, &root, &holds));
            }
        });
        StaticServer {
            origin: format!("http://127.0.0.1:{port}"),
            stop,
            port,
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn serve_one(mut stream: TcpStream, root: &Path, holds: &Holds) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request);
    let target = request
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("GET "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let run = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("run="))
        .unwrap_or("")
        .to_string();
    match path {
        "/hold.gif" => {
            let deadline = Instant::now() + PAGE_TIMEOUT;
            let mut released = holds.released.lock().unwrap_or_else(|p| p.into_inner());
            while !released.contains(&run) && Instant::now() < deadline {
                released = holds
                    .changed
                    .wait_timeout(released, Duration::from_millis(500))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            drop(released);
            respond(&mut stream, "204 No Content", "image/gif", b"");
        }
        "/release" => {
            holds
                .released
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(run);
            holds.changed.notify_all();
            respond(&mut stream, "204 No Content", "text/plain", b"");
        }
        _ => {
            let name = path.trim_start_matches('/');
            let name = if name.is_empty() { "index.html" } else { name };
            let file = (!name.contains('/') && !name.contains(".."))
                .then(|| std::fs::read(root.join(name)).ok())
                .flatten();
            match file {
                Some(body) => respond(&mut stream, "200 OK", content_type(name), &body),
                None => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
            }
        }
    }
}

/// The page's directory: the page, its script, the helper and MiniWasi
/// copied next to it, and one instrumented module per crash mode.
fn stage_page(dir: &Path, prepared: &Prepared) {
    let js = crash_fixtures::repo_root().join("js");
    std::fs::create_dir_all(dir).expect("page dir");
    for (from, to) in [
        ("runtimes/browser/index.html", "index.html"),
        ("runtimes/browser/run.js", "run.js"),
        ("runtimes/mini-wasi.js", "mini-wasi.js"),
        ("coredump/index.js", "coredump.js"),
    ] {
        let from = js.join(from);
        std::fs::copy(&from, dir.join(to)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    for mode in &prepared.program.modes {
        std::fs::write(
            dir.join(format!("{}.wasm", mode.mode)),
            prepared.instrumented_for(mode),
        )
        .expect("write module");
    }
}

// ---- Chromium ----

/// What Chromium printed for one page.
struct Rendered {
    dom: String,
    stderr: String,
}

/// Loads `url` in a fresh headless Chromium and returns the DOM at the load
/// event (which the page holds until its upload is over).
fn render(chromium: &Path, url: &str, profile: &Path) -> Rendered {
    let mut child = Command::new(chromium)
        .args(CHROMIUM_HEADLESS)
        .args([
            // Console messages (the CORS refusal) on stderr.
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{} does not run ({e}): scripts/test.sh installs chromium",
                chromium.display()
            )
        });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + PAGE_TIMEOUT + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium status") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish {url}: {}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let rendered = Rendered {
        dom: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    assert!(
        status.success(),
        "chromium failed on {url} ({status}): {}",
        rendered.stderr
    );
    rendered
}

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The JSON the page wrote into `#result`.
fn outcome(what: &str, rendered: &Rendered) -> Value {
    let dom = &rendered.dom;
    let text = dom
        .find("id=\"result\"")
        .and_then(|at| dom[at..].find('>').map(|gt| at + gt + 1))
        .and_then(|start| {
            dom[start..]
                .find("</pre>")
                .map(|end| &dom[start..start + end])
        })
        .unwrap_or_else(|| {
            panic!(
                "{what}: no #result in the page:\n{dom}\n{}",
                rendered.stderr
            )
        });
    let text = unescape_html(text);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{what}: the page did not finish ({e}): {text}\n{}",
            rendered.stderr
        )
    })
}

/// Runs the page once: crash `mode` and upload to `collector`.
async fn run_page(
    chromium: &Path,
    page: &StaticServer,
    profiles: &Path,
    mode: &Mode,
    collector: &str,
) -> (Value, Rendered) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::SeqCst);
    let url = format!(
        "{}/index.html?mode={m}&wasm={m}.wasm&collector={collector}&token={INGEST_TOKEN}&hold=run{run}",
        page.origin,
        m = mode.mode,
    );
    let profile = profiles.join(format!("profile-{run}"));
    let chromium = chromium.to_path_buf();
    let what = format!("{} (run {run})", mode.mode);
    let rendered = tokio::task::spawn_blocking(move || render(&chromium, &url, &profile))
        .await
        .expect("chromium thread");
    (outcome(&what, &rendered), rendered)
}

// ---- the collector ----

/// A collector like `end_to_end::start_collector`'s (embedded, ingest token,
/// open reads, the fixture's debug file) that allows `cors_origins`.
async fn start_collector(
    dir: &Path,
    prepared: &Prepared,
    cors_origins: &[&str],
) -> (RunningServer, Api) {
    let (server, http) = start_collector_with(dir, prepared, |config| {
        config.cors_origins = cors_origins.iter().map(|o| o.to_string()).collect();
    })
    .await;
    let api = Api {
        url: server.url(),
        http,
    };
    (server, api)
}

/// Waits until the collector lists dump `id`, then returns its record.
async fn wait_for_dump(api: &Api, id: &str, what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !api.dump_ids().await.iter().any(|d| d == id) {
        assert!(
            Instant::now() < deadline,
            "{what}: the collector does not list dump {id}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.dump(&json!({ "id": id })).await
}

/// The metadata the page's recordCoredump call sent.
fn check_context(what: &str, dump: &Value, user_agent: &str) -> Result<(), String> {
    let context = &dump["context"];
    let fail = |message: String| Err(format!("{what}: {message}; context {context}"));
    if dump["service"] != "browser-e2e" || context["service"] != "browser-e2e" {
        return fail(format!("service {}", dump["service"]));
    }
    if dump["environment"] != "test" {
        return fail(format!("environment {}", dump["environment"]));
    }
    if context["trigger"] != "manual" {
        return fail(format!("trigger {}", context["trigger"]));
    }
    if context["error"]["message"]
        .as_str()
        .is_none_or(|m| m.is_empty())
    {
        return fail("no error message".into());
    }
    let runtime = context["runtime"].as_str().unwrap_or("");
    if !runtime.contains("Chrome/") || runtime != user_agent {
        return fail(format!(
            "runtime {runtime:?} is not the page's user agent {user_agent:?}"
        ));
    }
    let build_id = context["modules"][0]["build_id"].as_str().unwrap_or("");
    let matches = dump["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["build_id"] == build_id);
    if build_id.is_empty() || !matches {
        return fail(format!(
            "the helper's build id hint {build_id:?} is not the module's: {}",
            dump["modules"]
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_uploads_every_crash_of_c_o0_across_origins() {
    let chromium = chromium();
    let manifest = Manifest::load().expect("fixture manifest");
    let program = manifest.program("c-O0").expect("fixture program").clone();
    let prepared = tokio::task::spawn_blocking(move || Prepared::new(&program))
        .await
        .expect("build steps");
    let (_keep, dir) = scratch("js-browser");
    let page_dir = dir.join("page");
    stage_page(&page_dir, &prepared);
    let page = StaticServer::start(page_dir);
    let profiles = dir.join("chromium");

    // The page's origin is allowed: every crash arrives.
    let (server, api) = start_collector(&dir.join("allowed"), &prepared, &[&page.origin]).await;
    let program = &prepared.program;
    let mut failures = Vec::new();
    let mut ids = Vec::new();
    for mode in program.modes.iter().filter(|m| m.crashes()) {
        let what = format!("{} {} (chromium)", program.id, mode.mode);
        let (outcome, rendered) = run_page(&chromium, &page, &profiles, mode, &server.url()).await;
        assert_eq!(outcome["state"], "done", "{what}: {outcome}");
        assert!(
            outcome["trap"]["name"].as_str().is_some(),
            "{what}: the module did not trap: {outcome}"
        );
        let Some(id) = outcome["id"].as_str() else {
            panic!("{what}: nothing recorded: {outcome}\n{}", rendered.stderr);
        };
        assert_eq!(outcome["errors"], json!([]), "{what}");
        let dump = wait_for_dump(&api, id, &what).await;
        if let Err(e) = check_dump(&what, &dump, mode, program.optimized) {
            failures.push(e);
        }
        let user_agent = outcome["userAgent"].as_str().unwrap_or("");
        if let Err(e) = check_context(&what, &dump, user_agent) {
            failures.push(e);
        }
        ids.push(id.to_string());
    }
    let mut stored = api.dump_ids().await;
    stored.sort();
    ids.sort();
    assert_eq!(stored, ids, "one dump per crash, none twice");

    // A run that exits records nothing.
    let ok = program.mode("ok").expect("ok mode");
    let (outcome, _) = run_page(&chromium, &page, &profiles, ok, &server.url()).await;
    assert_eq!(outcome["state"], "done", "ok run: {outcome}");
    assert_eq!(outcome["status"], 0, "ok run: {outcome}");
    assert_eq!(
        api.dump_ids().await.len(),
        ids.len(),
        "the ok run sent a dump"
    );
    server.stop().await;

    // The same page against collectors that do not allow its origin: the
    // browser refuses the upload after the preflight, nothing is stored.
    let mode = program.mode("divide-by-zero").expect("fixture mode");
    for (name, origins) in [
        ("cors-off", &[][..]),
        ("other-origin", &["https://app.example"][..]),
    ] {
        let what = format!("{} {} (chromium, collector {name})", program.id, mode.mode);
        let (server, api) = start_collector(&dir.join(name), &prepared, origins).await;
        let (outcome, rendered) = run_page(&chromium, &page, &profiles, mode, &server.url()).await;
        assert_eq!(outcome["state"], "done", "{what}: {outcome}");
        assert!(
            outcome["trap"]["name"].as_str().is_some(),
            "{what}: the module did not trap: {outcome}"
        );
        assert_eq!(
            outcome["id"],
            Value::Null,
            "{what}: the upload worked: {outcome}"
        );
        let error = outcome["errors"][0].as_str().unwrap_or("");
        assert!(
            error.starts_with("cannot reach the collector") && error.contains("--cors-origin"),
            "{what}: the helper's error: {outcome}"
        );
        assert!(
            rendered.stderr.contains("blocked by CORS policy"),
            "{what}: Chromium did not report a CORS refusal:\n{}",
            rendered.stderr
        );
        assert_eq!(api.dump_ids().await, Vec::<String>::new(), "{what}");
        server.stop().await;
    }

    drop(page);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
