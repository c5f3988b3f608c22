//! Jupiter's throughput and freshness: `cargo bench -p jupiter` (release build). Prints
//!   1. the sink's capacity: `BENCH_EVENTS` events (default 1,000,000) decoded, enriched and inserted into
//!      ClickHouse in batches of the default 50k rows, from memory, through the sink's `SilverSink` — sustained
//!      rows/s, `BENCH_ROUNDS` times (default 5) into fresh databases, and their median;
//!   2. freshness at 10k events/s through the real broker (tansu) for `BENCH_SECONDS` (default 20): events carry
//!      their send time as event time; a poller reads `max(event_time_ms)` every 50 ms, and each new maximum gives
//!      one sample of "sent → queryable" (an upper bound: the row became visible at the latest when seen).

#![allow(clippy::unwrap_used, missing_docs)] // A benchmark binary: a panic is the failure report.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{InProcess, event, test_config};
use hdrhistogram::Histogram;
use jupiter::sink::{Batch, SilverSink, SinkOptions};
use jupiter::transform::{Enricher, Movement, Position};
use packetpulse_testkit::{ClickHouse, Kafka};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn whole(rows: &mut Vec<Movement>) -> Batch {
    Batch {
        rows: std::mem::take(rows),
        alerts: Vec::new(),
        newest_event_ms: 0,
        started: tokio::time::Instant::now(),
        after_insert: None,
    }
}

/// Runs [`capacity_once`] `rounds` times (each into a fresh database) and prints every figure and the median:
/// on a 2-core machine shared with ClickHouse's background merges, single runs vary by ±25 %.
async fn capacity(kafka: &Kafka, clickhouse: &ClickHouse, events: u64, rounds: u64) {
    let payloads: Vec<String> = (0..events)
        .map(|i| {
            event(
                u32::try_from(i % 10_000).unwrap(),
                u32::try_from(i / 10_000).unwrap(),
            )
            .to_json()
        })
        .collect();
    let mut rates = Vec::new();
    for _ in 0..rounds {
        rates.push(capacity_once(kafka, clickhouse, &payloads).await);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "sink capacity, median of {rounds}: {:.0} rows/s",
        rates[rates.len() / 2]
    );
}

async fn capacity_once(kafka: &Kafka, clickhouse: &ClickHouse, payloads: &[String]) -> f64 {
    let events = payloads.len() as u64;
    let config = test_config(kafka, clickhouse, "bench");
    let client = config.clickhouse_client();
    jupiter::migrations::migrate(&client, &config.clickhouse.database)
        .await
        .unwrap();
    let client = client.with_database(&config.clickhouse.database);
    let started = Instant::now();
    let metrics = jupiter::Metrics::new();
    let writer = SilverSink::start(
        client,
        SinkOptions::new(metrics.clone(), CancellationToken::new()),
    );
    let mut enricher = Enricher::new(config.max_speed_kmh);
    let mut batch: Vec<Movement> = Vec::with_capacity(config.flush_rows);
    let mut enriching = Duration::ZERO;
    for (offset, payload) in payloads.iter().enumerate() {
        let offset = offset as i64;
        let enrich_started = Instant::now();
        let (published, _) = packetpulse_model::PublishedEvent::from_kafka_message(
            Some(payload.as_bytes()),
            "bench",
            0,
            offset,
        )
        .unwrap();
        batch.push(enricher.enrich(published, Position { partition: 0, offset }, 0));
        enriching += enrich_started.elapsed();
        if batch.len() >= config.flush_rows {
            writer.submit(whole(&mut batch)).await.unwrap();
        }
    }
    writer.submit(whole(&mut batch)).await.unwrap();
    writer.finish().await.unwrap();
    assert_eq!(metrics.rows_inserted.get(), events);
    let elapsed = started.elapsed();
    println!(
        "sink capacity: {events} rows in {:.2} s = {:.0} rows/s (decode + enrich overlapping the insert of the previous batch, as in the sink; batches of {}); \
         decode + enrich alone {:.2} s",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        config.flush_rows,
        enriching.as_secs_f64()
    );
    events as f64 / elapsed.as_secs_f64()
}

async fn freshness(kafka: &Kafka, clickhouse: &ClickHouse, seconds: u64) {
    const RATE: u64 = 10_000;
    let topic = kafka.create_unique_topic("jupiter-bench", 6).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    let jupiter = InProcess::start(&config).await;
    let client = config.silver_client();
    let producer: FutureProducer = kafka.client_config().set("linger.ms", "5").create().unwrap();
    let total = RATE * seconds;
    let sender = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut pending = Vec::new();
        for i in 0..total {
            if i % 100 == 0 {
                tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / RATE as f64)).await;
            }
            let mut published = event(
                u32::try_from(i % 5_000).unwrap(),
                u32::try_from(i / 5_000).unwrap(),
            );
            published.event.timestamp = Utc::now();
            let payload = published.to_json();
            let record = FutureRecord::to(&topic)
                .key(&published.event.session_id)
                .payload(&payload);
            pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        }
        for delivery in pending {
            delivery.await.unwrap().unwrap();
        }
    });
    let mut delays = Histogram::<u64>::new(3).unwrap();
    let mut newest = 0u64;
    while !sender.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Ok(max) = client
            .query("SELECT max(event_time_ms) FROM session_movements")
            .fetch_one::<u64>()
            .await
        else {
            continue;
        };
        if max > newest {
            newest = max;
            let now = u64::try_from(Utc::now().timestamp_millis()).unwrap();
            delays.record(now.saturating_sub(max)).unwrap();
        }
    }
    sender.await.unwrap();
    jupiter.wait_for_inserted(total, Duration::from_secs(120)).await;
    jupiter.stop().await.unwrap();
    println!(
        "freshness at {RATE} events/s through tansu for {seconds} s: sent → queryable p50 {} ms, p99 {} ms, max {} ms ({} samples)",
        delays.value_at_quantile(0.5),
        delays.value_at_quantile(0.99),
        delays.max(),
        delays.len()
    );
}

#[tokio::main]
async fn main() {
    let kafka = Kafka::start_tansu().unwrap();
    let clickhouse = ClickHouse::start().unwrap();
    capacity(
        &kafka,
        &clickhouse,
        env_or("BENCH_EVENTS", 1_000_000),
        env_or("BENCH_ROUNDS", 5),
    )
    .await;
    freshness(&kafka, &clickhouse, env_or("BENCH_SECONDS", 20)).await;
}
