//! Load on the dashboard's main APIs with 1M movement rows in ClickHouse: requests/s and latency percentiles per
//! endpoint, printed (a benchmark, not a test: nothing is asserted).
//!
//! `cargo bench -p mercury` — knobs: MERCURY_BENCH_SESSIONS (10,000 sessions × 100 points = 1M rows),
//! MERCURY_BENCH_SECONDS per endpoint (10), MERCURY_BENCH_CONCURRENCY (8 clients), MERCURY_BENCH_ONLY
//! (comma-separated parts of the paths to load, e.g. `reports/,sessions`; default all), MERCURY_BENCH_HOLD=1
//! (after seeding, print the dashboard's and ClickHouse's addresses and wait for a line on stdin before loading,
//! to try queries by hand on the seeded data).

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{ADMIN_PASSWORD, Dashboard, Fleet, SeededSession};
use hdrhistogram::Histogram;
use packetpulse_model::{DeliveryStatus, PublishedEvent};

const POINTS_PER_SESSION: i64 = 100;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Session `index`: one in ten under way (last point 10 s ago), the others completed at times spread over the
/// last 30 days; 2,000 vehicles.
fn session(index: u64, now: chrono::DateTime<Utc>) -> SeededSession {
    let active = index.is_multiple_of(10);
    let span = chrono::Duration::seconds(10 * (POINTS_PER_SESSION - 1));
    let start = if active {
        now - span - chrono::Duration::seconds(10)
    } else {
        now - span - chrono::Duration::seconds(i64::try_from(index).unwrap() * 259)
    };
    let base = (
        37.90 + (index % 100) as f64 * 0.001,
        23.60 + (index / 100 % 100) as f64 * 0.001,
    );
    let points = (0..POINTS_PER_SESSION)
        .map(|step| {
            let status = match step {
                0 => DeliveryStatus::Started,
                last if last == POINTS_PER_SESSION - 1 && !active => DeliveryStatus::Completed,
                _ => DeliveryStatus::EnRoute,
            };
            (
                start + chrono::Duration::seconds(10 * step),
                base.0 + 0.0009 * step as f64,
                base.1,
                status,
            )
        })
        .collect();
    SeededSession {
        session_id: format!("bench-session-{index:05}"),
        vehicle_id: format!("veh-{}", index % 2000),
        order_id: format!("order-bench-{index:05}"),
        route_name: format!("route {}", index % 10),
        points,
        end: (base.0 + 0.1, base.1),
    }
}

async fn load(
    http: &reqwest::Client,
    url: &str,
    seconds: u64,
    concurrency: u64,
) -> (u64, Histogram<u64>, Duration) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, url) = (http.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new(3).unwrap();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let response = http.get(&url).send().await.unwrap();
                    assert!(response.status().is_success(), "{url}: {}", response.status());
                    response.bytes().await.unwrap();
                    latencies
                        .record(u64::try_from(sent.elapsed().as_micros()).unwrap())
                        .unwrap();
                }
                latencies
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new(3).unwrap();
    for worker in workers {
        all.add(worker.await.unwrap()).unwrap();
    }
    (all.len(), all, started.elapsed())
}

#[tokio::main]
async fn main() {
    let sessions = setting("MERCURY_BENCH_SESSIONS", 10_000);
    let seconds = setting("MERCURY_BENCH_SECONDS", 10);
    let concurrency = setting("MERCURY_BENCH_CONCURRENCY", 8);
    let only: Vec<String> = std::env::var("MERCURY_BENCH_ONLY")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect();
    let now = Utc::now();
    let seeding = Instant::now();
    let batches = (0..sessions).step_by(1000).map(|first| {
        (first..(first + 1000).min(sessions))
            .flat_map(|index| session(index, now).events())
            .collect::<Vec<PublishedEvent>>()
    });
    let dashboard = Dashboard::start_seeded(Fleet::new(now), batches, &[]).await;
    println!(
        "seeded {} movement rows ({sessions} sessions) and built gold in {:.1} s",
        sessions * POINTS_PER_SESSION as u64,
        seeding.elapsed().as_secs_f64()
    );
    if setting("MERCURY_BENCH_HOLD", 0) == 1 {
        println!(
            "holding: dashboard {}, ClickHouse {} database {}; press Enter to load",
            dashboard.url,
            packetpulse_testkit::shared_clickhouse().unwrap().url(),
            dashboard.clickhouse_database
        );
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
    }
    let http = common::http();
    common::http_sign_in(&http, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    let base = &dashboard.url;
    println!(
        "{concurrency} concurrent clients, {seconds} s per endpoint, release build, 2 cores shared with ClickHouse"
    );
    for path in [
        "/api/v1/overview".to_owned(),
        "/api/v1/active-sessions".to_owned(),
        "/api/v1/sessions?q=veh-42".to_owned(),
        "/api/v1/sessions/bench-session-00042".to_owned(),
        "/api/v1/fleet?page=3".to_owned(),
        "/api/v1/analytics?period=month".to_owned(),
        "/api/v1/analytics?period=this_week".to_owned(),
        "/api/v1/analytics?period=year".to_owned(),
        "/api/v1/reports/trips?vehicle=veh-42".to_owned(),
        "/api/v1/reports/trips".to_owned(),
        "/api/v1/reports/daily?vehicle=veh-42".to_owned(),
        "/api/v1/reports/daily".to_owned(),
        "/api/v1/reports/stops?vehicle=veh-42".to_owned(),
        "/api/v1/reports/stops".to_owned(),
        "/api/v1/reports/alerts".to_owned(),
        // Every trip of the seeded 30 days, streamed.
        format!(
            "/api/v1/reports/trips?format=csv&from={}",
            (now - chrono::Duration::days(31)).date_naive()
        ),
        "/".to_owned(),
    ]
    .into_iter()
    .filter(|path| only.is_empty() || only.iter().any(|part| path.contains(part.as_str())))
    {
        let (requests, latencies, elapsed) =
            load(&http, &format!("{base}{path}"), seconds, concurrency).await;
        let ms = |quantile: f64| latencies.value_at_quantile(quantile) as f64 / 1000.0;
        println!(
            "{path:<42} {:>8.0} req/s   p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
            requests as f64 / elapsed.as_secs_f64(),
            ms(0.5),
            ms(0.99),
            latencies.max() as f64 / 1000.0
        );
    }
    dashboard.stop().await;
}
