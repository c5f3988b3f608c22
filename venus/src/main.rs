//! `venus`: parse the configuration, run the gateway until SIGTERM or Ctrl-C.

use clap::Parser;
use venus::{Config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init_tracing(config.log_json);
    venus::run(config, telemetry::shutdown_signal()).await?;
    Ok(())
}
