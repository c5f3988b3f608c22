//! Jupiter's configuration: one struct, from command-line flags or environment variables (see README.md).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use packetpulse_lake::LakeConfig;
use packetpulse_ops::clickhouse::ClickHouseConfig;

/// Everything Jupiter needs: where to read, which ClickHouse to write, how to batch and what counts as a teleport.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "jupiter",
    version,
    about = "PacketPulse silver layer: Kafka topic `sessions` into cleaned, enriched ClickHouse tables"
)]
pub struct Config {
    /// What to do; without a subcommand Jupiter runs the streaming sink.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Kafka bootstrap servers.
    #[arg(
        long,
        global = true,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    pub kafka_bootstrap_servers: String,

    /// Topic to read events from.
    #[arg(long, global = true, env = "JUPITER_TOPIC", default_value = packetpulse_model::topics::SESSIONS)]
    pub topic: String,

    /// Kafka consumer group; more instances in the group share the partitions.
    #[arg(long, global = true, env = "JUPITER_GROUP", default_value = "jupiter")]
    pub group: String,

    /// Topic for messages that are not valid events.
    #[arg(long, global = true, env = "JUPITER_DEAD_LETTER_TOPIC", default_value = packetpulse_model::topics::DEAD_LETTER)]
    pub dead_letter_topic: String,

    /// How long the group waits for a silent member before giving its partitions to others: after a crash, the
    /// restarted instance gets its partitions back this long after the old one died (at once with static
    /// membership, which needs it longer than a restart takes: ARCHITECTURE decision 12). Default 10 s, or 30 s
    /// with `--instance-id` ([`Config::session_timeout`]).
    #[arg(long = "session-timeout", global = true, env = "JUPITER_SESSION_TIMEOUT", value_parser = humantime::parse_duration)]
    pub session_timeout_setting: Option<Duration>,

    /// A stable id, unique in the group, for this instance (Kafka static membership): a restarted instance with
    /// the same id gets its partitions back at once instead of after a rebalance. Unset: dynamic membership.
    #[arg(long, global = true, env = "JUPITER_INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// ClickHouse: URL, database of the silver tables, user, password.
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,

    /// Insert as soon as this many rows are batched.
    #[arg(long, global = true, env = "JUPITER_FLUSH_ROWS", default_value_t = 50_000)]
    pub flush_rows: usize,

    /// Insert at least this often while events arrive: an event waits up to this long for its batch, the largest
    /// part of silver's freshness.
    #[arg(long, global = true, env = "JUPITER_FLUSH_INTERVAL", default_value = "250ms", value_parser = humantime::parse_duration)]
    pub flush_interval: Duration,

    /// How long the broker may hold a fetch that finds nothing new. tansu 0.6 also holds one that does find
    /// records, for half of this (for all of it below 250 ms), so it is a floor under silver's freshness
    /// (ARCHITECTURE decision 30).
    #[arg(long, global = true, env = "JUPITER_FETCH_WAIT", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub fetch_wait: Duration,

    /// Points that need more than this speed to reach from the previous one are flagged as suspect.
    #[arg(long, global = true, env = "JUPITER_MAX_SPEED_KMH", default_value_t = 250.0)]
    pub max_speed_kmh: f64,

    /// A session not heard from for this long (event time, against the newest event of its partition) is
    /// forgotten; if it comes back, its history is read again from silver.
    #[arg(long, global = true, env = "JUPITER_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration)]
    pub session_idle_timeout: Duration,

    /// Alert rules and their topics.
    #[command(flatten)]
    pub alerts: AlertConfig,

    /// The bronze table `jupiter backfill --from-bronze` reads (the same settings as Neptune's).
    #[command(flatten)]
    pub lake: LakeConfig,

    /// Address for `/health` and `/metrics`.
    #[arg(
        long,
        global = true,
        env = "JUPITER_METRICS_LISTEN",
        default_value = "0.0.0.0:9102"
    )]
    pub metrics_listen: SocketAddr,

    /// Log JSON lines (containers) instead of human-readable text.
    #[arg(long, global = true, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}

