//! `venus`: parse the configuration, run the gateway until SIGTERM or Ctrl-C.

use clap::Parser;
use venus::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    packetpulse_ops::init_tracing(config.log_json);
    venus::run(config, packetpulse_ops::shutdown_signal()).await?;
    Ok(())
}
