//! `mars`: parse the configuration, run the fleet until it is done or SIGTERM/Ctrl-C arrives.

use clap::Parser;
use mars::Config;

// Mars allocates a little per event for 100,000 vehicles; mimalloc keeps that cheap (measured in
// benches/pipeline.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    packetpulse_ops::init_tracing(config.log_json);
    mars::run(config, packetpulse_ops::shutdown_signal()).await?;
    Ok(())
}
