//! Mercury's Prometheus metrics (served on `/metrics` with the process frame's): the live map's feed and alerts.

use prometheus::{IntCounter, IntGauge, Registry};

/// The dashboard's metrics, registered in the registry `/metrics` serves.
#[derive(Clone)]
pub struct Metrics {
    /// Events read by the live map's Kafka consumer.
    pub live_events: IntCounter,
    /// Browsers connected to the live map.
    pub live_clients: IntGauge,
    /// Alerts read from the alerts topic and pushed to the browsers.
    pub alerts_received: IntCounter,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> Self {
        Self {
            live_events: packetpulse_ops::register(
                registry,
                IntCounter::new(
                    "mercury_live_events_total",
                    "Events read by the live map's Kafka consumer",
                )
                .expect("valid metric"),
            ),
            live_clients: packetpulse_ops::register(
                registry,
                IntGauge::new("mercury_live_clients", "Browsers connected to the live map")
                    .expect("valid metric"),
            ),
            alerts_received: packetpulse_ops::register(
                registry,
                IntCounter::new(
                    "mercury_alerts_received_total",
                    "Alerts read from the alerts topic and pushed to the browsers",
                )
                .expect("valid metric"),
            ),
        }
    }
}
