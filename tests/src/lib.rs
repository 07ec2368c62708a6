//! Support for the end-to-end tests: one fixture program taken through the
//! build steps a user runs (`debuginfo-split`, then `coredump-rewrite` on the
//! stripped module), then run and crashed in every way the tests need, with
//! each dump delivered to a collector the way production delivers it.
//!
//! Expected results always come from the fixture manifest, never from these
//! tools' own output.

use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Duration;

use coredump_collector::{Config, RunningServer};
use coredump_host::{Capture, Collector, Host, HostOptions, RunRequest, write_dump_atomically};
use crash_fixtures::{
    ExpectedVariable, Mode, Program, TrapKind, frames_match, printed_as_missing,
    record_in_app_frames,
};
use debuginfo_split::{SplitBytes, SplitOptions};
use serde_json::Value;

/// A fixture program after the build steps.
pub struct Prepared {
    pub program: Program,
    /// The module's file name, e.g. `crash-O0.wasm`.
    pub file_name: String,
    pub split: SplitBytes,
    /// The stripped module instrumented with the default checks.
    pub instrumented: Vec<u8>,
    /// The stripped module instrumented with `--bounds-checks` too, for the
    /// crashes (out-of-bounds loads, a stack pointer run past address 0) that
    /// only those checks catch.
    pub instrumented_bounds: Vec<u8>,
}

impl Prepared {
    pub fn new(program: &Program) -> Prepared {
        let original = program.wasm_bytes().expect("fixture module");
        let split = debuginfo_split::split(&original, &SplitOptions::default())
            .unwrap_or_else(|e| panic!("{}: split: {e}", program.id));
        let file_name = program.wasm_file_name().to_string();
        let rewrite = |bounds: bool| {
            let options = coredump_rewrite::Options {
                name: file_name.clone(),
                checks: coredump_rewrite::Checks {
                    bounds,
                    ..coredump_rewrite::Checks::default()
                },
                ..coredump_rewrite::Options::default()
            };
            coredump_rewrite::rewrite(&split.stripped, &options)
                .unwrap_or_else(|e| panic!("{}: rewrite: {e}", program.id))
                .wasm
        };
        Prepared {
            program: program.clone(),
            instrumented: rewrite(false),
            instrumented_bounds: rewrite(true),
            file_name,
            split,
        }
    }

    pub fn build_id(&self) -> String {
        self.split.build_id.id.to_hex()
    }

    /// The instrumented build that turns `mode`'s crash into a dump.
    pub fn instrumented_for(&self, mode: &Mode) -> &[u8] {
        match mode.trap {
            Some(TrapKind::MemoryOutOfBounds) => &self.instrumented_bounds,
            _ => &self.instrumented,
        }
    }
}

/// Runs `wasm` with `mode`'s arguments, which must crash, writes the dump to
/// `dir` and delivers it to `collector` with `coredump-host`'s own delivery.
/// Returns the collector's reply.
pub fn run_and_deliver(
    host: &Host,
    name: &str,
    wasm: &[u8],
    mode: &Mode,
    dir: &Path,
    collector: &Collector,
) -> serde_json::Value {
    let mut request = RunRequest::new(name, wasm.to_vec());
    request.args = mode.args.clone();
    let outcome = host
        .run(&request)
        .unwrap_or_else(|e| panic!("{name} {}: {e}", mode.mode));
    let crash = outcome
        .crash
        .unwrap_or_else(|| panic!("{name} {}: did not crash", mode.mode));
    let dump = crash
        .dump
        .unwrap_or_else(|| panic!("{name} {}: no dump: {:?}", mode.mode, crash.dump_error));
    let file = format!("{}-{}.core.wasm", name.trim_end_matches(".wasm"), mode.mode);
    let path = write_dump_atomically(dir, &file, &dump.to_bytes()).expect("dump written");
    let receipt = coredump_host::deliver(collector, &path)
        .unwrap_or_else(|e| panic!("{name} {}: delivery: {e}", mode.mode));
    serde_json::from_str(&receipt.body).expect("collector reply is JSON")
}

/// A host for `capture`.
pub fn host(capture: Capture) -> Host {
    Host::new(HostOptions {
        capture,
        ..HostOptions::default()
    })
    .expect("wasmtime engine")
}

