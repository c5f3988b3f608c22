//! The chaos run (crate README): `cargo run --release -p packetpulse-stack --bin chaos -- --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use packetpulse_stack::chaos::{self, ChaosConfig};

/// Streams a Mars fleet through the native stack while SIGKILLing Venus, Neptune, Jupiter, Uranus, Mercury and the
/// broker at seeded random moments, then reconciles every layer with Mars' acknowledged events and prints a table.
/// Exits 1 if anything was lost or duplicated, gold disagrees with silver, or a service did not recover.
#[derive(Debug, Parser)]
struct Args {
    /// Events to stream (whole sessions, so a few more).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Vehicles driving at once.
    #[arg(long, default_value_t = 500)]
    vehicles: usize,
    /// Wall time between two events of a vehicle.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Kills of each service.
    #[arg(long, default_value_t = 3)]
    kills_per_service: usize,
    /// Seeds the kill schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Build of the planets to run (`release` or `debug`; build them first).
    #[arg(long, default_value = "release")]
    profile: String,
    /// Data dir of the stack (default: a temporary one, kept when the run fails).
    #[arg(long)]
    data: Option<PathBuf>,
    /// How long a killed service may take to work again.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    recover_timeout: Duration,
    /// How long the layers may take to catch up after the fleet.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    settle_timeout: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let temp = tempfile::Builder::new().prefix("packetpulse-chaos-").tempdir()?;
    let data = args.data.clone().unwrap_or_else(|| temp.path().join("data"));
    let config = ChaosConfig {
        events: args.events,
        vehicles: args.vehicles,
        interval: args.interval,
        kills_per_service: args.kills_per_service,
        seed: args.seed,
        profile: args.profile,
        data: data.clone(),
        recover_timeout: args.recover_timeout,
        settle_timeout: args.settle_timeout,
    };
    let outcome = chaos::run(&config).await;
    let problems = match &outcome {
        Ok(report) => {
            println!("\n{report}");
            report.problems()
        }
        Err(error) => vec![error.to_string()],
    };
    if problems.is_empty() {
        println!("chaos: nothing lost, nothing duplicated, gold agrees with silver, every alert notified");
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        eprintln!("chaos: {problem}");
    }
    if args.data.is_none() {
        let kept = temp.keep();
        eprintln!("chaos: data and logs kept in {}", kept.display());
    }
    Ok(ExitCode::FAILURE)
}
