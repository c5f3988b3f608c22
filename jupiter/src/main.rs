//! `jupiter`: parse the configuration, run the silver sink until SIGTERM or Ctrl-C.

use clap::Parser;
use jupiter::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    packetpulse_ops::init_tracing(config.log_json);
    jupiter::run(config, packetpulse_ops::shutdown_signal()).await?;
    Ok(())
}