/// Runs the instrumented `wasm` under node 20 and uploads its dump with the
/// JS helper (`js/coredump`, node:wasi). Returns the collector's reply.
pub fn run_under_node_and_upload(
    wasm_path: &Path,
    mode: &Mode,
    collector_url: &str,
    token: &str,
) -> serde_json::Value {
    let script = crash_fixtures::repo_root().join("tests/node/run-and-upload.mjs");
    let output = Command::new("node")
        .arg(&script)
        .arg(collector_url)
        .arg(token)
        .arg(wasm_path)
        .args(&mode.args)
        .output()
        .expect("node 20 runs (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(134),
        "{} {}: node did not trap: {stdout}\n{stderr}",
        wasm_path.display(),
        mode.mode
    );
    let reply = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no collector reply: {stderr}"));
    serde_json::from_str(reply).unwrap_or_else(|e| panic!("reply {reply:?}: {e}\n{stderr}"))
}

/// `(function index, code offset)` of every frame of a collector dump record.
pub fn raw_frames(dump: &serde_json::Value) -> Vec<(u64, u64)> {
    dump["stack"]["frames"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["function_index"].as_u64().unwrap_or(u64::MAX),
                f["code_offset"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

/// A scratch directory for one test's files.
pub fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix(name)
        .tempdir()
        .expect("temp dir");
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// The ingest token of the collectors these tests start (reading is open).
pub const INGEST_TOKEN: &str = "e2e-ingest-token";

/// A collector on embedded defaults (SQLite and a directory under `dir`) on
/// 127.0.0.1, holding `prepared`'s debug file.
pub async fn start_collector(dir: &Path, prepared: &Prepared) -> (RunningServer, reqwest::Client) {
    start_collector_with(dir, prepared, |_| {}).await
}

/// [`start_collector`], with `configure` applied to the config first.
pub async fn start_collector_with(
    dir: &Path,
    prepared: &Prepared,
    configure: impl FnOnce(&mut Config),
) -> (RunningServer, reqwest::Client) {
    let mut config = Config::embedded(dir.join("collector"));
    config.ingest_tokens = vec![INGEST_TOKEN.into()];
    configure(&mut config);
    let server = RunningServer::start(config, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("collector starts");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .expect("http client");
    let put = http
        .put(format!(
            "{}/api/v1/debug-files/{}",
            server.url(),
            prepared.build_id()
        ))
        .bearer_auth(INGEST_TOKEN)
        .body(prepared.split.debug.clone())
        .send()
        .await
        .expect("debug file upload");
    let status = put.status().as_u16();
    assert_eq!(
        status,
        201,
        "debug file upload: {}",
        put.text().await.unwrap_or_default()
    );
    (server, http)
}

/// The collector's read API, for the tests' checks.
pub struct Api {
    pub url: String,
    pub http: reqwest::Client,
}

impl Api {
    /// `GET path`, which must succeed.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("collector answers");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response
    }

    /// The collector's record of the dump an upload `reply` names.
    pub async fn dump(&self, reply: &Value) -> Value {
        let id = reply["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no dump id in {reply}"));
        let response = self.get(&format!("/api/v1/dumps/{id}")).await;
        response.json().await.expect("dump record is JSON")
    }

    /// The ids of the dumps the collector holds, newest first.
    pub async fn dump_ids(&self) -> Vec<String> {
        let list: Vec<Value> = self
            .get("/api/v1/dumps?limit=500")
            .await
            .json()
            .await
            .expect("dump list is JSON");
        list.iter()
            .filter_map(|d| d["id"].as_str().map(str::to_string))
            .collect()
    }

    /// The dump file itself.
    pub async fn raw(&self, id: &str) -> Vec<u8> {
        let response = self.get(&format!("/api/v1/dumps/{id}/raw")).await;
        response.bytes().await.expect("dump bytes").to_vec()
    }
}

/// Whether the manifest's `name` is a static (`g_counter` in C and Zig,
/// `COUNTER` in Rust): those are not frame variables.
pub fn is_static(name: &str) -> bool {
    name.starts_with("g_") || name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}

/// The manifest's variables of the trapping in-app frame that the collector
/// shows (it evaluates that frame's parameters and locals, not expressions).
///
/// A variable the manifest marks `may_be_optimized_out` may be missing or
/// shown as optimised out, never with another value: the collector evaluates
/// through wasmgdb's frame model, which shows a local the function rewrote
/// after the frame's pc (zig ReleaseSafe's `code`, whose DWARF keeps it in
/// its local for the whole function) as optimised out.
pub fn check_top_frame_variables(
    what: &str,
    dump: &Value,
    expected: &[ExpectedVariable],
    optimized: bool,
) -> Result<(), String> {
    let variables: Vec<&Value> = dump["variables"]["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|scope| scope["variables"].as_array().into_iter().flatten())
        .collect();
    let wanted: Vec<&ExpectedVariable> = expected
        .iter()
        .filter(|v| {
            v.frame == 0
                && v.expr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !is_static(&v.expr)
        })
        .collect();
    let mut checked = 0;
    for want in &wanted {
        let Some(got) = variables.iter().find(|v| v["name"] == want.expr.as_str()) else {
            if want.may_be_optimized_out {
                continue;
            }
            return Err(format!(
                "{what}: no variable {} in {}",
                want.expr, dump["variables"]
            ));
        };
        let value = got["value"].as_str().unwrap_or("");
        let exact = want.matches_printed(value);
        let tolerated = want.may_be_optimized_out && printed_as_missing(value);
        if !exact && !tolerated {
            return Err(format!(
                "{what}: {} = {value}, expected {}",
                want.expr, want.value
            ));
        }
        checked += usize::from(exact);
    }
    // Debug builds keep every variable: all of them must have been checked.
    if !optimized && checked != wanted.len() {
        return Err(format!(
            "{what}: {checked} of {} variables shown with their values",
            wanted.len()
        ));
    }
    Ok(())
}

/// Checks a collector dump record against the manifest's `mode`: trap kind,
/// complete symbolication, the in-app frames and the trapping frame's
/// variables.
pub fn check_dump(what: &str, dump: &Value, mode: &Mode, optimized: bool) -> Result<(), String> {
    let trap = mode
        .trap
        .as_ref()
        .map(|t| t.to_string())
        .unwrap_or_default();
    if dump["trap_kind"] != trap.as_str() {
        return Err(format!(
            "{what}: trap {} , expected {trap}",
            dump["trap_kind"]
        ));
    }
    if dump["symbolication"] != "complete" {
        return Err(format!("{what}: symbolication {}", dump["symbolication"]));
    }
    frames_match(&mode.frames, &record_in_app_frames(dump)).map_err(|e| format!("{what}: {e}"))?;
    check_top_frame_variables(what, dump, &mode.variables, optimized)
}

/// A fixture program after the build steps, with a collector (holding its
/// debug file) and a scratch directory: where every end-to-end test starts.
pub struct Staged {
    pub prepared: Prepared,
    pub dir: PathBuf,
    pub server: RunningServer,
    pub api: Api,
    /// Removed on drop: keep it bound while `dir` is used.
    pub scratch: tempfile::TempDir,
}

impl Staged {
    /// Builds `program_id` of the fixture manifest and starts its collector.
    pub async fn new(program_id: &str) -> Staged {
        Staged::with(program_id, |_| {}).await
    }

    /// [`Staged::new`], with `configure` applied to the collector's config.
    pub async fn with(program_id: &str, configure: impl FnOnce(&mut Config)) -> Staged {
        let manifest = crash_fixtures::Manifest::load().expect("fixture manifest");
        let program = manifest
            .program(program_id)
            .unwrap_or_else(|| panic!("no fixture program {program_id}"))
            .clone();
        let prepared = tokio::task::spawn_blocking(move || Prepared::new(&program))
            .await
            .expect("build steps");
        let (scratch_dir, dir) = scratch(program_id);
        let (server, http) = start_collector_with(&dir, &prepared, configure).await;
        let api = Api {
            url: server.url(),
            http,
        };
        Staged {
            prepared,
            dir,
            server,
            api,
            scratch: scratch_dir,
        }
    }
}

/// Debian's Chromium (scripts/test.sh installs it); panics, saying so, when
/// it is missing.
pub fn chromium() -> PathBuf {
    let debian = Path::new("/usr/bin/chromium");
    if debian.exists() {
        return debian.to_path_buf();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is missing (neither /usr/bin/chromium nor chromium on PATH): \
                 scripts/test.sh installs it (Debian's chromium package)"
            )
        })
}

/// The flags headless Chromium needs on this machine (root, no network, no
/// GPU); add a fresh `--user-data-dir` for each run.
pub const CHROMIUM_HEADLESS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];
