//! Neptune's throughput: `cargo bench -p neptune` (release build). Prints
//!   1. the sink's capacity: `BENCH_EVENTS` events (default 1,000,000, event times over one day) decoded from
//!      their Kafka payloads in memory, written and committed with the default policy (a commit per 500k rows),
//!      for a local-dir warehouse and for an S3 (s3s-fs) warehouse — sustained rows/s into the table;
//!   2. end to end from the real broker (tansu): `BENCH_KAFKA_EVENTS` events (default 300,000) produced first,
//!      then read and committed with a 1 s commit interval — bounded by the broker's fetch rate.

#![allow(clippy::unwrap_used, missing_docs)] // A benchmark binary: a panic is the failure report.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{InProcess, committed_rows, event, produce_spaced, test_config, test_config_on_s3};
use neptune::Config;
use neptune::sink::TableSink;
use neptune::source::{Decoded, decode};
use packetpulse_testkit::{Kafka, S3Server};
use tokio_util::sync::CancellationToken;

/// 86,400 s over 1M events: one day of a busy fleet.
const SPACING: Duration = Duration::from_micros(86_400);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(name: &str, rows: u64, elapsed: Duration, metrics: &neptune::Metrics) {
    let bytes = metrics.bytes_committed.get();
    println!(
        "{name}: {rows} rows in {:.2} s = {:.0} rows/s ({} commits, {} files, {:.1} MB, {:.1} B/row)",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        metrics.commits.get(),
        metrics.files_committed.get(),
        bytes as f64 / 1e6,
        bytes as f64 / rows as f64
    );
}

/// Part 1: payloads from memory through decode, Parquet and commits.
async fn sink_capacity(name: &str, config: &Config, payloads: &[String]) {
    let metrics = neptune::Metrics::new();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let mut sink = TableSink::open(config, &metrics).await.unwrap();
    for (offset, payload) in payloads.iter().enumerate() {
        let Decoded::Row(row) = decode(Some(payload.as_bytes()), 0, offset as i64) else {
            panic!("payload {offset} is not an event");
        };
        sink.push(row).await.unwrap();
        if sink.batch_is_full() {
            sink.commit(&shutdown).await.unwrap();
        }
    }
    if sink.buffered_rows() > 0 {
        sink.commit(&shutdown).await.unwrap();
    }
    report(name, payloads.len() as u64, started.elapsed(), &metrics);
}

/// Part 2: from the broker into the table.
async fn end_to_end(kafka: &Kafka, events: u64) {
    let topic = kafka.create_unique_topic("neptune-bench", 6).await.unwrap();
    let produce_started = Instant::now();
    produce_spaced(kafka, &topic, 0, events, None, SPACING).await;
    println!(
        "tansu: produced {events} events in {:.1} s",
        produce_started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(kafka, &topic, dir.path());
    config.commit_interval = Duration::from_secs(1);
    let started = Instant::now();
    let sink = InProcess::start(&config).await;
    while committed_rows(&config).await < events {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    report("tansu → local dir, end to end", events, elapsed, &sink.metrics);
    sink.stop().await.unwrap();
}

#[tokio::main]
async fn main() {
    let events = env_or("BENCH_EVENTS", 1_000_000);
    let payloads: Vec<String> = (0..events).map(|i| event(i, SPACING).to_json()).collect();
    let kafka = Kafka::start_tansu().unwrap();
    let s3 = S3Server::start().unwrap();

    let local_dir = tempfile::tempdir().unwrap();
    sink_capacity(
        "sink capacity, local dir",
        &test_config(&kafka, "bench", local_dir.path()),
        &payloads,
    )
    .await;
    let s3_dir = tempfile::tempdir().unwrap();
    let bucket = s3.create_unique_bucket("bench").unwrap();
    let test_config_on_s3 = test_config_on_s3(&kafka, "bench", s3_dir.path(), &s3, &bucket);
    sink_capacity("sink capacity, s3 (s3s-fs)", &test_config_on_s3, &payloads).await;
    drop(payloads);

    end_to_end(&kafka, env_or("BENCH_KAFKA_EVENTS", 300_000)).await;
}
