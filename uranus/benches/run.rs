//! Time of a full `uranus run` of the gold project over `session_movements` of 1M and 10M rows (override with
//! `BENCH_ROWS=1000000,10000000`): `cargo bench -p uranus`. Silver is generated inside ClickHouse (1,000 events a
//! session, one session starting a minute, 1,000 vehicles), through Jupiter's migrations so the views fill as in
//! production. Prints, per size: the first run (everything built), a steady-state run (no new events) and a run
//! after 1,000 sessions each sent one more event — each with every model's time.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::time::Instant;

use packetpulse_testkit::ClickHouse;
use uranus::project::Project;
use uranus::runner::{ModelResult, Runner, summarise};

/// Columns of `session_movements` generated from `number`, as Jupiter would have written them.
const GENERATED: &str = "
    toString(number) AS event_id,
    concat('session-', toString(intDiv(number, 1000))) AS session_id,
    concat('vehicle-', toString(intDiv(number, 1000) % 1000)) AS vehicle_id,
    concat('order-', toString(intDiv(number, 1000))) AS order_id,
    concat('device-', toString(intDiv(number, 1000) % 1000)) AS device_id,
    multiIf(number % 1000 = 0, 'started', number % 1000 = 999 AND intDiv(number, 1000) % 10 != 0, 'completed', 'en_route') AS status,
    toDateTime(intDiv(event_time_ms, 1000), 'UTC') AS event_time,
    toUInt64(1767225600000 + intDiv(number, 1000) * 60000 + (number % 1000) * 1000) AS event_time_ms,
    37.98 + (number % 1000) * 0.0001 AS lat, 23.72 AS lon, 37.98 AS start_lat, 23.72 AS start_lon,
    38.08 AS end_lat, 23.72 AS end_lon, 40.0 AS speed_kmh, toUInt8(0) AS speed_derived,
    toNullable(0.0) AS heading_deg, if(number % 1000 = 0, 0.0, 11.1195) AS distance_from_previous_m,
    toUInt8(0) AS suspect_teleport, toUInt64(1767225600000 + intDiv(number, 1000) * 60000) AS session_started_at_ms,
    'athens-01' AS route_name, toUInt32(100) AS waypoint_count, toNullable(number % 1000) AS seq,
    event_time AS received_at, event_time_ms AS received_at_ms, event_time AS ingested_at, event_time_ms AS ingested_at_ms";

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name).map_or_else(
        |_| default.to_vec(),
        |v| v.split(',').map(|n| n.trim().parse().unwrap()).collect(),
    )
}

fn report(label: &str, seconds: f64, results: &[ModelResult]) {
    let models: Vec<String> = results
        .iter()
        .map(|r| format!("{} {:.2}", r.model, r.duration.as_secs_f64()))
        .collect();
    println!("  {label}: {seconds:.2} s ({})", models.join(", "));
}

async fn bench(clickhouse: &ClickHouse, rows: u64) {
    let (database, client) = clickhouse.fresh_database().await.unwrap();
    jupiter::migrations::migrate(&client, &database).await.unwrap();
    let silver = client.clone().with_database(&database);
    let started = Instant::now();
    silver
        .query(&format!(
            "INSERT INTO session_movements SELECT {GENERATED} FROM system.numbers LIMIT {rows}"
        ))
        .execute()
        .await
        .unwrap();
    println!(
        "{rows} session_movements rows ({} sessions) generated in {:.1} s",
        rows / 1_000,
        started.elapsed().as_secs_f64()
    );
    let project = Project::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("dbt"), &database).unwrap();
    let mut runner = Runner::new(client, &database, project).unwrap();
    let everything = runner.select(&[]).unwrap();
    for label in ["first run", "steady state", "after 1,000 new events"] {
        if label.starts_with("after") {
            // One more event for the newest 1,000 sessions.
            let sessions = rows / 1_000;
            silver
                .query(&format!(
                    "INSERT INTO session_movements SELECT {} FROM system.numbers WHERE number % 1000 = 500 LIMIT {}, 1000",
                    GENERATED
                        .replace("toString(number) AS event_id", "concat('late-', toString(number)) AS event_id")
                        .replace(
                            "event_time AS ingested_at, event_time_ms AS ingested_at_ms",
                            "now() AS ingested_at, toUInt64(toUnixTimestamp(now())) * 1000 AS ingested_at_ms"
                        ),
                    sessions.saturating_sub(1_000)
                ))
                .execute()
                .await
                .unwrap();
        }
        let started = Instant::now();
        let results = runner.run(&everything, false).await;
        let seconds = started.elapsed().as_secs_f64();
        summarise(&results).unwrap();
        report(label, seconds, &results);
    }
}

#[tokio::main]
async fn main() {
    let clickhouse = ClickHouse::start().unwrap();
    for rows in env_list("BENCH_ROWS", &[1_000_000, 10_000_000]) {
        bench(&clickhouse, rows).await;
    }
}
