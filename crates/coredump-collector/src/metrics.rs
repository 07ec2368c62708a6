//! Prometheus metrics, kept by hand: atomic counters and fixed-bucket
//! histograms, rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A latency histogram.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Every metric the collector keeps.
#[derive(Default)]
pub struct Metrics {
    pub dumps_received: AtomicU64,
    pub dump_bytes_received: AtomicU64,
    pub dumps_duplicate: AtomicU64,
    pub groups_created: AtomicU64,
    pub debug_files_uploaded: AtomicU64,
    pub dumps_resymbolicated: AtomicU64,
    pub dumps_expired: AtomicU64,
    pub dumps_pruned: AtomicU64,
    /// Events Sentry accepted.
    pub sentry_sent: AtomicU64,
    /// Failed delivery attempts that will be tried again.
    pub sentry_retried: AtomicU64,
    /// Events given up on (permanent refusal, or out of attempts).
    pub sentry_dropped: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    pub ingest_duration: Histogram,
    pub symbolication_duration: Histogram,
    pub store_put_duration: Histogram,
}

/// Values read from the index when scraped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub dumps: i64,
    pub stored: i64,
    pub groups: i64,
    pub debug_files: i64,
    pub waiting: i64,
    pub sentry_outbox: i64,
    pub symbol_cache: usize,
    pub up: bool,
}

impl Metrics {
    pub fn reject(&self, reason: &'static str) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    pub fn rejected(&self, reason: &str) -> u64 {
        self.rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(reason)
            .copied()
            .unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "collector_dumps_received_total",
            "Dumps accepted and stored.",
            load(&self.dumps_received),
        );
        counter(
            &mut out,
            "collector_dump_bytes_received_total",
            "Bytes of accepted dumps, after decompression.",
            load(&self.dump_bytes_received),
        );
        counter(
            &mut out,
            "collector_dumps_duplicate_total",
            "Uploads answered from an earlier one with the same Idempotency-Key.",
            load(&self.dumps_duplicate),
        );
        counter(
            &mut out,
            "collector_groups_created_total",
            "Groups created by ingested dumps.",
            load(&self.groups_created),
        );
        counter(
            &mut out,
            "collector_debug_files_uploaded_total",
            "Debug files accepted.",
            load(&self.debug_files_uploaded),
        );
        counter(
            &mut out,
            "collector_dumps_resymbolicated_total",
            "Dumps symbolicated again after their debug file arrived.",
            load(&self.dumps_resymbolicated),
        );
        counter(
            &mut out,
            "collector_dumps_expired_total",
            "Dumps deleted for age.",
            load(&self.dumps_expired),
        );
        counter(
            &mut out,
            "collector_dumps_pruned_total",
            "Dump files removed by the per-group cap (rows and counts kept).",
            load(&self.dumps_pruned),
        );
        counter(
            &mut out,
            "collector_sentry_events_sent_total",
            "Dumps Sentry accepted as events.",
            load(&self.sentry_sent),
        );
        counter(
            &mut out,
            "collector_sentry_events_retried_total",
            "Failed Sentry deliveries that will be tried again.",
            load(&self.sentry_retried),
        );
        counter(
            &mut out,
            "collector_sentry_events_dropped_total",
            "Events given up on: refused by Sentry, or out of attempts.",
            load(&self.sentry_dropped),
        );
        let _ = writeln!(
            out,
            "# HELP collector_uploads_rejected_total Uploads refused, by reason.\n# TYPE collector_uploads_rejected_total counter"
        );
        for (reason, count) in self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "collector_uploads_rejected_total{{reason=\"{reason}\"}} {count}"
            );
        }
        self.ingest_duration.render(
            &mut out,
            "collector_ingest_duration_seconds",
            "Time from request to reply for accepted dumps.",
        );
        self.symbolication_duration.render(
            &mut out,
            "collector_symbolication_duration_seconds",
            "Time to symbolicate one dump's stack.",
        );
        self.store_put_duration.render(
            &mut out,
            "collector_store_put_duration_seconds",
            "Time to store one dump file durably.",
        );
        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "collector_up",
            "Whether the index answered this scrape.",
            gauges.up as i64,
        );
        gauge(
            &mut out,
            "collector_dumps",
            "Dumps in the index.",
            gauges.dumps,
        );
        gauge(
            &mut out,
            "collector_dumps_stored",
            "Dumps whose file is still stored.",
            gauges.stored,
        );
        gauge(
            &mut out,
            "collector_groups",
            "Groups in the index.",
            gauges.groups,
        );
        gauge(
            &mut out,
            "collector_debug_files",
            "Debug files stored.",
            gauges.debug_files,
        );
        gauge(
            &mut out,
            "collector_dumps_waiting_for_debug_files",
            "Dumps waiting for a debug file.",
            gauges.waiting,
        );
        gauge(
            &mut out,
            "collector_sentry_outbox",
            "Events waiting to be sent to Sentry.",
            gauges.sentry_outbox,
        );
        gauge(
            &mut out,
            "collector_symbol_cache_entries",
            "Debug files open in this instance's cache.",
            gauges.symbol_cache as i64,
        );
        out
    }
}
