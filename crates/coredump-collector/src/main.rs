//! `coredump-collector`: the command line around the collector library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use coredump_collector::sentry::Dsn;
use coredump_collector::{
    Collector, Config, Limits, RateLimit, Retention, S3Options, SentryConfig, StoreConfig,
};

/// Receives, stores, symbolicates, groups and serves WebAssembly core dumps.
///
/// Runs on a laptop with one command (`coredump-collector serve`: SQLite and
/// files under --data), or as any number of stateless instances sharing one
/// PostgreSQL database (--database) and one S3-compatible bucket (--store).
#[derive(Parser)]
#[command(name = "coredump-collector", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the ingest API, the JSON API, the web UI and the symbol server.
    #[command(after_long_help = SERVE_HELP)]
    Serve(Box<ServeArgs>),
}

const SERVE_HELP: &str = "\
Endpoints:
  POST /api/v1/dumps                     upload a dump (application/wasm, or multipart/form-data
                                         with `dump` and `metadata` parts; gzip or zstd encoding)
  GET  /api/v1/dumps[/{id}[/raw]]        list dumps, one dump (stack, locals, context), its file
  GET  /api/v1/groups[/{id}]             crash groups
  PUT  /api/v1/debug-files/{build_id}    upload a debug file (Wasm with DWARF and that build id)
  GET  /api/v1/debug-files[/{build_id}]  list, download (also /buildid/{build_id}/debuginfo)
  GET  /                                 web UI (groups, group and dump pages)
  GET  /metrics, /healthz                Prometheus metrics, health (no token needed)

Examples:
  # On a laptop: everything under ./collector-data, no tokens.
  coredump-collector serve

  # Shared: PostgreSQL index and an S3 bucket; run as many instances as needed.
  coredump-collector serve --listen 0.0.0.0:7070 \\
      --database postgres://collector@db/collector --store s3://crash-dumps/prod \\
      --s3-endpoint http://minio:9000 --ingest-token \"$INGEST\" --read-token \"$READ\"

  # Upload a dump and its debug file, then open the dump in wasmgdb.
  curl -H \"Authorization: Bearer $INGEST\" -H 'Content-Type: application/wasm' \\
      --data-binary @app.core.wasm http://127.0.0.1:7070/api/v1/dumps
  curl -H \"Authorization: Bearer $INGEST\" -T debug-<build id>.wasm \\
      http://127.0.0.1:7070/api/v1/debug-files/<build id>
  wasmgdb --symbol-server http://127.0.0.1:7070/ app.wasm \\
      http://127.0.0.1:7070/api/v1/dumps/<dump id>/raw

  # Let pages on https://app.example upload dumps from the browser (CORS).
  coredump-collector serve --cors-origin https://app.example --ingest-token \"$INGEST\"

  # Forward every new dump to a Sentry project as well.
  coredump-collector serve --sentry-dsn \"https://<public key>@o0.ingest.sentry.io/<project id>\"

