//! Prometheus metrics: rows inserted, batch latency, insert failures, freshness, consumer lag, dead letters, sessions
//! held in memory.

use packetpulse_model::DeliveryStatus;
use packetpulse_ops::register;
use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// Jupiter's metrics, registered in a registry of their own (tests run several in one process).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Rows inserted into `session_movements`: the `table="session_movements"` child of
    /// [`Metrics::rows_inserted_by_table`].
    pub rows_inserted: IntCounter,
    /// Rows written per table: `session_movements` as inserted, the views as their query yields them for each
    /// insert (`latest_positions` every row, `orders` the completed ones, `sessions` and `vehicles` one row per
    /// distinct session or vehicle of the batch, merged later).
    pub rows_inserted_by_table: IntCounterVec,
    /// Batches inserted.
    pub batches: IntCounter,
    /// Insert attempts that failed and were retried.
    pub insert_failures: IntCounter,
    /// Time from a batch's first row to its successful insert.
    pub batch_latency: Histogram,
    /// Now minus the newest event time inserted, seconds, at the last insert.
    pub freshness: Gauge,
    /// Messages that were not valid events, sent to the dead-letter topic.
    pub dead_lettered: IntCounter,
    /// High watermark minus committed offset, per partition.
    pub consumer_lag: IntGaugeVec,
    /// Sessions whose history the enricher holds.
    pub sessions_held: IntGauge,
    /// Sessions forgotten for being idle longer than `JUPITER_SESSION_IDLE_TIMEOUT`.
    pub sessions_evicted_idle: IntGauge,
    /// Copies of events already turned into rows (same id), not inserted again.
    pub copies_dropped: IntGauge,
    /// Partitions of the topic the consumer group assigns to this instance (measured with the lag).
    pub partitions_assigned: IntGauge,
    /// Alerts raised and published, per kind (a replay raises an alert again under the same id).
    pub alerts_raised: IntCounterVec,
    /// Geofences in force.
    pub geofences: IntGauge,
    /// Sessions the alert detector follows.
    pub alert_sessions: IntGauge,
    /// Per-rule threshold overrides from Mercury in force.
    pub alert_rule_overrides: IntGauge,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str| register(&registry, IntCounter::new(name, help).expect("valid metric"));
        let rows_inserted_by_table = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "jupiter_rows_inserted_total",
                    "Rows written per silver table (views: as their query yields them per insert)",
                ),
                &["table"],
            )
            .expect("valid metric"),
        );
        let rows_inserted =
            rows_inserted_by_table.with_label_values(&[packetpulse_model::clickhouse::SESSION_MOVEMENTS]);
        let batches = counter("jupiter_batches_total", "Batches inserted");
        let insert_failures = counter("jupiter_insert_failures_total", "Insert attempts that failed");
        let dead_lettered = counter(
            "jupiter_dead_lettered_total",
            "Messages sent to the dead-letter topic",
        );
        let batch_latency = register(
            &registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    "jupiter_batch_seconds",
                    "Time from a batch's first row to its insert",
                )
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0]),
            )
            .expect("valid metric"),
        );
        let freshness = register(
            &registry,
            Gauge::new(
                "jupiter_freshness_seconds",
                "Now minus the newest event time inserted, at the last insert",
            )
            .expect("valid metric"),
        );
        let consumer_lag = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("jupiter_consumer_lag", "Messages in Kafka not yet inserted"),
                &["partition"],
            )
            .expect("valid metric"),
        );
        let gauge =
            |name: &str, help: &str| register(&registry, IntGauge::new(name, help).expect("valid metric"));
        let sessions_held = gauge(
            "jupiter_sessions_held",
            "Sessions whose history the enricher holds",
        );
        let sessions_evicted_idle = gauge(
            "jupiter_sessions_evicted_idle",
            "Sessions forgotten for being idle, since start",
        );
        let copies_dropped = gauge(
            "jupiter_copies_dropped",
            "Copies of events already turned into rows (same id), not inserted again, since start",
        );
        let partitions_assigned = gauge(
            "jupiter_partitions_assigned",
            "Partitions of the topic the consumer group assigns to this instance",
        );
        let alerts_raised = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "jupiter_alerts_raised_total",
                    "Alerts raised and published, per kind",
                ),
                &["kind"],
            )
            .expect("valid metric"),
        );
        let geofences = gauge("jupiter_geofences", "Geofences in force");
        let alert_sessions = gauge("jupiter_alert_sessions", "Sessions the alert detector follows");
        let alert_rule_overrides = gauge(
            "jupiter_alert_rule_overrides",
            "Per-rule alert threshold overrides from Mercury in force",
        );
        Self {
            registry,
            alerts_raised,
            geofences,
            alert_sessions,
            alert_rule_overrides,
            copies_dropped,
            partitions_assigned,
            sessions_held,
            sessions_evicted_idle,
            rows_inserted,
            rows_inserted_by_table,
            batches,
            insert_failures,
            batch_latency,
            freshness,
            dead_lettered,
            consumer_lag,
        }
    }

    /// Counts what an insert of `rows` wrote to every silver table.
    pub fn record_rows(&self, rows: &[crate::transform::Movement]) {
        use packetpulse_model::clickhouse::{LATEST_POSITIONS, ORDERS, SESSIONS, VEHICLES};
        use std::collections::HashSet;
        let count = |table: &str, n: usize| {
            self.rows_inserted_by_table
                .with_label_values(&[table])
                .inc_by(n as u64)
        };
        count(LATEST_POSITIONS, rows.len());
        let completed = rows
            .iter()
            .filter(|row| row.status == DeliveryStatus::Completed.as_str())
            .count();
        count(ORDERS, completed);
        let sessions: HashSet<&str> = rows.iter().map(|row| row.session_id.as_str()).collect();
        count(SESSIONS, sessions.len());
        let vehicles: HashSet<&str> = rows.iter().map(|row| row.vehicle_id.as_str()).collect();
        count(VEHICLES, vehicles.len());
        // Last: whoever waits for `rows_inserted` to reach a total then reads every other table's count complete.
        self.rows_inserted.inc_by(rows.len() as u64);
    }

    /// The registry to serve on `/metrics`.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
