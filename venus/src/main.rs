//! `venus`: parse the configuration, run the gateway until SIGTERM or Ctrl-C.

use clap::Parser;
use venus::Config;

// Venus allocates a little per event (parsed strings, payloads, dead letters) at hundreds of thousands of
// events per second; mimalloc keeps that cheap (measured in mars/benches/pipeline.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    packetpulse_ops::init_tracing(config.log_json);
    venus::run(config, packetpulse_ops::shutdown_signal()).await?;
    Ok(())
}
