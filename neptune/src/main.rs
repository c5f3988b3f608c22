//! `neptune`: parse the configuration, run the bronze sink (or a maintenance command) until SIGTERM or Ctrl-C.

use clap::Parser;
use neptune::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    packetpulse_ops::init_tracing(config.log_json);
    neptune::run(config, packetpulse_ops::shutdown_signal()).await?;
    Ok(())
}
