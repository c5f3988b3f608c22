//! The original simulator's protocol through Venus: `cargo bench -p mars --bench original_protocol`.
//!
//! Each of `BENCH_CONNECTIONS` WebSocket connections (default 20) sends one event per frame and the next only
//! after Venus' reply (which comes once Kafka has the event), for `BENCH_SECONDS` (default 20), against a fresh
//! tansu broker (`BENCH_BROKER=mock`: librdkafka's mock cluster), with Venus producing as the native stack has
//! it (no idempotence, one request in flight, no compression). Before each Venus run, the broker's own round trip
//! at the same concurrency: a raw rdkafka producer with the same settings, as many senders as connections, each
//! waiting for its delivery before the next. Repeated per producer `linger.ms` in `BENCH_LINGERS` (default
//! "0,5"). Prints events a second and latency p50/p99, and Venus' p50 over the raw round trip's.

#![allow(clippy::unwrap_used, missing_docs)] // A benchmark binary: a panic is the failure report.

mod common;

use std::time::{Duration, Instant};

use common::{env_or, event};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use packetpulse_testkit::Kafka;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_tungstenite::tungstenite::Message;

// The allocator of the venus and mars binaries, so the in-process Venus measures as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const API_KEY: &str = venus::testing::TEST_API_KEY;
const PARTITIONS: i32 = 6;

/// Events a second and round-trip latency of one run.
struct RoundTrips {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

fn lingers() -> Vec<u32> {
    std::env::var("BENCH_LINGERS")
        .unwrap_or_else(|_| "0,5".into())
        .split(',')
        .map(|linger| {
            linger
                .trim()
                .parse()
                .expect("BENCH_LINGERS: whole milliseconds, comma-separated")
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async_main());
}

async fn async_main() {
    let connections = env_or("BENCH_CONNECTIONS", 20) as usize;
    let duration = Duration::from_secs(env_or("BENCH_SECONDS", 20));
    let kafka = match std::env::var("BENCH_BROKER").as_deref() {
        Ok("mock") => Kafka::start_mock().unwrap(),
        _ => Kafka::start_tansu().expect("tansu must be installed: bash infrastructure/local/install.sh"),
    };
    println!(
        "broker: {:?} at {}; {connections} connections, one event per frame, one frame in flight each, {} s per run",
        kafka.kind(),
        kafka.bootstrap_servers(),
        duration.as_secs()
    );
    for linger in lingers() {
        let raw = raw_round_trips(&kafka, connections, duration, linger).await;
        println!(
            "linger {linger} ms, raw rdkafka producer ({connections} senders): {:.0} events/s, round trip p50 {:.2} ms, \
             p99 {:.2} ms",
            raw.rate,
            ms(raw.p50),
            ms(raw.p99)
        );
        let venus = venus_round_trips(&kafka, connections, duration, linger).await;
        println!(
            "linger {linger} ms, Venus ({connections} connections): {:.0} events/s, reply p50 {:.2} ms, p99 {:.2} ms \
             (p50 {:+.2} ms over the broker's round trip)",
            venus.rate,
            ms(venus.p50),
            ms(venus.p99),
            ms(venus.p50) - ms(raw.p50)
        );
    }
}

/// Senders that each wait for the broker's acknowledgement of one message before producing the next.
async fn raw_round_trips(kafka: &Kafka, senders: usize, duration: Duration, linger: u32) -> RoundTrips {
    let topic = kafka.create_unique_topic("raw", PARTITIONS).await.unwrap();
    // Venus' producer settings on tansu (venus/src/publish.rs, infrastructure/local/services.sh).
    let producer: FutureProducer = kafka
        .client_config()
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("max.in.flight.requests.per.connection", "1")
        .set("compression.type", "none")
        .set("partitioner", "consistent_random")
        .set("linger.ms", linger.to_string())
        .create()
        .unwrap();
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..senders as u64)
        .map(|sender| {
            let (producer, topic) = (producer.clone(), topic.clone());
            tokio::spawn(async move {
                let mut latency = histogram();
                let mut n = sender;
                while Instant::now() < deadline {
                    let published = event(n).publish(chrono::Utc::now());
                    let payload = published.to_json();
                    let record = FutureRecord::to(&topic)
                        .key(&published.event.session_id)
                        .payload(&payload);
                    let sent = Instant::now();
                    producer
                        .send(record, Duration::from_secs(30))
                        .await
                        .map_err(|(e, _)| e)
                        .unwrap();
                    latency.record(sent.elapsed().as_micros() as u64).unwrap();
                    n += senders as u64;
                }
                latency
            })
        })
        .collect();
    summarise(tasks, duration).await
}

/// WebSocket connections that each send one event and wait for Venus' reply before the next.
async fn venus_round_trips(kafka: &Kafka, connections: usize, duration: Duration, linger: u32) -> RoundTrips {
    let mut config = venus::testing::test_config(kafka);
    config.topic_partitions = PARTITIONS;
    config.max_connections = connections + 10;
    config.kafka_idempotence = false;
    config.kafka_compression = "none".into();
    config.kafka_linger_ms = linger;
    let venus = venus::testing::start(kafka, config).await;
    let mut sockets = Vec::new();
    for _ in 0..connections {
        let (mut socket, _) = tokio_tungstenite::connect_async(venus.ws_url()).await.unwrap();
        let auth = serde_json::to_string(&packetpulse_model::AuthenticationFrame::api_key(API_KEY)).unwrap();
        socket.send(Message::Text(auth.into())).await.unwrap();
        socket.next().await.unwrap().unwrap();
        sockets.push(socket);
    }
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(connection, mut socket)| {
            tokio::spawn(async move {
                let mut latency = histogram();
                let mut n = connection as u64;
                while Instant::now() < deadline {
                    let frame = serde_json::to_string(&event(n)).unwrap();
                    let sent = Instant::now();
                    socket.send(Message::Text(frame.into())).await.unwrap();
                    let reply = loop {
                        match socket.next().await.unwrap().unwrap() {
                            Message::Text(reply) => break reply,
                            _ => continue, // pings
                        }
                    };
                    latency.record(sent.elapsed().as_micros() as u64).unwrap();
                    assert!(reply.contains("\"success\":true"), "{reply}");
                    n += connections as u64;
                }
                latency
            })
        })
        .collect();
    let summary = summarise(tasks, duration).await;
    venus.shutdown().await.unwrap();
    summary
}

async fn summarise(tasks: Vec<tokio::task::JoinHandle<Histogram<u64>>>, duration: Duration) -> RoundTrips {
    let mut latency = histogram();
    for task in tasks {
        latency.add(task.await.unwrap()).unwrap();
    }
    RoundTrips {
        rate: latency.len() as f64 / duration.as_secs_f64(),
        p50: Duration::from_micros(latency.value_at_quantile(0.5)),
        p99: Duration::from_micros(latency.value_at_quantile(0.99)),
    }
}
