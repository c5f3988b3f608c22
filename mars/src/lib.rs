//! Mars, PacketPulse's fleet simulator: vehicles drive delivery sessions along real road routes and stream their
//! GPS and status events to Venus over WebSocket, keeping every event until Venus acknowledges it.
//!
//! Pipeline: source = the simulated fleet (`fleet`, `routes`), sink = Venus over WebSocket (`connection`).

mod config;
mod connection;
mod error;
mod events_log;
pub mod fleet;
pub mod routes;
mod stats;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use config::{Config, Mode};
pub use error::Error;
pub use stats::Summary;

use crate::connection::Shared;
use crate::events_log::EventsLog;
use crate::fleet::{Driving, Faults, Vehicle};
use crate::stats::Stats;

/// Runs the fleet until every session is complete and acknowledged (`until-complete`) or until `shutdown`
/// completes, printing progress along the way; returns the run's figures.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, Error> {
    validate(&config)?;
    let routes = match &config.routes {
        Some(path) => routes::load(path)?,
        None => routes::built_in()?,
    };
    let stats = Arc::new(Stats::new());
    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::select! {
                () = shutdown => stop.cancel(),
                () = stop.cancelled() => {},
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(config.metrics_listen)
        .await
        .map_err(|source| Error::Metrics {
            addr: config.metrics_listen,
            source,
        })?;
    let ops_stop = CancellationToken::new();
    let ops = tokio::spawn(packetpulse_ops::serve_ops(listener, stats.registry(), {
        let ops_stop = ops_stop.clone();
        async move { ops_stop.cancelled().await }
    }));

    let step = config.step();
    let driving = Driving {
        step,
        speed_kmh: (config.min_speed_kmh, config.max_speed_kmh),
        max_wait_ticks: (config.start_spread.as_secs_f64() / step.as_secs_f64().max(1e-9)) as u64,
        sessions_per_vehicle: match config.mode {
            Mode::UntilComplete => Some(config.sessions_per_vehicle),
            Mode::Continuous => None,
        },
        faults: Faults {
            gps_jitter_m: config.gps_jitter_m,
            duplicate_rate: config.duplicate_rate,
            out_of_order_rate: config.out_of_order_rate,
        },
    };
    let mut shards: Vec<Vec<Vehicle>> = (0..config.connections).map(|_| Vec::new()).collect();
    for index in 0..config.vehicles {
        shards[index % config.connections].push(Vehicle::new(index, config.seed, &driving));
    }
    let events_log = config.events_log.as_deref().map(EventsLog::create).transpose()?;
    tracing::info!(
        vehicles = config.vehicles,
        connections = config.connections,
        routes = routes.len(),
        venus = %config.venus_url,
        "mars starting"
    );
    let shared = Arc::new(Shared {
        config: config.clone(),
        routes,
        driving,
        stats: stats.clone(),
        events_log,
        sim_start: chrono::Utc::now(),
    });
    let progress = tokio::spawn(report_progress(stats.clone(), config.progress_interval));
    let drivers: Vec<_> = shards
        .into_iter()
        .filter(|shard| !shard.is_empty())
        .map(|shard| tokio::spawn(connection::drive(shared.clone(), shard, stop.clone())))
        .collect();
    let mut result = Ok(());
    for driver in drivers {
        let outcome = driver
            .await
            .unwrap_or_else(|e| Err(Error::Config(format!("connection task failed: {e}"))));
        if let Err(error) = outcome {
            // One refused credential means all are: stop the others too.
            stop.cancel();
            result = result.and(Err(error));
        }
    }
    stop.cancel();
    progress.abort();
    ops_stop.cancel();
    let _ = ops.await;
    if let Some(log) = &shared.events_log {
        log.flush()?;
    }
    result?;
    let summary = stats.summary();
    tracing::info!("mars finished: {summary}");
    Ok(summary)
}

fn validate(config: &Config) -> Result<(), Error> {
    let problems: Vec<String> = [
        (
            config.vehicles == 0,
            "MARS_VEHICLES must be at least 1".to_string(),
        ),
        (
            config.connections == 0,
            "MARS_CONNECTIONS must be at least 1".into(),
        ),
        (
            config.batch_size == 0,
            "MARS_BATCH_SIZE must be at least 1".into(),
        ),
        (
            config.max_frames_in_flight == 0,
            "MARS_MAX_FRAMES_IN_FLIGHT must be at least 1".into(),
        ),
        (config.interval.is_zero(), "MARS_INTERVAL must be positive".into()),
        (config.step().is_zero(), "MARS_STEP must be positive".into()),
        (
            !(config.min_speed_kmh > 0.0 && config.min_speed_kmh <= config.max_speed_kmh),
            "speeds must satisfy 0 < MARS_MIN_SPEED_KMH <= MARS_MAX_SPEED_KMH".into(),
        ),
        (
            !(0.0..=1.0).contains(&config.duplicate_rate),
            "MARS_DUPLICATE_RATE must be in [0, 1]".into(),
        ),
        (
            !(0.0..=1.0).contains(&config.out_of_order_rate),
            "MARS_OUT_OF_ORDER_RATE must be in [0, 1]".into(),
        ),
        (
            config.gps_jitter_m.is_nan() || config.gps_jitter_m < 0.0,
            "MARS_GPS_JITTER_M must be >= 0".into(),
        ),
    ]
    .into_iter()
    .filter_map(|(bad, message)| bad.then_some(message))
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Config(problems.join("; ")))
    }
}

async fn report_progress(stats: Arc<Stats>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.tick().await;
    loop {
        interval.tick().await;
        tracing::info!("{}", stats.progress_line());
    }
}
