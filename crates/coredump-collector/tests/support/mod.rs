//! Test support: real dumps of the crash fixtures (run on wasmtime through
//! `coredump-host`), a PostgreSQL server started for the tests, an in-process
//! S3 server (s3s-fs), and a collector on 127.0.0.1 for either backend.

#![allow(dead_code)]

pub mod postgres;
pub mod s3;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use coredump_collector::{Config, RateLimit, Retention, RunningServer, S3Options, StoreConfig};
use coredump_host::{Capture, Host, HostOptions, RunRequest};
use crash_fixtures::{ExpectedFrame, Manifest};
use wasm_coredump::{BUILD_ID_SECTION, BuildId, append_custom_section};

pub const INGEST_TOKEN: &str = "ingest-secret-1";
pub const READ_TOKEN: &str = "read-secret-1";

/// A real crash of a fixture program.
#[derive(Clone)]
pub struct FixtureDump {
    pub program: String,
    pub mode: String,
    /// The fixture module with a `build_id` section appended: what ran, and
    /// (having DWARF) its own debug file.
    pub module: Vec<u8>,
    pub build_id: String,
    /// The dump `coredump-host` captured.
    pub dump: Vec<u8>,
    pub expected: Vec<ExpectedFrame>,
    pub trap: String,
}

/// The build id the tests give a fixture program.
pub fn fixture_build_id(program: &str) -> BuildId {
    let mut bytes = [0u8; 16];
    for (i, b) in program.bytes().enumerate() {
        bytes[i % 16] = bytes[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    bytes[0] = 0xc0;
    bytes[15] = 0x1d;
    BuildId::new(bytes.to_vec())
}

/// The fixture module with our build id appended (code and DWARF unchanged).
pub fn module_with_build_id(program: &str) -> Vec<u8> {
    let manifest = Manifest::load().expect("fixture manifest");
    let program = manifest.program(program).expect("fixture program");
    let mut wasm = program.wasm_bytes().expect("fixture module");
    append_custom_section(
        &mut wasm,
        BUILD_ID_SECTION,
        &fixture_build_id(&program.id).to_section_payload(),
    );
    wasm
}

fn run_fixture(
    program_id: &str,
    mode_name: &str,
    capture: Capture,
    with_build_id: bool,
) -> FixtureDump {
    let manifest = Manifest::load().expect("fixture manifest");
    let program = manifest.program(program_id).expect("fixture program");
    let mode = program.mode(mode_name).expect("fixture mode");
    let module = if with_build_id {
        module_with_build_id(program_id)
    } else {
        program.wasm_bytes().expect("fixture module")
    };
    let host = Host::new(HostOptions {
        capture,
        ..HostOptions::default()
    })
    .expect("wasmtime engine");
    let file_name = program.wasm_file_name().to_string();
    let mut request = RunRequest::new(file_name, module.clone());
    request.args = mode.args.clone();
    request.path = Some(PathBuf::from(&program.wasm));
    let outcome = host.run(&request).expect("fixture runs");
    let crash = outcome.crash.expect("fixture crashes");
    let dump = crash.dump.expect("dump captured");
    FixtureDump {
        program: program_id.into(),
        mode: mode_name.into(),
        module,
        build_id: fixture_build_id(program_id).to_hex(),
        dump: dump.to_bytes(),
        expected: mode.frames.clone(),
        trap: mode
            .trap
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
    }
}

/// A fixture crash, captured once per test process.
pub fn fixture(program: &str, mode: &str) -> FixtureDump {
    cached(program, mode, Capture::Native, true)
}

/// A fixture crash captured with guest debugging (locals and operand stacks filled).
pub fn fixture_with_locals(program: &str, mode: &str) -> FixtureDump {
    cached(program, mode, Capture::GuestDebug, true)
}

/// A fixture crash of the module as committed (no build id in the dump).
pub fn fixture_without_build_id(program: &str, mode: &str) -> FixtureDump {
    cached(program, mode, Capture::Native, false)
}

fn cached(program: &str, mode: &str, capture: Capture, with_build_id: bool) -> FixtureDump {
    static CACHE: OnceLock<Mutex<HashMap<String, FixtureDump>>> = OnceLock::new();
    let key = format!("{program}/{mode}/{capture:?}/{with_build_id}");
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache.lock().unwrap().get(&key) {
        return found.clone();
    }
    let made = run_fixture(program, mode, capture, with_build_id);
    cache.lock().unwrap().insert(key, made.clone());
    made
}

/// Which index and store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite and a local directory.
    Embedded,
    /// PostgreSQL and an S3-compatible server.
    PostgresS3,
}

/// What a backend needs to exist while its collectors run.
pub struct BackendResources {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub postgres: Option<postgres::Postgres>,
    pub s3: Option<s3::S3Server>,
    pub database_url: String,
    pub store: StoreConfig,
}

impl BackendResources {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Embedded => {
                let config = Config::embedded(dir.path());
                BackendResources {
                    backend,
                    database_url: config.database_url,
                    store: config.store,
                    dir,
                    postgres: None,
                    s3: None,
                }
            }
            Backend::PostgresS3 => {
                let pg = tokio::task::spawn_blocking(postgres::Postgres::start)
                    .await
                    .expect("postgres thread")
                    .unwrap_or_else(|e| panic!("the PostgreSQL backend tests need a PostgreSQL server and none could be started: {e}"));
                let database_url = pg.create_database("collector_test").await;
                let s3 = s3::S3Server::start("crash-dumps").await;
                let store = StoreConfig::S3(S3Options {
                    url: "s3://crash-dumps/collector".into(),
                    endpoint: Some(s3.endpoint()),
                    region: Some("us-east-1".into()),
                    access_key_id: Some(s3::ACCESS_KEY.into()),
                    secret_access_key: Some(s3::SECRET_KEY.into()),
                    allow_http: true,
                    virtual_hosted_style: false,
                });
                BackendResources {
                    backend,
                    dir,
                    postgres: Some(pg),
                    s3: Some(s3),
                    database_url,
                    store,
                }
            }
        }
    }

    /// A config for a collector on this backend, with test tokens.
    pub fn config(&self) -> Config {
        let mut config = Config::embedded(self.dir.path());
        config.database_url = self.database_url.clone();
        config.store = self.store.clone();
        config.ingest_tokens = vec![INGEST_TOKEN.into()];
        config.read_tokens = vec![READ_TOKEN.into()];
        config.rate_limit = RateLimit {
            per_second: 0.0,
            burst: 1.0,
        };
        config.retention = Retention {
            max_age: None,
            max_dumps_per_group: None,
            idempotency_ttl: Duration::from_secs(3600),
            interval: Duration::from_secs(3600),
        };
        config.resymbolicate_interval = Duration::from_secs(1);
        config
    }

    /// How many dump files the store holds.
    pub fn stored_dump_files(&self) -> usize {
        let root = match &self.store {
            StoreConfig::Local(dir) => dir.join("dumps"),
            StoreConfig::S3(_) => self
                .s3
                .as_ref()
                .unwrap()
                .root()
                .join("crash-dumps/collector/dumps"),
        };
        count_files(&root)
    }

    pub async fn start(&self, config: Config) -> RunningServer {
        RunningServer::start(config, "127.0.0.1:0".parse::<SocketAddr>().unwrap())
            .await
            .expect("collector starts")
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                count_files(&path)
            } else if path.extension().is_some_and(|x| x == "wasm") {
                1
            } else {
                0
            }
        })
        .sum()
}

/// An HTTP client for tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .expect("http client")
}

/// Gzip-compresses bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}
