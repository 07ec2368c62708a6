//! Everything a collector instance is configured with.

use std::path::PathBuf;
use std::time::Duration;

use crate::sentry::Dsn;
use crate::store::S3Options;

/// Where dump and debug files are stored.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// A local directory (fsync'd files).
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Options),
}

/// Size limits of uploads, in bytes.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body as sent (compressed or not).
    pub max_body: usize,
    /// Largest dump after decompression.
    pub max_dump: usize,
    /// Largest debug file.
    pub max_debug_file: usize,
    /// Largest metadata JSON part.
    pub max_metadata: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 64 << 20,
            max_dump: 256 << 20,
            max_debug_file: 512 << 20,
            max_metadata: 64 << 10,
        }
    }
}

/// Per-token request rate limits (a token bucket per token and instance).
#[derive(Debug, Clone)]
pub struct RateLimit {
    /// Sustained requests per second; 0 disables the limit.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 1000.0,
            burst: 2000.0,
        }
    }
}

/// What is kept, and for how long.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Dumps older than this are deleted (rows and files); `None` keeps them.
    pub max_age: Option<Duration>,
    /// At most this many dump files are kept per group (the newest); older
    /// ones are pruned but stay counted and listed. `None` keeps all.
    pub max_dumps_per_group: Option<u64>,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_ttl: Duration,
    /// How often retention runs.
    pub interval: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Some(Duration::from_secs(90 * 86_400)),
            max_dumps_per_group: Some(100),
            idempotency_ttl: Duration::from_secs(86_400),
            interval: Duration::from_secs(60),
        }
    }
}

/// Forwarding of new dumps to Sentry (see [`crate::sentry`]).
#[derive(Debug, Clone)]
pub struct SentryConfig {
    /// The project's DSN.
    pub dsn: Dsn,
    /// Timeout of one delivery request (connect to last byte of the reply).
    pub timeout: Duration,
    /// Attempts before an event is dropped (network errors, timeouts, 5xx, 429).
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled after each one after it.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts (Sentry's rate limits aside).
    pub max_backoff: Duration,
    /// How long an instance holds an event it is sending before another may take it.
    pub lease: Duration,
    /// How often to look for events queued by other instances or left by a restart.
    pub poll_interval: Duration,
    /// Deliveries in flight at once, per instance.
    pub concurrency: usize,
    /// How long the event of a dump whose debug files are missing waits for
    /// them (sent as soon as they arrive, unsymbolicated after this).
    pub symbolication_wait: Duration,
}

impl SentryConfig {
    /// The defaults: 10 s timeout, 20 attempts, 1 s backoff doubling to 10
    /// minutes, up to 2 minutes' wait for missing debug files.
    pub fn new(dsn: Dsn) -> Self {
        SentryConfig {
            dsn,
            timeout: Duration::from_secs(10),
            max_attempts: 20,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            concurrency: 4,
            symbolication_wait: Duration::from_secs(120),
        }
    }
}

/// A collector instance's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite:///path/index.db` or `postgres://…`.
    pub database_url: String,
    pub store: StoreConfig,
    /// Tokens allowed to upload dumps and debug files. Empty: uploads are open.
    pub ingest_tokens: Vec<String>,
    /// Tokens allowed to read (API, UI, downloads). Empty: reading is open.
    pub read_tokens: Vec<String>,
    pub limits: Limits,
    pub rate_limit: RateLimit,
    pub retention: Retention,
    /// How many opened debug files are kept in memory.
    pub symbol_cache_size: usize,
    /// The URL users reach this collector at (for the `wasmgdb` command and
    /// links); taken from the request's `Host` when unset.
    pub public_url: Option<String>,
    /// How often to look for dumps whose debug file has arrived meanwhile
    /// (uploaded through another instance, or during their own ingest).
    pub resymbolicate_interval: Duration,
    /// Forward each new dump to Sentry; `None` turns forwarding off.
    pub sentry: Option<SentryConfig>,
    /// Web origins (`https://app.example`, or `*` for any) whose pages may
    /// upload dumps from a browser (CORS on `POST /api/v1/dumps` only; see
    /// [`parse_cors_origin`]). Empty: no CORS, browsers only upload from the
    /// collector's own origin.
    pub cors_origins: Vec<String>,
}

impl Config {
    /// The embedded setup: SQLite index and files under `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Config {
            database_url: format!("sqlite://{}", data_dir.join("index.db").display()),
            store: StoreConfig::Local(data_dir.join("objects")),
            ingest_tokens: Vec::new(),
            read_tokens: Vec::new(),
            limits: Limits::default(),
            rate_limit: RateLimit::default(),
            retention: Retention::default(),
            symbol_cache_size: 32,
            public_url: None,
            resymbolicate_interval: Duration::from_secs(30),
            sentry: None,
            cors_origins: Vec::new(),
        }
    }
}

/// A `--cors-origin` that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not an origin ({reason}): use scheme://host[:port], e.g. https://app.example, or *"
)]
pub struct InvalidOrigin {
    pub text: String,
    pub reason: &'static str,
}

/// Checks a CORS origin and returns it as browsers send it in `Origin`
/// (lower-case scheme and host, no default port, no trailing slash), since
/// the match against that header is exact. `*` stays `*` (any origin).
pub fn parse_cors_origin(text: &str) -> Result<String, InvalidOrigin> {
    let text = text.trim();
    let invalid = |reason| InvalidOrigin {
        text: text.to_string(),
        reason,
    };
    if text == "*" {
        return Ok("*".into());
    }
    let url = url::Url::parse(text).map_err(|_| invalid("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("an origin has no user name or password"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("an origin has no path, query or fragment"));
    }
    match url.host_str() {
        None | Some("") => return Err(invalid("no host")),
        // Matching is exact: `https://*.example` would never match anything.
        Some(host) if host.contains('*') => {
            return Err(invalid(
                "wildcard hosts are not supported, list each origin",
            ));
        }
        Some(_) => {}
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins() {
        assert_eq!(parse_cors_origin("*").unwrap(), "*");
        assert_eq!(
            parse_cors_origin("https://app.example").unwrap(),
            "https://app.example"
        );
        assert_eq!(
            parse_cors_origin("HTTPS://App.Example:443/").unwrap(),
            "https://app.example"
        );
        assert_eq!(
            parse_cors_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "app.example",
            "https://app.example/path",
            "https://app.example?x=1",
            "https://user@app.example",
            "ftp://app.example",
            "https://*.example",
            "",
            "null",
        ] {
            assert!(parse_cors_origin(bad).is_err(), "{bad}");
        }
    }
}
