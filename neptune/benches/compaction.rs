//! Bronze files of a closed day before and after compaction: `cargo bench -p neptune --bench compaction`
//! (release build).
//!
//! A fleet of `BENCH_VEHICLES` (default 50) at 1 Hz for `BENCH_HOURS` (default 24) of a closed day (2026-11-20),
//! written through Neptune's sink as its commit policy does on a live stream — a commit when the day's file
//! reaches `NEPTUNE_TARGET_FILE_MIB` (64), else once the batch spans `NEPTUNE_COMMIT_INTERVAL` (5 min; here of
//! event time, which on a live stream is the wall clock) — into a local-dir warehouse, then compacted as
//! `neptune compact` does. Prints the day's data files, rows and median file size before and after, and the
//! compaction's time and throughput. The sink is fed directly (no broker): what is measured is the files.

#![allow(clippy::unwrap_used, missing_docs)] // A benchmark binary: a panic is the failure report.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use neptune::Config;
use neptune::sink::TableSink;
use neptune::source::{Decoded, decode};
use packetpulse_lake::table_files::{DayFiles, live_files, per_day};
use packetpulse_model::{DeliveryEvent, PublishedEvent, testing};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Event `i` of the fleet: vehicle `i % vehicles` at second `i / vehicles` of the day, as Mars sends it.
fn event(i: u64, vehicles: u64) -> PublishedEvent {
    let day = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let vehicle = i % vehicles;
    let at = day + chrono::Duration::seconds(i64::try_from(i / vehicles).unwrap());
    PublishedEvent {
        event_id: Uuid::now_v7(),
        received_at: at + chrono::Duration::milliseconds(35),
        ..testing::published(DeliveryEvent {
            device_id: format!("device-{vehicle:05}"),
            vehicle_id: format!("vehicle-{vehicle:05}"),
            session_id: format!("session-{vehicle:05}-{}", i / vehicles / 1_800),
            order_id: format!("order-{vehicle:05}-{}", i / vehicles / 1_800),
            timestamp: at,
            end_lat: 38.01,
            end_lon: 23.79,
            current_lat: 37.98 + (i % 300) as f64 * 1e-4,
            current_lon: 23.72 + (i % 700) as f64 * 1e-4,
            seq: Some(i / vehicles % 1_800),
            speed_kmh: Some(20.0 + (i % 40) as f64),
            heading_deg: Some((i % 360) as f64),
            route_name: Some(format!("athens-{:02}", vehicle % 12)),
            waypoint_count: Some(412),
            ..testing::event()
        })
    }
}

fn print_day(when: &str, day: &DayFiles) {
    println!(
        "{when}: {} data files, {} rows, {:.1} MB, median file {:.2} MB",
        day.files,
        day.rows,
        day.bytes as f64 / 1e6,
        day.median_bytes as f64 / 1e6
    );
}

async fn day_files(config: &Config) -> DayFiles {
    let catalog = packetpulse_lake::catalog::open(&config.lake).await.unwrap();
    let ident =
        iceberg::TableIdent::from_strs([config.lake.namespace.as_str(), config.lake.table.as_str()]).unwrap();
    let table = catalog.load_table(&ident).await.unwrap();
    let days = per_day(&live_files(&table).await.unwrap());
    assert_eq!(days.len(), 1, "one day written: {days:?}");
    days.into_values().next().unwrap()
}

#[tokio::main]
async fn main() {
    let vehicles = env_or("BENCH_VEHICLES", 50);
    let seconds = env_or("BENCH_HOURS", 24).min(24) * 3_600;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::defaults();
    config.lake.catalog_uri = format!("sqlite://{}", dir.path().join("catalog.db").display());
    config.lake.warehouse = format!("file://{}", dir.path().join("warehouse").display());
    println!(
        "{vehicles} vehicles at 1 Hz for {} h of 2026-11-20; commits at {} MiB or {} of event time",
        seconds / 3_600,
        config.target_file_mib,
        humantime::format_duration(config.commit_interval)
    );

    let metrics = neptune::Metrics::new();
    let shutdown = CancellationToken::new();
    let mut sink = TableSink::open(&config, &metrics).await.unwrap();
    let per_commit = config.commit_interval.as_secs() * vehicles;
    let written = Instant::now();
    let mut since_commit = 0;
    for i in 0..seconds * vehicles {
        let payload = event(i, vehicles).to_json();
        let Decoded::Row(row) = decode(Some(payload.as_bytes()), 0, i64::try_from(i).unwrap()) else {
            panic!("event {i} is not an event");
        };
        sink.push(row).await.unwrap();
        since_commit += 1;
        if sink.batch_is_full() || since_commit == per_commit {
            sink.commit(&shutdown).await.unwrap();
            since_commit = 0;
        }
    }
    if sink.buffered_rows() > 0 {
        sink.commit(&shutdown).await.unwrap();
    }
    drop(sink);
    let before = day_files(&config).await;
    println!(
        "written in {:.1} s ({} commits)",
        written.elapsed().as_secs_f64(),
        metrics.commits.get()
    );
    print_day("before compaction", &before);

    let catalog = packetpulse_lake::catalog::open(&config.lake).await.unwrap();
    let compacting = Instant::now();
    let compacted = neptune::compaction::compact_all(&config, catalog.as_ref(), &metrics, &shutdown)
        .await
        .unwrap();
    let elapsed = compacting.elapsed().as_secs_f64();
    let after = day_files(&config).await;
    assert_eq!(after.rows, before.rows, "compaction keeps every row");
    print_day("after compaction ", &after);
    println!(
        "compaction: {} groups in {elapsed:.1} s ({:.1} MB/s of files rewritten)",
        compacted.len(),
        compacted.iter().map(|step| step.bytes_before).sum::<u64>() as f64 / 1e6 / elapsed.max(1e-9),
    );
}
