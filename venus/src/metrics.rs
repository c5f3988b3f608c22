//! Prometheus metrics: connections, frames, events accepted and rejected by reason, publish latency.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Venus' metrics, registered in a registry of their own (no globals: tests run several Venus at once).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Frames received and not yet answered, all connections.
    pub frames_in_flight: IntGauge,
    /// Connections waiting to authenticate.
    pub unauthenticated: IntGauge,
    /// Connections refused or closed by Venus, by reason (`limit`, `auth`, `auth_timeout`, `evicted`: a newer
    /// unauthenticated connection from the same address, `not_reading`: replies not taken, `revoked`).
    pub connections_refused: IntCounterVec,
    /// Data frames answered, by outcome (`received`, `rejected`, `failed`).
    pub frames: IntCounterVec,
    /// Events Kafka acknowledged.
    pub events_accepted: IntCounter,
    /// Events refused, by reason: the field that failed validation, or a frame-level reason.
    pub events_rejected: IntCounterVec,
    /// Valid events Kafka did not acknowledge in time.
    pub events_failed: IntCounter,
    /// Time from enqueueing a frame's events to Kafka's last acknowledgement.
    pub publish_latency: Histogram,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let connections =
            IntGauge::new("venus_connections", "Open WebSocket connections").expect("valid metric");
        let frames_in_flight =
            IntGauge::new("venus_frames_in_flight", "Frames received and not yet answered")
                .expect("valid metric");
        let unauthenticated = IntGauge::new(
            "venus_unauthenticated_connections",
            "Connections waiting to authenticate",
        )
        .expect("valid metric");
        let connections_refused = IntCounterVec::new(
            Opts::new(
                "venus_connections_refused_total",
                "Connections refused, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let frames = IntCounterVec::new(
            Opts::new("venus_frames_total", "Data frames answered, by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let events_accepted = IntCounter::new("venus_events_accepted_total", "Events acknowledged by Kafka")
            .expect("valid metric");
        let events_rejected = IntCounterVec::new(
            Opts::new(
                "venus_events_rejected_total",
                "Events refused and dead-lettered, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let events_failed = IntCounter::new(
            "venus_events_failed_total",
            "Valid events Kafka did not acknowledge in time (answered as retryable)",
        )
        .expect("valid metric");
        let publish_latency = Histogram::with_opts(
            HistogramOpts::new(
                "venus_publish_latency_seconds",
                "Enqueue to last Kafka acknowledgement, per frame",
            )
            .buckets(vec![
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
            ]),
        )
        .expect("valid metric");
        for collector in [
            Box::new(connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(frames_in_flight.clone()),
            Box::new(unauthenticated.clone()),
            Box::new(connections_refused.clone()),
            Box::new(frames.clone()),
            Box::new(events_accepted.clone()),
            Box::new(events_rejected.clone()),
            Box::new(events_failed.clone()),
            Box::new(publish_latency.clone()),
        ] {
            registry.register(collector).expect("metric names are unique");
        }
        Self {
            registry,
            connections,
            frames_in_flight,
            unauthenticated,
            connections_refused,
            frames,
            events_accepted,
            events_rejected,
            events_failed,
            publish_latency,
        }
    }

    /// The registry the metrics are in (served on `/metrics`).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
