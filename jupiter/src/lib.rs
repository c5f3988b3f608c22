//! Jupiter, PacketPulse's silver layer: every event of the Kafka topic `sessions`, cleaned and enriched, in the
//! ClickHouse database `packetpulse`.
//!
//! Pipeline: Kafka (group `jupiter`) → [`transform`] (distance, derived speed, session start, teleport flag) →
//! batched inserts into `session_movements`, from which materialised views keep `latest_positions`, `sessions`,
//! `orders` and `vehicles` ([`migrations`]). Offsets are committed after the insert ([`sink`]).

pub mod config;
mod error;
pub mod metrics;
pub mod migrations;
pub mod sink;
pub mod transform;

use std::future::Future;

use tokio::net::TcpListener;

pub use config::Config;
pub use error::Error;
pub use metrics::Metrics;

/// Runs Jupiter until `shutdown` completes, serving `/health` and `/metrics` on the configured address.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    let listener = TcpListener::bind(config.metrics_listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.metrics_listen,
            source,
        })?;
    run_with(&config, &Metrics::new(), listener, shutdown).await
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
