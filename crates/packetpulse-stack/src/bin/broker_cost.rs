//! The broker's own cost per message (crate README, "Headroom at fleet scale"):
//! `cargo run --release -p packetpulse-stack --bin broker_cost -- --help`.
//!
//! Nothing but a raw rdkafka producer and consumer against a fresh tansu (sqlite engine, as `make up` runs it),
//! so the figures are the broker's, not the planets'. For each producer setting (compression, linger, batch
//! size) it produces `--messages` event-sized JSON messages keyed by session as fast as the broker takes them,
//! then reads them all back with one consumer, and prints per phase: messages a second and the broker's CPU per
//! 1,000 messages (`/proc`), with its resident memory at the end.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use packetpulse_stack::measure::ProcessSampler;
use packetpulse_testkit::Kafka;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, TopicPartitionList};

/// Measures what tansu costs per produced and consumed message, for several producer settings.
#[derive(Debug, Parser)]
struct Args {
    /// Messages produced (and consumed) per setting.
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Partitions of the topic (Venus' default for `sessions`).
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Distinct sessions the messages are keyed by.
    #[arg(long, default_value_t = 10_000)]
    sessions: u64,
    /// Producer settings to compare, each `compression/linger_ms/batch_bytes` (compression: none, lz4, gzip,
    /// snappy; this librdkafka has no zstd).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lz4/5/1000000,none/5/1000000,none/0/1000000,none/50/1000000,none/50/4000000"
    )]
    settings: Vec<ProducerSetting>,
    /// Produce at this many messages a second with `--live-consumers` reading at the same time (the stack's
    /// steady state), measuring the broker over the whole run; 0: as fast as it takes them, then read back.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// With `--rate`: consumers (each its own group, as Neptune, Jupiter and Mercury's live feed are) following
    /// the topic while it is written.
    #[arg(long, default_value_t = 1)]
    live_consumers: usize,
    /// The consumer's `fetch.wait.max.ms`.
    #[arg(long, default_value_t = 100)]
    fetch_wait_ms: u64,
    /// The consumer's `fetch.min.bytes`.
    #[arg(long, default_value_t = 1)]
    fetch_min_bytes: u64,
    /// The consumer's `max.partition.fetch.bytes` (librdkafka's default: 1 MiB).
    #[arg(long, default_value_t = 1_048_576)]
    partition_fetch_bytes: u64,
}

/// One producer configuration.
#[derive(Debug, Clone)]
struct ProducerSetting {
    compression: String,
    linger_ms: u64,
    batch_bytes: u64,
}

impl std::str::FromStr for ProducerSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        let [compression, linger_ms, batch_bytes] = parts.as_slice() else {
            return Err(format!("{text:?}: expected compression/linger_ms/batch_bytes"));
        };
        let number = |name: &str, value: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("{text:?}: {name} must be a whole number, not {value:?}"))
        };
        Ok(Self {
            compression: (*compression).to_owned(),
            linger_ms: number("linger_ms", linger_ms)?,
            batch_bytes: number("batch_bytes", batch_bytes)?,
        })
    }
}

impl std::fmt::Display for ProducerSetting {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} linger {} ms batch {} KB",
            self.compression,
            self.linger_ms,
            self.batch_bytes / 1000
        )
    }
}

