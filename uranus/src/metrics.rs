//! Prometheus metrics of `uranus serve`: per model, the last build's duration and rows, the rows an incremental
//! refresh copied, the time of its last success, and failures.

use packetpulse_ops::register;
use prometheus::{GaugeVec, IntCounter, IntCounterVec, Opts, Registry};

use crate::runner::{ModelResult, Outcome};

/// Uranus' metrics, registered in a registry of their own (tests run several in one process).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Seconds the last build of each model took.
    pub model_seconds: GaugeVec,
    /// Rows of each table model after its last build.
    pub model_rows: GaugeVec,
    /// Old rows the last incremental refresh of each model copied.
    pub model_rows_copied: GaugeVec,
    /// Unix time of each model's last successful build.
    pub model_last_success: GaugeVec,
    /// Builds that failed or were skipped, per model.
    pub model_failures: IntCounterVec,
    /// Refresh rounds run.
    pub runs: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| {
            register(
                &registry,
                GaugeVec::new(Opts::new(name, help), &["model"]).expect("valid metric"),
            )
        };
        let model_seconds = gauge("uranus_model_seconds", "Duration of the model's last build");
        let model_rows = gauge(
            "uranus_model_rows",
            "Rows of the table model after its last build",
        );
        let model_rows_copied = gauge(
            "uranus_model_rows_copied",
            "Old rows the model's last incremental refresh copied into its new version",
        );
        let model_last_success = gauge(
            "uranus_model_last_success_timestamp_seconds",
            "Unix time of the model's last successful build",
        );
        let model_failures = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "uranus_model_failures_total",
                    "Builds that failed or were skipped",
                ),
                &["model"],
            )
            .expect("valid metric"),
        );
        let runs = register(
            &registry,
            IntCounter::new("uranus_runs_total", "Refresh rounds run").expect("valid metric"),
        );
        Self {
            registry,
            model_seconds,
            model_rows,
            model_rows_copied,
            model_last_success,
            model_failures,
            runs,
        }
    }

    /// Records one round's results.
    pub fn record(&self, results: &[ModelResult]) {
        self.runs.inc();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        for result in results {
            let model = [result.model.as_str()];
            self.model_seconds
                .with_label_values(&model)
                .set(result.duration.as_secs_f64());
            match &result.outcome {
                Outcome::Built { rows, copied, .. } => {
                    self.model_last_success.with_label_values(&model).set(now);
                    if let Some(rows) = rows {
                        self.model_rows.with_label_values(&model).set(*rows as f64);
                    }
                    if let Some(copied) = copied {
                        self.model_rows_copied
                            .with_label_values(&model)
                            .set(*copied as f64);
                    }
                }
                Outcome::Failed(_) | Outcome::Skipped { .. } => {
                    self.model_failures.with_label_values(&model).inc();
                }
            }
        }
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
