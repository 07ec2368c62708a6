//! Getting dumps to the collector without losing one.
//!
//! Every dump is first written to the dump directory, which doubles as the
//! spool. A dump counts as delivered once the collector acknowledged it; the
//! acknowledgement is recorded next to it as `<dump>.delivered`. Until then
//! each run (and `coredump-host flush`) tries again. The dump's file name is
//! sent as the idempotency key, so a retry after a lost acknowledgement does
//! not store it twice.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use crate::store::write_dump_atomically;

/// Suffix of spooled dump files.
pub const DUMP_SUFFIX: &str = ".core.wasm";
const DELIVERED_SUFFIX: &str = ".delivered";
const REJECTED_SUFFIX: &str = ".rejected";

/// Where dumps go and how to authenticate.
#[derive(Debug, Clone)]
pub struct Collector {
    /// Base URL, e.g. `http://127.0.0.1:7070`.
    pub url: String,
    /// Ingest token, sent as `Authorization: Bearer …`.
    pub token: Option<String>,
    /// Attempts per dump before it is left in the spool.
    pub attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub first_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Collector {
    pub fn new(url: impl Into<String>, token: Option<String>) -> Self {
        Collector {
            url: url.into(),
            token,
            attempts: 4,
            first_backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
        }
    }

    fn ingest_url(&self) -> String {
        format!("{}/api/v1/dumps", self.url.trim_end_matches('/'))
    }
}

/// Why a delivery did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The collector could not be reached or failed; worth retrying later.
    #[error("collector unavailable: {0}")]
    Unavailable(String),
    /// The collector refused the dump (4xx); retrying will not help.
    #[error("collector rejected the dump with status {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("cannot read or record {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The collector's acknowledgement, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub status: u16,
    /// The response body (JSON with the dump and group ids).
    pub body: String,
}

/// Sends one dump file, retrying transient failures with exponential backoff.
pub fn deliver(collector: &Collector, dump_path: &Path) -> Result<Receipt, DeliveryError> {
    let bytes = fs::read(dump_path).map_err(|source| DeliveryError::Io {
        path: dump_path.to_path_buf(),
        source,
    })?;
    let key = dump_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(collector.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut backoff = collector.first_backoff;
    let mut last = String::new();
    for attempt in 0..collector.attempts.max(1) {
        if attempt > 0 {
            sleep(backoff);
            backoff *= 2;
        }
        let mut request = agent
            .post(&collector.ingest_url())
            .header("Content-Type", "application/wasm")
            .header("Idempotency-Key", &key);
        if let Some(token) = &collector.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        match request.send(&bytes[..]) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let mut body = String::new();
                let _ = response
                    .body_mut()
                    .as_reader()
                    .take(64 * 1024)
                    .read_to_string(&mut body);
                match status {
                    200..=299 => return Ok(Receipt { status, body }),
                    408 | 429 | 500..=599 => last = format!("status {status}: {body}"),
                    _ => return Err(DeliveryError::Rejected { status, body }),
                }
            }
            Err(err) => last = err.to_string(),
        }
    }
    Err(DeliveryError::Unavailable(last))
}

/// What a flush of the spool did.
#[derive(Debug, Default)]
pub struct FlushReport {
    pub delivered: Vec<(PathBuf, Receipt)>,
    /// Still in the spool, with the reason.
    pub pending: Vec<(PathBuf, String)>,
    /// Refused by the collector; marked `.rejected` and not retried.
    pub rejected: Vec<(PathBuf, String)>,
}

/// Dumps in `dir` that were neither delivered nor rejected, oldest name first.
pub fn pending_dumps(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut pending = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(pending),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(DUMP_SUFFIX) || name.starts_with('.') {
            continue;
        }
        let marked = |suffix: &str| dir.join(format!("{name}{suffix}")).exists();
        if !marked(DELIVERED_SUFFIX) && !marked(REJECTED_SUFFIX) {
            pending.push(path);
        }
    }
    pending.sort();
    Ok(pending)
}

/// Tries to deliver every pending dump in `dir`, recording the outcome of each.
pub fn flush(collector: &Collector, dir: &Path) -> Result<FlushReport, DeliveryError> {
    let mut report = FlushReport::default();
    let io = |source| DeliveryError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut unavailable: Option<String> = None;
    for path in pending_dumps(dir).map_err(io)? {
        // Once the collector is down, the rest wait too: retrying each one
        // would only add its backoff to the wait.
        if let Some(why) = &unavailable {
            report.pending.push((path, why.clone()));
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match deliver(collector, &path) {
            Ok(receipt) => {
                mark(dir, &format!("{name}{DELIVERED_SUFFIX}"), &receipt.body)?;
                report.delivered.push((path, receipt));
            }
            Err(DeliveryError::Rejected { status, body }) => {
                let why = format!("status {status}: {body}");
                mark(dir, &format!("{name}{REJECTED_SUFFIX}"), &why)?;
                report.rejected.push((path, why));
            }
            Err(err @ DeliveryError::Unavailable(_)) => {
                unavailable = Some(err.to_string());
                report.pending.push((path, err.to_string()));
            }
            Err(err) => report.pending.push((path, err.to_string())),
        }
    }
    Ok(report)
}

fn mark(dir: &Path, file: &str, contents: &str) -> Result<(), DeliveryError> {
    write_dump_atomically(dir, file, contents.as_bytes())
        .map(|_| ())
        .map_err(|err| DeliveryError::Io {
            path: dir.join(file),
            source: std::io::Error::other(err.to_string()),
        })
}
