//! What the run did, as Prometheus metrics and as the progress lines and summary Mars prints.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram as Hdr;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

/// Counters shared by all connections.
pub struct Metrics {
    registry: Registry,
    started: Instant,
    /// Events the vehicles produced (injected duplicates included).
    pub events_generated: IntCounter,
    /// Events put in a frame and sent (resends included).
    pub events_sent: IntCounter,
    /// Events Venus acknowledged.
    pub events_acked: IntCounter,
    /// Events Venus refused as invalid (a simulator bug or injected fault; they are not resent).
    pub events_rejected: IntCounter,
    /// Events sent again after a disconnect or a retryable reply.
    pub events_resent: IntCounter,
    /// Sessions that began.
    pub sessions_started: IntCounter,
    /// Sessions whose `completed` event Venus acknowledged.
    pub sessions_completed: IntCounter,
    /// Open, authenticated connections.
    pub connections_up: IntGauge,
    /// Connection attempts after the first.
    pub reconnects: IntCounter,
    ack_latency: Histogram,
    ack_latency_us: Mutex<Hdr<u64>>,
}

/// The end-of-run figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Events produced by the vehicles.
    pub events_generated: u64,
    /// Events acknowledged by Venus.
    pub events_acked: u64,
    /// Events refused by Venus.
    pub events_rejected: u64,
    /// Events resent.
    pub events_resent: u64,
    /// Sessions started.
    pub sessions_started: u64,
    /// Sessions completed (their last event acknowledged).
    pub sessions_completed: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Median frame acknowledgement latency.
    pub ack_p50: Duration,
    /// 99th percentile frame acknowledgement latency.
    pub ack_p99: Duration,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let counter = IntCounter::new(name, help).expect("valid metric");
    registry
        .register(Box::new(counter.clone()))
        .expect("unique metric");
    counter
}

impl Metrics {
    /// Fresh counters in a registry of their own.
    pub fn new() -> Self {
        let registry = Registry::new();
        let connections_up =
            IntGauge::new("mars_connections_up", "Authenticated connections").expect("valid");
        registry
            .register(Box::new(connections_up.clone()))
            .expect("unique metric");
        let ack_latency = Histogram::with_opts(
            HistogramOpts::new("mars_ack_latency_seconds", "Frame sent to its reply").buckets(vec![
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
            ]),
        )
        .expect("valid metric");
        registry
            .register(Box::new(ack_latency.clone()))
            .expect("unique metric");
        Self {
            started: Instant::now(),
            events_generated: counter(
                &registry,
                "mars_events_generated_total",
                "Events produced by vehicles",
            ),
            events_sent: counter(
                &registry,
                "mars_events_sent_total",
                "Events sent, resends included",
            ),
            events_acked: counter(
                &registry,
                "mars_events_acked_total",
                "Events acknowledged by Venus",
            ),
            events_rejected: counter(&registry, "mars_events_rejected_total", "Events refused by Venus"),
            events_resent: counter(&registry, "mars_events_resent_total", "Events sent again"),
            sessions_started: counter(&registry, "mars_sessions_started_total", "Sessions started"),
            sessions_completed: counter(&registry, "mars_sessions_completed_total", "Sessions completed"),
            reconnects: counter(
                &registry,
                "mars_reconnects_total",
                "Connection attempts after the first",
            ),
            connections_up,
            ack_latency,
            ack_latency_us: Mutex::new(Hdr::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")),
            registry,
        }
    }

    /// The registry behind `/metrics`.
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// Records one frame's time from send to reply.
    pub fn record_ack_latency(&self, latency: Duration) {
        self.ack_latency.observe(latency.as_secs_f64());
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        self.ack_latency_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .saturating_record(micros);
    }

    /// The figures so far.
    pub fn summary(&self) -> Summary {
        let hdr = self.ack_latency_us.lock().unwrap_or_else(|p| p.into_inner());
        let percentile = |q: f64| {
            Duration::from_micros(if hdr.is_empty() {
                0
            } else {
                hdr.value_at_quantile(q)
            })
        };
        Summary {
            elapsed: self.started.elapsed(),
            events_generated: self.events_generated.get(),
            events_acked: self.events_acked.get(),
            events_rejected: self.events_rejected.get(),
            events_resent: self.events_resent.get(),
            sessions_started: self.sessions_started.get(),
            sessions_completed: self.sessions_completed.get(),
            reconnects: self.reconnects.get(),
            ack_p50: percentile(0.5),
            ack_p99: percentile(0.99),
        }
    }

    /// One progress line.
    pub fn progress_line(&self) -> String {
        let s = self.summary();
        format!(
            "sessions active {} completed {} | events generated {} sent {} acked {} rejected {} resent {} | \
             ack p50 {:.1} ms p99 {:.1} ms | connections {}",
            s.sessions_started - s.sessions_completed,
            s.sessions_completed,
            s.events_generated,
            self.events_sent.get(),
            s.events_acked,
            s.events_rejected,
            s.events_resent,
            s.ack_p50.as_secs_f64() * 1e3,
            s.ack_p99.as_secs_f64() * 1e3,
            self.connections_up.get(),
        )
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = self.events_acked as f64 / self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "{} of {} sessions completed in {:.1} s; events generated {}, acked {} ({rate:.0}/s), rejected {}, \
             resent {}; reconnects {}; ack latency p50 {:.1} ms, p99 {:.1} ms",
            self.sessions_completed,
            self.sessions_started,
            self.elapsed.as_secs_f64(),
            self.events_generated,
            self.events_acked,
            self.events_rejected,
            self.events_resent,
            self.reconnects,
            self.ack_p50.as_secs_f64() * 1e3,
            self.ack_p99.as_secs_f64() * 1e3,
        )
    }
}
