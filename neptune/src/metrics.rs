//! Prometheus metrics: rows and files written, commit latency, dead letters, copies dropped, consumer lag per
//! partition, compactions.

use std::time::Duration;

use packetpulse_ops::register;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, IntGaugeVec, Opts, Registry};

/// Neptune's metrics, registered in a registry of their own (tests run several sinks in one process).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Rows committed to the table.
    pub rows_committed: IntCounter,
    /// Data files committed to the table.
    pub files_committed: IntCounter,
    /// Bytes of data files committed.
    pub bytes_committed: IntCounter,
    /// Snapshots committed.
    pub commits: IntCounter,
    /// Commit attempts that failed (and were retried).
    pub commit_failures: IntCounter,
    /// Time from the first commit attempt to success.
    pub commit_latency: Histogram,
    /// Rows read and not yet committed.
    pub rows_buffered: IntGauge,
    /// Messages that were not valid events, sent to the dead-letter topic.
    pub dead_lettered: IntCounter,
    /// Batches dropped because another writer moved the table's offsets since they started.
    pub commits_fenced: IntCounter,
    /// Copies of events read within the dedup window, not written again.
    pub duplicates_dropped: IntCounter,
    /// Event ids the dedup window holds.
    pub dedup_window_ids: IntGauge,
    /// High watermark minus the next offset to commit, per partition.
    pub consumer_lag: IntGaugeVec,
    /// Compactions committed (each replaced a group of small files of a closed day with one file).
    pub compactions: IntCounter,
    /// Data files compactions replaced.
    pub files_compacted: IntCounter,
    /// Compaction rounds that failed (retried at the next round).
    pub compaction_failures: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str| register(&registry, IntCounter::new(name, help).expect("valid metric"));
        let rows_committed = counter(
            "neptune_rows_committed_total",
            "Rows committed to the bronze table",
        );
        let files_committed = counter("neptune_files_committed_total", "Data files committed");
        let bytes_committed = counter("neptune_bytes_committed_total", "Bytes of data files committed");
        let commits = counter("neptune_commits_total", "Snapshots committed");
        let commit_failures = counter("neptune_commit_failures_total", "Commit attempts that failed");
        let dead_lettered = counter(
            "neptune_dead_lettered_total",
            "Messages that were not valid events, sent to the dead-letter topic",
        );
        let commits_fenced = counter(
            "neptune_commits_fenced_total",
            "Batches dropped because another writer moved the table's offsets since they started",
        );
        let duplicates_dropped = counter(
            "neptune_duplicates_dropped_total",
            "Copies of events read within the dedup window (same event id), not written again",
        );
        let compactions = counter(
            "neptune_compactions_total",
            "Compactions committed: small files of a closed day rewritten as one",
        );
        let files_compacted = counter("neptune_files_compacted_total", "Data files compactions replaced");
        let compaction_failures = counter(
            "neptune_compaction_failures_total",
            "Compaction rounds that failed (retried at the next round)",
        );
        let dedup_window_ids = register(
            &registry,
            IntGauge::new("neptune_dedup_window_ids", "Event ids the dedup window holds")
                .expect("valid metric"),
        );
        let commit_latency = register(
            &registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    "neptune_commit_seconds",
                    "Time to commit a snapshot, retries included",
                )
                .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            )
            .expect("valid metric"),
        );
        let rows_buffered = register(
            &registry,
            IntGauge::new("neptune_rows_buffered", "Rows read and not yet committed").expect("valid metric"),
        );
        let consumer_lag = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "neptune_consumer_lag",
                    "Messages in Kafka not yet committed to the table",
                ),
                &["partition"],
            )
            .expect("valid metric"),
        );
        Self {
            registry,
            rows_committed,
            files_committed,
            bytes_committed,
            commits,
            commit_failures,
            commit_latency,
            rows_buffered,
            dead_lettered,
            commits_fenced,
            duplicates_dropped,
            dedup_window_ids,
            consumer_lag,
            compactions,
            files_compacted,
            compaction_failures,
        }
    }

    /// The registry to serve on `/metrics`.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts a landed commit of `rows` rows in `files` data files of `bytes` bytes in all, `took` long.
    pub fn record_commit(&self, rows: usize, files: usize, bytes: u64, took: Duration) {
        self.commits.inc();
        self.rows_committed.inc_by(rows as u64);
        self.files_committed.inc_by(files as u64);
        self.bytes_committed.inc_by(bytes);
        self.commit_latency.observe(took.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
