//! The live map under a fleet: N vehicles (10,000) each moving once a second, produced to Kafka, pushed by
//! Mercury to a headless Chromium on `/live`. Prints the browser's frame intervals (requestAnimationFrame) and
//! the time each batch of positions took to apply, over the run (a benchmark, not a test: nothing is asserted).
//!
//! `cargo bench -p mercury --bench live_map` — knobs: MERCURY_BENCH_VEHICLES (10,000), MERCURY_BENCH_SECONDS (20).

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_PASSWORD, Dashboard, browser, find, hydrated, sign_in, wait_for_path};
use packetpulse_model::DeliveryStatus;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// `p50 / p99 / max` of `values` (ms), and how many exceed `over`.
fn summary(mut values: Vec<f64>, over: f64) -> String {
    if values.is_empty() {
        return "none".to_owned();
    }
    values.sort_by(f64::total_cmp);
    let at = |quantile: f64| values[((values.len() - 1) as f64 * quantile).round() as usize];
    let slow = values.iter().filter(|value| **value > over).count();
    format!(
        "{} samples, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {slow} over {over:.0} ms",
        values.len(),
        at(0.5),
        at(0.99),
        values[values.len() - 1]
    )
}

fn main() {
    let vehicles = setting("MERCURY_BENCH_VEHICLES", 10_000);
    let seconds = setting("MERCURY_BENCH_SECONDS", 20);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(vehicles, seconds));
}

async fn run(vehicles: u64, seconds: u64) {
    let dashboard = Dashboard::start().await;
    let live = dashboard.fleet.live().clone();
    let origin = *live.points.last().unwrap();
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client.goto(&format!("{}/live", dashboard.url)).await.unwrap();
    hydrated(&client).await;
    find(&client, "#live-map[data-vehicles='1']").await;

    let round = |second: u64| -> Vec<packetpulse_model::PublishedEvent> {
        (0..vehicles)
            .map(|index| {
                let mut session = live.clone();
                session.session_id = format!("bench-{index:05}");
                session.vehicle_id = format!("bench-vehicle-{index:05}");
                // A grid of vehicles, each a little further north every second.
                let position = (
                    origin.1 + 0.0002 * (index % 100) as f64 + 0.00002 * second as f64,
                    origin.2 + 0.0002 * (index / 100) as f64,
                );
                common::event(&session, chrono::Utc::now(), position, DeliveryStatus::EnRoute)
            })
            .collect()
    };
    // Every vehicle on the map first, then the measured run.
    dashboard.produce(&round(0)).await;
    find(&client, &format!("#live-map[data-vehicles='{}']", vehicles + 1)).await;
    client
        .execute(
            "window.benchFrames = []; window.benchApplies = []; \
             let last = performance.now(); \
             const tick = (now) => { window.benchFrames.push(now - last); last = now; requestAnimationFrame(tick); }; \
             requestAnimationFrame(tick); \
             const map = document.getElementById('live-map'); \
             new MutationObserver(() => { \
               const match = /in ([0-9.]+) ms/.exec(map.dataset.lastBatch || ''); \
               if (match) window.benchApplies.push(Number(match[1])); \
             }).observe(map, { attributes: true, attributeFilter: ['data-last-batch'] });",
            vec![],
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut behind = 0;
    for second in 1..=seconds {
        let events = round(second);
        dashboard.produce(&events).await;
        let due = started + Duration::from_secs(second);
        match due.checked_duration_since(Instant::now()) {
            Some(wait) => tokio::time::sleep(wait).await,
            None => behind += 1,
        }
    }
    let frames: Vec<f64> = serde_json::from_value(
        client
            .execute("return window.benchFrames.slice(1)", vec![])
            .await
            .unwrap(),
    )
    .unwrap();
    let applies: Vec<f64> = serde_json::from_value(
        client
            .execute("return window.benchApplies", vec![])
            .await
            .unwrap(),
    )
    .unwrap();
    println!(
        "{vehicles} vehicles, each moving once a second for {seconds} s (the producer fell behind in {behind} of \
         those seconds); headless Chromium, release server, 2 cores shared with ClickHouse, tansu and the producer"
    );
    println!(
        "frame intervals (requestAnimationFrame): {}",
        summary(frames, 50.0)
    );
    println!(
        "batches applied (positions → markers):   {}",
        summary(applies, 16.7)
    );
    let on_map = client
        .execute(
            "return document.getElementById('live-map').dataset.vehicles",
            vec![],
        )
        .await
        .unwrap();
    println!(
        "vehicles on the map at the end: {on_map} (expected {})",
        vehicles + 1
    );
    client.close().await.unwrap();
    dashboard.stop().await;
}
