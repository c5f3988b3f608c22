//! Mercury's configuration: one struct, from command-line flags or environment variables (see README.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Where to listen and where the built site (wasm, assets) is.
#[derive(Debug, Clone, Parser)]
#[command(name = "mercury", version, about = "PacketPulse dashboard (Leptos) on :3000")]
pub struct Config {
    /// Address of the dashboard (pages, API, /health, /metrics).
    #[arg(long, env = "MERCURY_LISTEN", default_value = "0.0.0.0:3000")]
    pub listen: SocketAddr,

    /// The site directory mercury/build.sh fills: `pkg/` (the browser's wasm) and `vendor/` (npm assets).
    #[arg(long, env = "MERCURY_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Log JSON lines (containers) instead of human-readable text.
    #[arg(long, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}
