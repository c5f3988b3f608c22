//! Neptune, PacketPulse's bronze layer: every event of the Kafka topic `sessions`, unchanged, in the Apache Iceberg
//! table `bronze.delivery_events` (Parquet on S3 or a local directory), exactly once.
//!
//! [`pipeline`]: [`source`] (Kafka, assigned at the table's offsets) → [`sink`]: [`writer`] (Parquet files per
//! `day(event_time)`) and [`commit`] (fast append whose snapshot summary holds the next offsets, see
//! [`offsets`]). Messages that are not events go to the dead-letter topic (`packetpulse_ops::kafka::dead_letter`);
//! copies of events read shortly before are dropped ([`recent`]). Small files of closed days are rewritten into
//! files of the target size ([`compaction`]).

pub mod catalog;
pub mod commit;
pub mod compaction;
pub mod config;
mod error;
pub mod fence;
pub mod maintenance;
pub mod metrics;
pub mod offsets;
pub mod pipeline;
pub mod recent;
pub mod schema;
pub mod sink;
pub mod source;
pub mod writer;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

pub use config::{Command, Config};
pub use error::Error;
pub use metrics::Metrics;

/// Longest pause between restarts of the sink after a transient failure.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

/// Runs the configured command: the sink until `shutdown` completes (serving `/health` and `/metrics`), or a
/// maintenance command.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    match config.command.clone().unwrap_or(Command::Run) {
        Command::Run => {
            let metrics = Metrics::new();
            let listener = packetpulse_ops::bind(config.metrics_listen, "NEPTUNE_METRICS_LISTEN").await?;
            run_with(&config, &metrics, listener, shutdown).await
        }
        Command::ExpireSnapshots {
            older_than,
            retain_last,
        } => {
            let expired = maintenance::expire_snapshots(&config, older_than, retain_last).await?;
            println!("snapshots: {} before, {} after", expired.before, expired.after);
            Ok(())
        }
        Command::Compact => {
            let catalog = packetpulse_lake::catalog::open(&config.lake).await?;
            let shutdown_token = tokio_util::sync::CancellationToken::new();
            let cancel = shutdown_token.clone();
            tokio::spawn(async move {
                shutdown.await;
                cancel.cancel();
            });
            let done =
                compaction::compact_all(&config, catalog.as_ref(), &Metrics::new(), &shutdown_token).await?;
            for compacted in &done {
                println!("compacted {compacted}");
            }
            println!("{} compactions; nothing left to compact", done.len());
            Ok(())
        }
    }
}

/// Runs the pipeline with its operational endpoints on `listener` until `shutdown` (the entry point of tests,
/// which read both). A transient failure (S3, catalog
/// or Kafka trouble) restarts the sink from the table's offsets after a back-off; a start-up failure of the first
/// attempt (bad configuration, missing bucket) is returned at once.
pub async fn run_with(
    config: &Config,
    metrics: &Metrics,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let operations = packetpulse_ops::Operations::serve(listener, metrics.registry().clone(), shutdown);
    let token = operations.token().clone();
    let compactor = tokio::spawn(compaction::run_periodically(
        config.clone(),
        metrics.clone(),
        token.child_token(),
    ));
    let mut delay = Duration::from_millis(500);
    let mut first = true;
    let result = loop {
        match pipeline::run(config, metrics, &token).await {
            Ok(()) => break Ok(()),
            Err(error) if token.is_cancelled() => break Err(error),
            Err(error) if first && !error.is_transient() => break Err(error),
            Err(Error::Fenced(why)) => {
                // Not a failure: another writer got there first. Re-read from the table at once.
                tracing::warn!(%why, "batch dropped; re-reading from the table's offsets");
                delay = Duration::from_millis(500);
            }
            Err(error) => {
                tracing::error!(%error, retry_in = ?delay, "sink failed; restarting from the table's offsets");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = token.cancelled() => break Ok(()),
                }
                delay = (delay * 2).min(MAX_RESTART_DELAY);
            }
        }
        first = false;
    };
    // The sink stopped for good: so does compaction (a round in progress ends after its current group).
    token.cancel();
    if let Err(error) = compactor.await {
        tracing::error!(%error, "the compaction task panicked");
    }
    operations.finish().await;
    result
}
