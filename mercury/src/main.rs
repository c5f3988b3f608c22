//! `mercury`: parse the configuration, serve the dashboard until SIGTERM or Ctrl-C.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use clap::Parser;
    let config = mercury::server::Config::parse();
    packetpulse_ops::init_tracing(config.log_json);
    mercury::server::run(config, packetpulse_ops::shutdown_signal()).await?;
    Ok(())
}

/// The browser build has no binary; this keeps `cargo build --features hydrate` of the whole crate working.
#[cfg(not(feature = "ssr"))]
fn main() {}
