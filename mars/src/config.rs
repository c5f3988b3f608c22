//! Mars' configuration: one struct, from command-line flags or environment variables (see README.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::Error;
use crate::fleet::{Driving, Faults};

/// Whether the fleet stops after its sessions or keeps delivering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Every vehicle drives its sessions, then Mars waits for the last acknowledgement and exits (the original).
    UntilComplete,
    /// Vehicles start a new session after each delivery, until Mars is stopped.
    Continuous,
}

/// Everything Mars needs to run.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mars",
    version,
    about = "PacketPulse fleet simulator: vehicles on real routes, streamed to Venus"
)]
pub struct Config {
    /// Venus' WebSocket URL.
    #[arg(long, env = "MARS_VENUS_URL", default_value = "ws://127.0.0.1:8000/ws")]
    pub venus_url: String,

    /// API key to authenticate with, one of Venus' `VENUS_API_KEYS` (no default: `make up` generates it).
    #[arg(long, env = "MARS_API_KEY", default_value = "", hide_env_values = true)]
    pub api_key: String,

    /// Device JWT to authenticate with instead of the API key (sent as `Authorization: Bearer`).
    #[arg(long, env = "MARS_JWT", hide_env_values = true)]
    pub jwt: Option<String>,

    /// Number of vehicles.
    #[arg(long, env = "MARS_VEHICLES", default_value_t = 10)]
    pub vehicles: usize,

    /// Sessions each vehicle drives in `until-complete` mode.
    #[arg(long, env = "MARS_SESSIONS_PER_VEHICLE", default_value_t = 1)]
    pub sessions_per_vehicle: usize,

    /// Run mode.
    #[arg(long, env = "MARS_MODE", value_enum, default_value_t = Mode::UntilComplete)]
    pub mode: Mode,

    /// Wall-clock time between two events of a vehicle.
    #[arg(long, env = "MARS_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,

    /// Simulated driving time per event (defaults to the interval; larger values fast-forward the fleet).
    #[arg(long, env = "MARS_STEP", value_parser = humantime::parse_duration)]
    pub step: Option<Duration>,

    /// Vehicles start within this much simulated time of each other (and pause this long at most between
    /// sessions in continuous mode).
    #[arg(long, env = "MARS_START_SPREAD", default_value = "30s", value_parser = humantime::parse_duration)]
    pub start_spread: Duration,

    /// Slowest cruising speed, km/h.
    #[arg(long, env = "MARS_MIN_SPEED_KMH", default_value_t = 25.0)]
    pub min_speed_kmh: f64,

    /// Fastest cruising speed, km/h.
    #[arg(long, env = "MARS_MAX_SPEED_KMH", default_value_t = 50.0)]
    pub max_speed_kmh: f64,

    /// GeoJSON file or directory of files with LineString routes; default: the ten Athens routes built in.
    #[arg(long, env = "MARS_ROUTES")]
    pub routes: Option<PathBuf>,

    /// Seed for routes, speeds, start times and faults: the same seed drives the same fleet.
    #[arg(long, env = "MARS_SEED", default_value_t = 1)]
    pub seed: u64,

    /// Reuse the seed's session and order ids as well: the run re-sends the very same trips (to reproduce a
    /// run exactly). By default every run gets fresh ids, so a restarted simulator never reopens a trip an
    /// earlier run completed.
    #[arg(long, env = "MARS_REPLAY_EXACT", default_value_t = false, action = clap::ArgAction::Set)]
    pub replay_exact: bool,

    /// WebSocket connections the fleet is multiplexed over.
    #[arg(long, env = "MARS_CONNECTIONS", default_value_t = 4)]
    pub connections: usize,

    /// Most events per frame.
    #[arg(long, env = "MARS_BATCH_SIZE", default_value_t = 100)]
    pub batch_size: usize,

    /// Frames sent but not yet answered, per connection.
    #[arg(long, env = "MARS_MAX_FRAMES_IN_FLIGHT", default_value_t = 32)]
    pub max_frames_in_flight: usize,

    /// Events a connection may hold unacknowledged (queued or in flight) before its vehicles pause.
    #[arg(long, env = "MARS_MAX_BUFFERED_EVENTS", default_value_t = 1_000_000)]
    pub max_buffered_events: usize,

