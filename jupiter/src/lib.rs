//! Jupiter, PacketPulse's silver layer: every event of the Kafka topic `sessions`, cleaned and enriched, in the
//! ClickHouse database `packetpulse`.
//!
//! Pipeline: Kafka (group `jupiter`) → [`transform`] (distance, derived speed, session start, teleport flag) →
//! batched inserts into `session_movements`, from which materialised views keep `latest_positions`, `sessions`,
//! `orders` and `vehicles` ([`migrations`]). Offsets are committed after the insert ([`sink`], [`writer`]).
//! [`backfill`] recomputes the same tables from the bronze Iceberg table.

pub mod backfill;
pub mod config;
mod error;
pub mod metrics;
pub mod migrations;
pub mod resume;
pub mod sink;
pub mod transform;
pub mod writer;

use std::future::Future;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Command, Config};
pub use error::Error;
pub use metrics::Metrics;

/// Runs the configured command: the streaming sink until `shutdown` completes (serving `/health` and `/metrics`
/// on the configured address), or a backfill from bronze.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    match config.command.clone().unwrap_or(Command::Run) {
        Command::Run => {
            let listener = packetpulse_ops::bind(config.metrics_listen, "JUPITER_METRICS_LISTEN").await?;
            run_with(&config, &Metrics::new(), listener, shutdown).await
        }
        Command::Backfill { .. } => {
            let token = CancellationToken::new();
            let cancel_on_shutdown = token.clone().drop_guard();
            tokio::spawn(async move {
                shutdown.await;
                drop(cancel_on_shutdown);
            });
            let report = backfill::backfill(&config, &token).await?;
            println!(
                "backfill {}: {} rows from {} files into {} in {:.1} s ({:.0} rows/s){}",
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
                if report.unreadable > 0 {
                    format!("; {} unreadable bronze rows skipped", report.unreadable)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
    }
}

/// [`run`] with the metrics and listener given (tests read both).
pub async fn run_with(
    config: &Config,
    metrics: &Metrics,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let operations = packetpulse_ops::Operations::start(listener, metrics.registry().clone(), shutdown);
    let result = sink::run_sink(config, metrics, operations.token()).await;
    operations.finish().await;
    result
}
