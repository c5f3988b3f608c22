//! `uranus`: parse the configuration, run the command (`run`, `compile`, `serve`) until done or SIGTERM/Ctrl-C.

use clap::Parser;
use uranus::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    packetpulse_ops::init_tracing(config.log_json);
    uranus::run(config, packetpulse_ops::shutdown_signal()).await?;
    Ok(())
}