    /// Fault injection: random GPS noise of up to this many metres on the current position.
    #[arg(long, env = "MARS_GPS_JITTER_M", default_value_t = 0.0)]
    pub gps_jitter_m: f64,

    /// Fault injection: probability that an event is sent twice (same event id).
    #[arg(long, env = "MARS_DUPLICATE_RATE", default_value_t = 0.0)]
    pub duplicate_rate: f64,

    /// Fault injection: probability that an event is held back and sent after the vehicle's next one.
    #[arg(long, env = "MARS_OUT_OF_ORDER_RATE", default_value_t = 0.0)]
    pub out_of_order_rate: f64,

    /// Fault injection: drop every connection abruptly this often (no close handshake).
    #[arg(long, env = "MARS_DROP_CONNECTION_EVERY", value_parser = humantime::parse_duration)]
    pub drop_connection_every: Option<Duration>,

    /// Write every acknowledged event as `event_id session_id seq` to this file, for reconciliation.
    #[arg(long, env = "MARS_EVENTS_LOG")]
    pub events_log: Option<PathBuf>,

    /// How often to print progress.
    #[arg(long, env = "MARS_PROGRESS_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub progress_interval: Duration,

    /// Address for `/health` and `/metrics`.
    #[arg(long, env = "MARS_METRICS_LISTEN", default_value = "0.0.0.0:9100")]
    pub metrics_listen: SocketAddr,

    /// Log as JSON lines (for containers) instead of human-readable text.
    #[arg(long, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}

impl Config {
    /// The configuration with every default, metrics on a free port: what tests and benchmarks start from.
    pub fn defaults() -> Self {
        let mut config = Self::parse_from(["mars"]);
        config.metrics_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }

    /// How the vehicles drive, from the settings (a fresh identity salt each call unless `replay_exact`).
    pub fn driving(&self) -> Driving {
        let step = self.step();
        Driving {
            step,
            speed_kmh: (self.min_speed_kmh, self.max_speed_kmh),
            max_wait_ticks: (self.start_spread.as_secs_f64() / step.as_secs_f64().max(1e-9)) as u64,
            sessions_per_vehicle: match self.mode {
                Mode::UntilComplete => Some(self.sessions_per_vehicle),
                Mode::Continuous => None,
            },
            faults: Faults {
                gps_jitter_m: self.gps_jitter_m,
                duplicate_rate: self.duplicate_rate,
                out_of_order_rate: self.out_of_order_rate,
            },
            identity_salt: if self.replay_exact {
                0
            } else {
                rand::random::<u128>() | 1
            },
        }
    }

    /// Every problem with the settings at once, naming the variables to change; a missing or public credential
    /// first, on its own.
    pub fn validate(&self) -> Result<(), Error> {
        if self.jwt.is_none() {
            packetpulse_ops::secrets::check_secret("MARS_API_KEY", &self.api_key)?;
        }
        let problems: Vec<String> = [
            (self.vehicles == 0, "MARS_VEHICLES must be at least 1".to_string()),
            (
                self.connections == 0,
                "MARS_CONNECTIONS must be at least 1".into(),
            ),
            (self.batch_size == 0, "MARS_BATCH_SIZE must be at least 1".into()),
            (
                self.max_frames_in_flight == 0,
                "MARS_MAX_FRAMES_IN_FLIGHT must be at least 1".into(),
            ),
            (self.interval.is_zero(), "MARS_INTERVAL must be positive".into()),
            (self.step().is_zero(), "MARS_STEP must be positive".into()),
            (
                !(self.min_speed_kmh > 0.0 && self.min_speed_kmh <= self.max_speed_kmh),
                "speeds must satisfy 0 < MARS_MIN_SPEED_KMH <= MARS_MAX_SPEED_KMH".into(),
            ),
            (
                !(0.0..=1.0).contains(&self.duplicate_rate),
                "MARS_DUPLICATE_RATE must be in [0, 1]".into(),
            ),
            (
                !(0.0..=1.0).contains(&self.out_of_order_rate),
                "MARS_OUT_OF_ORDER_RATE must be in [0, 1]".into(),
            ),
            (
                self.gps_jitter_m.is_nan() || self.gps_jitter_m < 0.0,
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

    /// Simulated time per event.
    pub fn step(&self) -> Duration {
        self.step.unwrap_or(self.interval)
    }
}