/// Counts the broker's answers to produced messages.
#[derive(Default)]
struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        let counter = if result.is_ok() {
            &self.delivered
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A phase's figures.
struct Phase {
    messages: u64,
    seconds: f64,
    broker_cpu_seconds: f64,
    broker_rss_mib: f64,
}

impl Phase {
    fn line(&self) -> String {
        format!(
            "{:>9.0} msg/s  broker {:>6.1} ms CPU per 1,000 msgs  ({:.0} % of a core, RSS {:.0} MiB)",
            self.messages as f64 / self.seconds,
            1000.0 * self.broker_cpu_seconds / self.messages.max(1) as f64 * 1000.0,
            100.0 * self.broker_cpu_seconds / self.seconds,
            self.broker_rss_mib
        )
    }
}

/// Samples the broker every 500 ms while `work` runs on a thread; returns its figures for `messages`.
fn measured(pid: u32, messages: u64, work: impl FnOnce() + Send) -> Phase {
    let mut sampler = ProcessSampler::default();
    let started = Instant::now();
    sampler.sample("broker", pid);
    std::thread::scope(|scope| {
        let worker = scope.spawn(work);
        while !worker.is_finished() {
            std::thread::sleep(Duration::from_millis(500));
            sampler.sample("broker", pid);
        }
    });
    sampler.sample("broker", pid);
    let seconds = started.elapsed().as_secs_f64();
    let usage = sampler.usage().remove("broker");
    Phase {
        messages,
        seconds,
        broker_cpu_seconds: usage
            .as_ref()
            .map_or(0.0, |usage| usage.cpu_percent / 100.0 * seconds),
        broker_rss_mib: usage.map_or(0.0, |usage| usage.rss_last_mib),
    }
}

/// A delivery event as Venus publishes it, about the size of the real ones.
fn payload(index: u64, sessions: u64) -> (String, String) {
    let session = format!("session-{:06}", index % sessions);
    let body = serde_json::json!({
        "event_id": format!("00000000-0000-4000-8000-{index:012}"),
        "device_id": format!("device-{:05}", index % sessions),
        "vehicle_id": format!("vehicle-{:05}", index % sessions),
        "session_id": session,
        "order_id": format!("order-{:06}", index % sessions),
        "status": "en_route",
        "timestamp": "2026-12-02T08:00:00.000Z",
        "start_lat": 37.98, "start_lon": 23.72, "end_lat": 38.0, "end_lon": 23.8,
        "current_lat": 37.98 + (index % 1000) as f64 * 1e-5,
        "current_lon": 23.72 + (index % 997) as f64 * 1e-5,
        "seq": index / sessions, "speed_kmh": 34.5, "heading_deg": 87.0,
        "route_name": "athens-01", "waypoint_count": 120,
        "received_at": "2026-12-02T08:00:00.012Z",
    });
    (session, body.to_string())
}

fn produce(kafka: &Kafka, topic: &str, setting: &ProducerSetting, args: &Args) -> anyhow::Result<()> {
    let producer: ThreadedProducer<Deliveries> = kafka
        .client_config()
        // As Venus on tansu: no idempotence, one request in flight per connection.
        .set("enable.idempotence", "false")
        .set("max.in.flight.requests.per.connection", "1")
        .set("acks", "all")
        .set("compression.type", &setting.compression)
        .set("linger.ms", setting.linger_ms.to_string())
        .set("batch.size", setting.batch_bytes.to_string())
        .set("message.max.bytes", (setting.batch_bytes + 1_000_000).to_string())
        .set("queue.buffering.max.messages", "200000")
        .create_with_context(Deliveries::default())?;
    let started = Instant::now();
    for index in 0..args.messages {
        if args.rate > 0 && index % 100 == 0 {
            // Paced in steps of 100 messages: each step waits for its place on the timeline.
            let due = started + Duration::from_secs_f64(index as f64 / args.rate as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let (key, body) = payload(index, args.sessions);
        let mut record = BaseRecord::to(topic).key(&key).payload(&body);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((error, returned)) if error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let context = producer.context();
    let failed = context.failed.load(Ordering::Relaxed);
    anyhow::ensure!(failed == 0, "{failed} messages were refused");
    anyhow::ensure!(
        context.delivered.load(Ordering::Relaxed) == args.messages,
        "not every message was acknowledged"
    );
    Ok(())
}

fn consume(kafka: &Kafka, topic: &str, reader: usize, args: &Args) -> anyhow::Result<()> {
    let consumer: BaseConsumer = kafka
        .client_config()
        .set("group.id", format!("{topic}-reader-{reader}"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", args.fetch_wait_ms.to_string())
        .set("fetch.min.bytes", args.fetch_min_bytes.to_string())
        .set(
            "max.partition.fetch.bytes",
            args.partition_fetch_bytes.to_string(),
        )
        .create()?;
    let mut partitions = TopicPartitionList::new();
    for partition in 0..args.partitions {
        partitions.add_partition_offset(topic, partition, rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&partitions)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut read = 0;
    // A live consumer's fetch may come back empty many times before the producer is done: only the deadline ends it.
    while read < args.messages {
        anyhow::ensure!(
            Instant::now() < deadline,
            "read {read} of {} in 600 s",
            args.messages
        );
        if let Some(message) = consumer.poll(Duration::from_millis(500)) {
            anyhow::ensure!(message?.payload().is_some(), "a message without a payload");
            read += 1;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("broker_cost: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    println!(
        "{} messages per setting, {} partitions, keyed by {} sessions; consumer fetch.wait.max.ms {} \
         fetch.min.bytes {} max.partition.fetch.bytes {}",
        args.messages,
        args.partitions,
        args.sessions,
        args.fetch_wait_ms,
        args.fetch_min_bytes,
        args.partition_fetch_bytes
    );
    for setting in &args.settings {
        // A fresh broker per setting: its database grows with every message kept.
        let broker = Kafka::start_tansu()?;
        let pid = broker
            .pid()
            .ok_or_else(|| anyhow::anyhow!("the broker has no PID"))?;
        let topic = broker.create_unique_topic("broker-cost", args.partitions).await?;
        let (kafka, topic) = (&broker, topic.as_str());
        if args.rate > 0 {
            let mut outcomes = Vec::new();
            let phase = measured(pid, args.messages, || {
                std::thread::scope(|scope| {
                    let readers: Vec<_> = (0..args.live_consumers)
                        .map(|reader| scope.spawn(move || consume(kafka, topic, reader, args)))
                        .collect();
                    outcomes.push(produce(kafka, topic, setting, args));
                    for reader in readers {
                        outcomes.push(
                            reader
                                .join()
                                .unwrap_or_else(|_| Err(anyhow::anyhow!("a reader panicked"))),
                        );
                    }
                });
            });
            outcomes.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
            println!(
                "{setting}, {} a second, {} live consumers",
                args.rate, args.live_consumers
            );
            println!("  all     {}", phase.line());
            continue;
        }
        let produced = {
            let mut outcome = Ok(());
            let phase = measured(pid, args.messages, || {
                outcome = produce(kafka, topic, setting, args);
            });
            outcome?;
            phase
        };
        let consumed = {
            let mut outcome = Ok(());
            let phase = measured(pid, args.messages, || outcome = consume(kafka, topic, 0, args));
            outcome?;
            phase
        };
        println!("{setting}");
        println!("  produce {}", produced.line());
        println!("  consume {}", consumed.line());
    }
    Ok(())
}
