//! Ping → alert latency through the whole platform (crate README): `cargo run --release -p packetpulse-stack --bin
//! alert_latency -- --help`.
//!
//! Starts the native stack, lowers the overspeed rule so a share of the fleet raises alerts, opens the alerts
//! WebSocket every signed-in page keeps open (`/api/v1/alerts/live`, as the browser does), and drives a Mars fleet
//! in real time (an event per vehicle per `--interval`). Each alert's `at` is the time of the ping that crossed
//! the threshold (the device clock, this machine's), so its latency is when the socket delivered it minus `at`:
//! Venus, Kafka, Jupiter's batch and detection, the acknowledged publish, Mercury's feed and the socket.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use packetpulse_stack::measure::Quantiles;
use packetpulse_stack::native::NativeStack;

/// Measures ping → alert latency at a fleet size.
#[derive(Debug, Parser)]
struct Args {
    /// Vehicles driving at once.
    #[arg(long, default_value_t = 10_000)]
    vehicles: usize,
    /// Wall time between two events of a vehicle (1 Hz by default).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// How long the fleet drives.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Vehicles start within this long of each other.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    start_spread: Duration,
    /// The lowered overspeed limit, km/h (Mars cruises at 25–50 km/h).
    #[arg(long, default_value_t = 45.0)]
    overspeed_kmh: f64,
    /// Build of the planets to run (`release` or `debug`; build them first).
    #[arg(long, default_value = "release")]
    profile: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let temp = tempfile::Builder::new()
        .prefix("packetpulse-latency-")
        .tempdir()?;
    let stack = NativeStack::new(&temp.path().join("data"), &args.profile)?;
    stack.up()?;
    let outcome = measure(&stack, &args).await;
    stack.down();
    let Some(latencies) = Quantiles::of(outcome?) else {
        eprintln!("alert_latency: no alert arrived; nothing measured");
        return Ok(ExitCode::FAILURE);
    };
    println!(
        "alert_latency: {} vehicles every {:?} for {:?}: {} alerts, ping → alerts socket p50 {} ms, p90 {} ms, \
         p99 {} ms, max {} ms",
        args.vehicles,
        args.interval,
        args.duration,
        latencies.count,
        latencies.p50,
        latencies.p90,
        latencies.p99,
        latencies.max
    );
    Ok(ExitCode::SUCCESS)
}

/// Lowers the rule, opens the socket, drives the fleet; the latency of every alert the socket delivered, ms.
async fn measure(stack: &NativeStack, args: &Args) -> anyhow::Result<Vec<i64>> {
    let cookie = stack.mercury_admin_cookie().await?;
    // Retries the 503 Mercury answers until it has read the rules topic.
    stack
        .mercury_call(
            &cookie,
            reqwest::Method::PUT,
            "/alert-rules/overspeed",
            &serde_json::json!({"kmh": args.overspeed_kmh, "seconds": 5}),
        )
        .await?;

    let alerts = stack
        .follow_socket(&cookie, "/alerts/live", |message| {
            if message["type"] == "alert" {
                message["alert"]["at_ms"].as_i64().into_iter().collect()
            } else {
                Vec::new()
            }
        })
        .await?;

    let mut mars = stack.mars_config()?;
    mars.mode = mars::Mode::Continuous;
    mars.vehicles = args.vehicles;
    mars.interval = args.interval;
    mars.start_spread = args.start_spread;
    mars.progress_interval = Duration::from_secs(15);
    println!(
        "alert_latency: {} vehicles for {:?}, overspeed above {} km/h for 5 s",
        args.vehicles, args.duration, args.overspeed_kmh
    );
    mars::run(mars, tokio::time::sleep(args.duration)).await?;
    // Alerts of the last pings still on their way.
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(alerts.finish())
}
