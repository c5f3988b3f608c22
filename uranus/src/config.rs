//! Uranus' configuration: one struct, from command-line flags or environment variables (see README.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use packetpulse_ops::clickhouse::ClickHouseConfig;

/// Where the project is, which ClickHouse to build it in, and what to do.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "uranus",
    version,
    about = "PacketPulse gold layer: runs the dbt-compatible model project against ClickHouse"
)]
pub struct Config {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// The dbt project directory (holding dbt_project.yml).
    #[arg(long, global = true, env = "URANUS_PROJECT_DIR", default_value = "uranus/dbt")]
    pub project_dir: PathBuf,

    /// ClickHouse: URL, the database of the models and their silver sources (dbt's target schema), user,
    /// password.
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,

    /// `serve`: how often the models are rebuilt.
    #[arg(long, global = true, env = "URANUS_REFRESH_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub refresh_interval: Duration,

    /// `serve`: address for `/health` and `/metrics`.
    #[arg(
        long,
        global = true,
        env = "URANUS_METRICS_LISTEN",
        default_value = "0.0.0.0:9103"
    )]
    pub metrics_listen: SocketAddr,

    /// Log JSON lines (containers) instead of human-readable text.
    #[arg(long, global = true, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}

/// Uranus' commands, named as dbt names them.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Build the models (all, or the selected ones) in dependency order.
    Run {
        /// dbt selectors: `model`, `model+` (and downstream), `+model` (and upstream).
        #[arg(long, short = 's', num_args = 1..)]
        select: Vec<String>,
        /// Rebuild incremental models from scratch.
        #[arg(long)]
        full_refresh: bool,
    },
    /// Run the tests of schema.yml (not_null, unique, accepted_values, relationships), reporting each with its
    /// failing row count; exits non-zero when any fails.
    Test {
        /// Only the tests of these models (dbt selectors).
        #[arg(long, short = 's', num_args = 1..)]
        select: Vec<String>,
    },
    /// Run every model each refresh interval, serving `/health` and `/metrics`.
    Serve,
    /// Write every model's rendered SQL to `<target-path>/compiled/`, as dbt does, without touching ClickHouse.
    Compile,
}

impl Config {
    /// The configuration with every default (`serve`, metrics on a free port), for tests and tools that override
    /// a few fields.
    pub fn defaults() -> Self {
        let mut config = Self::parse_from(["uranus", "serve"]);
        config.metrics_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }

    /// A ClickHouse client for this configuration's server.
    pub fn clickhouse_client(&self) -> clickhouse::Client {
        self.clickhouse.client()
    }
}