Environment: RUST_LOG sets the log filter (default `info`); AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT are read for S3 when the
--s3-* flags are not given.";

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "COLLECTOR_LISTEN", default_value = "127.0.0.1:7070")]
    listen: SocketAddr,

    /// Data directory of the embedded setup: `index.db` (SQLite) and
    /// `objects/` (dump and debug files). Used for whichever of --database
    /// and --store is not given.
    #[arg(long, env = "COLLECTOR_DATA", default_value = "collector-data")]
    data: PathBuf,

    /// Index database: `postgres://user:password@host/db` to share one
    /// between instances, or `sqlite:///path/index.db`.
    #[arg(long, env = "COLLECTOR_DATABASE_URL", value_name = "URL")]
    database: Option<String>,

    /// Object store: `s3://bucket[/prefix]` for any S3-compatible store, or a
    /// local directory.
    #[arg(long, env = "COLLECTOR_STORE", value_name = "URL|DIR")]
    store: Option<String>,

    /// S3 endpoint, for stores other than AWS (MinIO, Ceph, R2…), e.g. `http://127.0.0.1:9000`.
    #[arg(long, env = "COLLECTOR_S3_ENDPOINT", value_name = "URL")]
    s3_endpoint: Option<String>,

    /// S3 region.
    #[arg(long, env = "COLLECTOR_S3_REGION")]
    s3_region: Option<String>,

    /// S3 access key id (default: AWS_ACCESS_KEY_ID).
    #[arg(long, env = "COLLECTOR_S3_ACCESS_KEY_ID", hide_env_values = true)]
    s3_access_key_id: Option<String>,

    /// S3 secret access key (default: AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "COLLECTOR_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    s3_secret_access_key: Option<String>,

    /// Address buckets as `bucket.endpoint` instead of `endpoint/bucket`.
    #[arg(long)]
    s3_virtual_hosted_style: bool,

    /// A token allowed to upload dumps and debug files. Repeat for several;
    /// the environment variable takes a comma-separated list. None: uploads are open.
    #[arg(
        long = "ingest-token",
        env = "COLLECTOR_INGEST_TOKENS",
        value_delimiter = ',',
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    ingest_tokens: Vec<String>,

    /// A token allowed to read (API, UI, downloads, symbol server). Repeat
    /// for several; comma-separated in the environment. None: reading is open.
    #[arg(
        long = "read-token",
        env = "COLLECTOR_READ_TOKENS",
        value_delimiter = ',',
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    read_tokens: Vec<String>,

    /// Largest request body as sent (before decompression). Suffixes K, M, G.
    #[arg(long, default_value = "64M", value_parser = parse_size, value_name = "BYTES")]
    max_body_size: usize,

    /// Largest dump after decompression (bounds decompression bombs).
    #[arg(long, default_value = "256M", value_parser = parse_size, value_name = "BYTES")]
    max_dump_size: usize,

    /// Largest debug file.
    #[arg(long, default_value = "512M", value_parser = parse_size, value_name = "BYTES")]
    max_debug_file_size: usize,

    /// Requests per second allowed per token (and per instance); 0 turns the limit off.
    #[arg(long, default_value_t = 1000.0, value_name = "N")]
    rate_limit: f64,

    /// Requests a token may send at once above the rate (default: twice the rate).
    #[arg(long, value_name = "N")]
    rate_burst: Option<f64>,

    /// Delete dumps older than this many days; 0 keeps them forever.
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    retention_days: u64,

    /// Keep at most this many dump files per group (the newest). Older ones
    /// are pruned but stay counted and listed; 0 keeps all.
    #[arg(long, default_value_t = 100, value_name = "N")]
    max_dumps_per_group: u64,

    /// Seconds between retention passes.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    retention_interval: u64,

    /// Hours an Idempotency-Key is remembered.
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    idempotency_ttl_hours: u64,

    /// Seconds between sweeps for dumps whose debug file arrived through another instance.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    resymbolicate_interval: u64,

    /// Debug files kept open in memory for symbolication.
    #[arg(long, default_value_t = 32, value_name = "N")]
    symbol_cache: usize,

    /// The URL users reach the collector at, for links and the wasmgdb
    /// command (default: from each request's Host header).
    #[arg(long, env = "COLLECTOR_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,

    /// A web origin (`scheme://host[:port]`) whose pages may upload dumps
    /// from a browser: CORS on POST /api/v1/dumps only (reads, the UI and
    /// debug files stay same-origin). Repeat for several; comma-separated in
    /// the environment; `*` allows any origin. None: CORS is off.
    #[arg(
        long = "cors-origin",
        env = "COLLECTOR_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    cors_origins: Vec<String>,

    /// Also send each new dump to Sentry as an event, through this project
    /// DSN (`https://<public key>@<host>/<project id>`). Delivery runs in the
    /// background from an outbox in the index: uploads never wait for Sentry,
    /// and failures are retried with backoff.
    #[arg(
        long,
        env = "COLLECTOR_SENTRY_DSN",
        hide_env_values = true,
        value_name = "DSN"
    )]
    sentry_dsn: Option<String>,

    /// Seconds the Sentry event of a dump whose debug file is missing waits
    /// for it; the event leaves as soon as the dump is symbolicated, or
    /// unsymbolicated after this. 0 sends at once.
    #[arg(
        long,
        env = "COLLECTOR_SENTRY_SYMBOL_WAIT",
        default_value_t = 120,
        value_name = "SECS"
    )]
    sentry_symbol_wait: u64,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&text[..i], text[i..].trim()),
        None => (text, ""),
    };
    let n: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 512K, 64M, 1G)"))?;
    let factor: usize = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("`{text}`: unknown unit (use K, M or G)")),
    };
    n.checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is out of range"))
}

