//! Neptune's configuration: one struct, from command-line flags or environment variables (see README.md).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use packetpulse_lake::LakeConfig;

/// Everything Neptune needs: where to read, which catalog and warehouse to write, and how often to commit.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "neptune",
    version,
    about = "PacketPulse bronze layer: Kafka topic `sessions` into the Iceberg table bronze.delivery_events, exactly once"
)]
pub struct Config {
    /// What to do; without a subcommand Neptune runs the sink.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Kafka bootstrap servers.
    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub kafka_bootstrap_servers: String,

    /// Topic to read events from.
    #[arg(long, env = "NEPTUNE_TOPIC", default_value = packetpulse_model::topics::SESSIONS, global = true)]
    pub topic: String,

    /// Kafka consumer group. Offsets committed there are for monitoring only: the table's snapshots hold the truth.
    #[arg(long, env = "NEPTUNE_GROUP", default_value = "neptune", global = true)]
    pub group: String,

    /// Topic for messages that are not valid events.
    #[arg(long, env = "NEPTUNE_DEAD_LETTER_TOPIC", default_value = packetpulse_model::topics::DEAD_LETTER, global = true)]
    pub dead_letter_topic: String,

    /// Catalog, warehouse and table.
    #[command(flatten)]
    pub lake: LakeConfig,

    /// Longest a row waits for its commit, from the batch's first message. Bronze is the archive (silver serves
    /// the live view), so commits are size-driven: this only bounds how far bronze trails the topic when the
    /// fleet is too small to fill a file sooner (at 5 minutes, 288 commits a day).
    #[arg(long, env = "NEPTUNE_COMMIT_INTERVAL", default_value = "5m", value_parser = humantime::parse_duration, global = true)]
    pub commit_interval: Duration,

    /// Commit as soon as a day's open data file is estimated to reach this many MiB of zstd Parquet (estimated
    /// with the bytes per row of the previous commit). Query engines read files of 32–256 MiB best.
    #[arg(
        long,
        env = "NEPTUNE_TARGET_FILE_MIB",
        default_value_t = 64,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub target_file_mib: u64,

    /// How often closed days (older than yesterday) are checked for small files to compact into files of the
    /// target size; 0 turns compaction off (e.g. when another engine compacts the table). Needs the SQL catalog.
    #[arg(long, env = "NEPTUNE_COMPACTION_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration, global = true)]
    pub compaction_interval: Duration,

    /// Offsets per partition within which a copy of an event already read (same event id) is dropped instead of
    /// written again; re-read at start, so restarts decide alike. 0 writes every copy.
    #[arg(long, env = "NEPTUNE_DEDUP_WINDOW", default_value_t = 10_000, global = true)]
    pub dedup_window: u64,

    /// Address for `/health` and `/metrics`.
    #[arg(
        long,
        env = "NEPTUNE_METRICS_LISTEN",
        default_value = "0.0.0.0:9101",
        global = true
    )]
    pub metrics_listen: SocketAddr,

    /// Log JSON lines (containers) instead of human-readable text.
    #[arg(long, env = "LOG_JSON", default_value_t = false, global = true)]
    pub log_json: bool,
}

/// Maintenance commands; they share the catalog settings of the sink.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the sink (the default).
    Run,
    /// Remove snapshots older than a given age from the table's metadata. Safe while the sink writes: the current
    /// snapshot, which holds the Kafka offsets, is always kept.
    ExpireSnapshots {
        /// Expire snapshots older than this, e.g. `7d` or `1h`.
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
        /// Keep at least this many of the newest snapshots, whatever their age.
        #[arg(long, default_value_t = 1)]
        retain_last: usize,
    },
    /// Compact the small files of closed days (older than yesterday) into files of `NEPTUNE_TARGET_FILE_MIB`, as
    /// the sink does every `NEPTUNE_COMPACTION_INTERVAL`. Safe while the sink writes.
    Compact,
}

impl Config {
    /// The configuration with every default, for tests and tools that override a few fields.
    pub fn defaults() -> Self {
        Self::parse_from(["neptune"])
    }
}
