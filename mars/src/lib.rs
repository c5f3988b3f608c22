//! Mars, PacketPulse's fleet simulator: vehicles drive delivery sessions along real road routes and stream their
//! GPS and status events to Venus over WebSocket, keeping every event until Venus acknowledges it.
//!
//! Pipeline: source = the simulated fleet (`fleet`, `routes`), sink = Venus over WebSocket (`connection`).

mod clock;
mod config;
mod connection;
mod error;
mod events_log;
pub mod fleet;
mod metrics;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use config::{Config, Mode};
pub use error::Error;
pub use metrics::Summary;

use packetpulse_ops::Operations;

use crate::connection::Shared;
use crate::events_log::EventsLog;
use crate::fleet::{Driving, Vehicle};
use crate::metrics::Metrics;

/// Runs the fleet until every session is complete and acknowledged (`until-complete`) or until `shutdown`
/// completes, printing progress along the way; returns the run's figures.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, Error> {
    config.validate()?;
    let routes = match &config.routes {
        Some(path) => routes::load(path)?,
        None => routes::built_in()?,
    };
    let metrics = Arc::new(Metrics::new());
    let listener = packetpulse_ops::bind(config.metrics_listen, "MARS_METRICS_LISTEN").await?;
    let operations = Operations::serve(listener, metrics.registry(), shutdown);
    let driving = config.driving();
    let fleet = fleet_by_connection(&config, &driving);
    let events_log = config.events_log.as_deref().map(EventsLog::create).transpose()?;
    tracing::info!(
        vehicles = config.vehicles,
        connections = config.connections,
        routes = routes.len(),
        venus = %config.venus_url,
        "mars starting"
    );
    let sim_start = clock::simulated_start(&config, &routes, chrono::Utc::now());
    let shared = Arc::new(Shared {
        config,
        routes,
        driving,
        metrics: metrics.clone(),
        events_log,
        sim_start,
    });
    let progress = tokio::spawn(report_progress(metrics.clone(), shared.config.progress_interval));
    let driven = drive(&shared, fleet, operations.token()).await;
    progress.abort();
    operations.finish().await;
    if let Some(log) = &shared.events_log {
        log.flush()?;
    }
    driven?;
    let summary = metrics.summary();
    tracing::info!("mars finished: {summary}");
    Ok(summary)
}

/// The vehicles, dealt round-robin to the configured number of connections.
fn fleet_by_connection(config: &Config, driving: &Driving) -> Vec<Vec<Vehicle>> {
    let mut shards: Vec<Vec<Vehicle>> = (0..config.connections).map(|_| Vec::new()).collect();
    for index in 0..config.vehicles {
        shards[index % config.connections].push(Vehicle::new(index, config.seed, driving));
    }
    shards
}

/// Drives every connection's vehicles until they are done (or `stop`); a refused credential stops them all,
/// since one refused credential means all are.
async fn drive(
    shared: &Arc<Shared>,
    fleet: Vec<Vec<Vehicle>>,
    stop: &CancellationToken,
) -> Result<(), Error> {
    let drivers: Vec<_> = fleet
        .into_iter()
        .filter(|vehicles| !vehicles.is_empty())
        .map(|vehicles| tokio::spawn(connection::drive(shared.clone(), vehicles, stop.clone())))
        .collect();
    let mut result = Ok(());
    for driver in drivers {
        let outcome = driver
            .await
            .unwrap_or_else(|e| Err(Error::Config(format!("connection task failed: {e}"))));
        if let Err(error) = outcome {
            stop.cancel();
            result = result.and(Err(error));
        }
    }
    stop.cancel();
    result
}

async fn report_progress(metrics: Arc<Metrics>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.tick().await;
    loop {
        interval.tick().await;
        tracing::info!("{}", metrics.progress_line());
    }
}