fn config_of(args: &ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::embedded(&args.data);
    if let Some(url) = &args.database {
        config.database_url = url.clone();
    }
    match args.store.as_deref() {
        None => {}
        Some(url) if url.starts_with("s3://") => {
            config.store = StoreConfig::S3(S3Options {
                url: url.to_string(),
                endpoint: args.s3_endpoint.clone(),
                region: args.s3_region.clone(),
                access_key_id: args.s3_access_key_id.clone(),
                secret_access_key: args.s3_secret_access_key.clone(),
                allow_http: false,
                virtual_hosted_style: args.s3_virtual_hosted_style,
            })
        }
        Some(url) if url.contains("://") && !url.starts_with("file://") => {
            bail!("--store {url}: use s3://bucket[/prefix] or a local directory")
        }
        Some(dir) => {
            config.store = StoreConfig::Local(PathBuf::from(dir.trim_start_matches("file://")))
        }
    }
    config.ingest_tokens = args
        .ingest_tokens
        .iter()
        .filter(|t| !t.is_empty())
        .cloned()
        .collect();
    config.read_tokens = args
        .read_tokens
        .iter()
        .filter(|t| !t.is_empty())
        .cloned()
        .collect();
    config.limits = Limits {
        max_body: args.max_body_size,
        max_dump: args.max_dump_size,
        max_debug_file: args.max_debug_file_size,
        ..Limits::default()
    };
    config.rate_limit = RateLimit {
        per_second: args.rate_limit.max(0.0),
        burst: args.rate_burst.unwrap_or(args.rate_limit * 2.0).max(1.0),
    };
    config.retention = Retention {
        max_age: (args.retention_days > 0)
            .then(|| Duration::from_secs(args.retention_days * 86_400)),
        max_dumps_per_group: (args.max_dumps_per_group > 0).then_some(args.max_dumps_per_group),
        idempotency_ttl: Duration::from_secs(args.idempotency_ttl_hours.max(1) * 3600),
        interval: Duration::from_secs(args.retention_interval.max(1)),
    };
    config.resymbolicate_interval = Duration::from_secs(args.resymbolicate_interval.max(1));
    config.symbol_cache_size = args.symbol_cache.max(1);
    config.public_url = args.public_url.clone();
    config.cors_origins = args
        .cors_origins
        .iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| coredump_collector::config::parse_cors_origin(o).context("--cors-origin"))
        .collect::<anyhow::Result<_>>()?;
    if let Some(text) = args.sentry_dsn.as_deref().filter(|t| !t.trim().is_empty()) {
        let dsn = Dsn::parse(text).context("--sentry-dsn")?;
        let mut sentry = SentryConfig::new(dsn);
        sentry.symbolication_wait = Duration::from_secs(args.sentry_symbol_wait);
        config.sentry = Some(sentry);
    }
    Ok(config)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_logging(args.log_format);
            let config = config_of(&args)?;
            let collector = Collector::open(config)
                .await
                .context("cannot start the collector")?;
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            let addr = listener.local_addr()?;
            // Scripts (and the crash test) read this line to find the port.
            println!("coredump-collector listening on http://{addr}");
            coredump_collector::serve(collector, listener, shutdown_signal()).await?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("2k").unwrap(), 2048);
        assert!(parse_size("x").is_err());
        assert!(parse_size("0").is_err());
    }

    /// `serve --data /tmp/x` and `extra`, parsed.
    fn args(extra: &[&str]) -> Box<ServeArgs> {
        let cli = Cli::try_parse_from(
            ["coredump-collector", "serve", "--data", "/tmp/x"]
                .iter()
                .chain(extra),
        )
        .unwrap();
        let Command::Serve(args) = cli.command;
        args
    }

    #[test]
    fn sentry_dsn_flag() {
        assert!(config_of(&args(&[])).unwrap().sentry.is_none());
        let config = config_of(&args(&["--sentry-dsn", "https://key@sentry.example/5"])).unwrap();
        assert_eq!(
            config.sentry.unwrap().dsn.envelope_url(),
            "https://sentry.example/api/5/envelope/"
        );
        let err = config_of(&args(&["--sentry-dsn", "https://sentry.example/5"])).unwrap_err();
        assert!(
            format!("{err:#}").contains("--sentry-dsn: invalid Sentry DSN"),
            "{err:#}"
        );
    }

    #[test]
    fn cors_origin_flag() {
        assert!(config_of(&args(&[])).unwrap().cors_origins.is_empty());
        let config = config_of(&args(&[
            "--cors-origin",
            "https://App.example",
            "--cors-origin",
            "http://127.0.0.1:8080,*",
        ]))
        .unwrap();
        assert_eq!(
            config.cors_origins,
            ["https://app.example", "http://127.0.0.1:8080", "*"]
        );
        for bad in ["app.example", "https://app.example/path", "ftp://x.example"] {
            let err = config_of(&args(&["--cors-origin", bad])).unwrap_err();
            let text = format!("{err:#}");
            assert!(
                text.contains("--cors-origin") && text.contains("is not an origin"),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