/// The alert rules' thresholds (the defaults are what a city delivery fleet expects) and where alerts and
/// geofences travel.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertConfig {
    /// Compacted topic of the geofences Mercury publishes (key = geofence id); followed from its beginning.
    #[arg(long, global = true, env = "JUPITER_GEOFENCES_TOPIC", default_value = packetpulse_model::topics::GEOFENCES)]
    pub geofences_topic: String,

    /// Compacted topic of the per-rule threshold overrides Mercury publishes (key = rule); followed from its
    /// beginning. An override replaces the setting below it; a tombstone restores it.
    #[arg(long, global = true, env = "JUPITER_ALERT_RULES_TOPIC", default_value = packetpulse_model::topics::ALERT_RULES)]
    pub rules_topic: String,

    /// Topic the alerts are published to (key = session id).
    #[arg(long, global = true, env = "JUPITER_ALERTS_TOPIC", default_value = packetpulse_model::topics::ALERTS)]
    pub alerts_topic: String,

    /// Overspeed: the speed limit, km/h.
    #[arg(
        long,
        global = true,
        env = "JUPITER_ALERT_OVERSPEED_KMH",
        default_value_t = 90.0
    )]
    pub overspeed_kmh: f64,

    /// Overspeed: how long above the limit before an alert.
    #[arg(long, global = true, env = "JUPITER_ALERT_OVERSPEED_FOR", default_value = "30s", value_parser = humantime::parse_duration)]
    pub overspeed_for: Duration,

    /// Idle: below this speed (km/h) an en-route vehicle stands still.
    #[arg(long, global = true, env = "JUPITER_ALERT_IDLE_KMH", default_value_t = 2.0)]
    pub idle_kmh: f64,

    /// Idle: how long standing still en route before an alert.
    #[arg(long, global = true, env = "JUPITER_ALERT_IDLE_FOR", default_value = "5m", value_parser = humantime::parse_duration)]
    pub idle_for: Duration,

    /// Offline: silence of an active session before an alert.
    #[arg(long, global = true, env = "JUPITER_ALERT_OFFLINE_AFTER", default_value = "2m", value_parser = humantime::parse_duration)]
    pub offline_after: Duration,

    /// Abandoned: silence after which an active session is closed as abandoned.
    #[arg(long, global = true, env = "JUPITER_ALERT_ABANDONED_AFTER", default_value = "2h", value_parser = humantime::parse_duration)]
    pub abandoned_after: Duration,
}

impl AlertConfig {
    /// The detector's thresholds.
    pub fn thresholds(&self) -> crate::alerts::Thresholds {
        crate::alerts::Thresholds {
            overspeed_kmh: self.overspeed_kmh,
            overspeed_for: self.overspeed_for,
            idle_kmh: self.idle_kmh,
            idle_for: self.idle_for,
            offline_after: self.offline_after,
            abandoned_after: self.abandoned_after,
        }
    }
}

/// Jupiter's commands; they share the ClickHouse settings of the sink.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the streaming sink (the default).
    Run,
    /// Rebuild the silver tables of `--clickhouse-database` from the Iceberg bronze table, with the same
    /// transformation as streaming. Safe to repeat: rows are deduplicated by event id.
    Backfill {
        /// Read the bronze table (the only source there is; the flag keeps the command explicit).
        #[arg(long, required = true)]
        from_bronze: bool,
    },
}

impl Config {
    /// The configuration with every default, for tests and tools that override a few fields.
    pub fn defaults() -> Self {
        Self::parse_from(["jupiter"])
    }

    /// The group session timeout: the one set, else 10 s, or 30 s with static membership, which needs it longer
    /// than a restart takes (ARCHITECTURE decision 12).
    pub fn session_timeout(&self) -> Duration {
        let default = if self.instance_id.is_some() { 30 } else { 10 };
        self.session_timeout_setting
            .unwrap_or(Duration::from_secs(default))
    }

    /// A ClickHouse client for this configuration's server.
    pub fn clickhouse_client(&self) -> clickhouse::Client {
        self.clickhouse.client()
    }

    /// A client of the silver database on this configuration's server.
    pub fn silver_client(&self) -> clickhouse::Client {
        self.clickhouse_client().with_database(&self.clickhouse.database)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_timeout_outlasts_a_restart_under_static_membership_unless_set() {
        let timeout = |args: &[&str]| Config::parse_from([&["jupiter"], args].concat()).session_timeout();
        assert_eq!(timeout(&[]), Duration::from_secs(10));
        assert_eq!(timeout(&["--instance-id", "jupiter-1"]), Duration::from_secs(30));
        assert_eq!(
            timeout(&["--instance-id", "jupiter-1", "--session-timeout", "60s"]),
            Duration::from_secs(60)
        );
        assert_eq!(timeout(&["--session-timeout", "5s"]), Duration::from_secs(5));
    }
}
