//! The crash collector: receives WebAssembly core dumps over HTTP, stores
//! them durably, symbolicates them with the debug files uploaded for their
//! build ids, groups them by a versioned fingerprint and serves them through
//! a JSON API, a web UI and a debuginfod-style symbol server for `wasmgdb`.
//!
//! # Shape
//!
//! - [`Collector`] holds the logic: [`Collector::ingest`],
//!   [`Collector::put_debug_file`], [`Collector::resymbolicate`],
//!   [`Collector::run_retention`].
//! - [`server::router`] maps it to HTTP (see that module for the endpoints).
//! - The index ([`index::Index`]) is SQLite for one instance or PostgreSQL
//!   shared by many; files go to a local directory or an S3-compatible
//!   bucket ([`store`]). Instances keep no state of their own beyond caches
//!   and rate-limit buckets, so any number can share one database and bucket.
//!
//! # Durability
//!
//! An upload is answered `201` only after the dump file is durable (fsync'd
//! file and directory, or a completed S3 PUT) and its index row, group count
//! and idempotency key are committed in one transaction. A crash before the
//! commit leaves at most an unreferenced file; the client, not having had its
//! `201`, retries with the same `Idempotency-Key`.
//!
//! # Symbolication and grouping
//!
//! See [`symbolicate`] (the only module that calls `wasm-symbolicate`) and
//! [`fingerprint`] (in-app rules and the fingerprint format).
//!
//! # Sentry
//!
//! With [`Config::sentry`] set, each new dump is also sent to Sentry as an
//! event, from a durable outbox in the index, by a background worker
//! ([`sentry`]).

pub mod auth;
mod collector;
pub mod config;
pub mod error;
pub mod fingerprint;
pub mod index;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod sentry;
pub mod server;
pub mod store;
pub mod symbolicate;
pub mod ui;

use std::future::Future;
use std::net::SocketAddr;

pub use collector::{
    Collector, IngestRequest, Ingested, RetentionReport, now_ms, parse_build_id_path,
};
pub use config::{Config, Limits, RateLimit, Retention, SentryConfig, StoreConfig};
pub use error::Error;
pub use store::S3Options;

/// Serves `collector` on `listener` until `shutdown` completes, running the
/// background tasks (retention, re-symbolication sweep, Sentry delivery)
/// meanwhile.
pub async fn serve(
    collector: Collector,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = collector.spawn_background_tasks();
    let app = server::router(collector.clone());
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    background.abort();
    // Gone for good before the pools close (the Sentry worker's claims are released there).
    let _ = background.await;
    collector.close().await;
    result
}

/// A collector served on a background task (tests, benchmarks, embedding).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub collector: Collector,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Opens a collector with `config` and serves it on `addr` (port 0 picks one).
    pub async fn start(config: Config, addr: SocketAddr) -> Result<Self, Error> {
        let collector = Collector::open(config).await?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve(collector.clone(), listener, async move {
            let _ = rx.await;
        }));
        Ok(RunningServer {
            addr,
            collector,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for open requests to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
