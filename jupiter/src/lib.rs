//! Jupiter, PacketPulse's silver layer: every event of the Kafka topic `sessions`, cleaned and enriched, in the
//! ClickHouse database `packetpulse`.
//!
//! [`pipeline`]: [`source`] (Kafka, group `jupiter`) → [`transform`] (distance, derived speed, session start,
//! teleport flag) → [`sink`] (batched inserts into `session_movements`, from which materialised views keep
//! `latest_positions`, `sessions`, `orders` and `vehicles`). Offsets are committed after the insert. Jupiter owns
//! the silver schema ([`migrations`]): Uranus and Mercury read those tables as they are defined there.
//! [`backfill`] recomputes the same tables from the bronze Iceberg table.

pub mod alerting;
pub mod alerts;
pub mod backfill;
pub mod config;
mod error;
pub mod lifecycle;
pub mod metrics;
pub mod migrations;
pub mod pipeline;
pub mod resume;
pub mod retry;
pub mod sink;
pub mod source;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transform;

use std::future::Future;

use tokio::net::TcpListener;

pub use config::{Command, Config};
pub use error::Error;
pub use metrics::Metrics;

/// Runs the configured command: the streaming sink until `shutdown` completes (serving `/health` and `/metrics`
/// on the configured address), or a backfill from bronze.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    config.clickhouse.check_password()?;
    match config.command.clone().unwrap_or(Command::Run) {
        Command::Run => {
            let listener = packetpulse_ops::bind(config.metrics_listen, "JUPITER_METRICS_LISTEN").await?;
            run_with(&config, &Metrics::new(), listener, shutdown).await
        }
        Command::Backfill { .. } => {
            let token = packetpulse_ops::cancel_on(shutdown);
            let report = backfill::backfill(&config, &token).await?;
            println!(
                "backfill {}: {} rows from {} files into {} in {:.1} s ({:.0} rows/s), {} alerts{}{}",
                if report.complete {
                    "complete"
                } else {
                    "stopped early"
                },
                report.rows,
                report.files,
                config.clickhouse.database,
                report.elapsed.as_secs_f64(),
                report.rows as f64 / report.elapsed.as_secs_f64().max(1e-3),
                report.alerts,
                if report.unreadable > 0 {
                    format!("; {} unreadable bronze rows skipped", report.unreadable)
                } else {
                    String::new()
                },
                if report.refused > 0 {
                    format!("; {} events refused for reopening their session", report.refused)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
    }
}

/// Runs the pipeline with its operational endpoints on `listener` until `shutdown` (the entry point of tests,
/// which read both).
pub async fn run_with(
    config: &Config,
    metrics: &Metrics,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let operations = packetpulse_ops::Operations::serve(listener, metrics.registry().clone(), shutdown);
    let result = pipeline::run(config, metrics, operations.token(), operations.health()).await;
    operations.finish().await;
    result
}
