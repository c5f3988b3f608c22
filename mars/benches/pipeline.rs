//! The pipeline benchmark: `cargo bench -p mars` (release build). Against one broker in one run it prints
//!   1. a raw rdkafka producer's rate (Venus' producer settings, same payloads, as many in flight as in 2),
//!   2. Venus' sustained rate with acknowledgements after Kafka, driven by pipelining WebSocket clients, with
//!      frame ack latency p50/p99 (1 and 2 also print the CPU the whole process used meanwhile: on a small
//!      machine, clients and broker share it with Venus),
//!   3. 10k simulated vehicles at 1 Hz through Venus: ack latency p50/p99,
//!   4. Mars' CPU use (its own process, from /proc) for 100k vehicles at 1 Hz.
//!
//! `BENCH_BROKER=tansu` runs against the real broker instead of librdkafka's mock cluster; `BENCH_EVENTS`
//! sets the event count of 1 and 2 (default 1000000); `BENCH_SECONDS` the duration of 3 and 4 (default 20; 0
//! skips them).

#![allow(clippy::unwrap_used, missing_docs)] // A benchmark binary: a panic is the failure report.

mod common;

use std::time::{Duration, Instant};

use common::{env_or, event};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use packetpulse_testkit::Kafka;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

// The allocator of the venus and mars binaries, so the in-process Venus measures as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const API_KEY: &str = venus::testing::TEST_API_KEY;
const CLIENT_CONNECTIONS: usize = 4;
const FRAME_EVENTS: usize = 500;
const WINDOW: usize = 16;
/// Events waiting for Kafka at once: what Venus' clients keep in flight, and the raw producer's window too.
/// (Enqueueing everything at once measured slower: a million queued messages cost more in page faults than
/// they save.)
const IN_FLIGHT: usize = CLIENT_CONNECTIONS * WINDOW * FRAME_EVENTS;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
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
    let events = env_or("BENCH_EVENTS", 1_000_000);
    let seconds = env_or("BENCH_SECONDS", 20);
    let kafka = match std::env::var("BENCH_BROKER").as_deref() {
        Ok("tansu") => {
            Kafka::start_tansu().expect("tansu must be installed: bash infrastructure/local/install.sh")
        }
        _ => Kafka::start_mock().unwrap(),
    };
    println!(
        "broker: {:?} at {}; {} cores",
        kafka.kind(),
        kafka.bootstrap_servers(),
        num_cores()
    );

    let (raw_rate, raw_cores) = raw_producer(&kafka, events).await;
    println!(
        "1. raw rdkafka producer (acks=all, idempotent, lz4, {IN_FLIGHT} in flight): {events} events → \
         {raw_rate:.0} events/s ({raw_cores:.2} cores busy)"
    );

    let venus = start_venus(&kafka).await;
    let (venus_rate, venus_cores, p50, p99) = venus_max_throughput(&venus.ws_url(), events).await;
    println!(
        "2. Venus max throughput ({CLIENT_CONNECTIONS} connections, {FRAME_EVENTS} events/frame, {WINDOW} frames \
         in flight each): {venus_rate:.0} events/s = {:.0} % of raw ({venus_cores:.2} cores busy, clients \
         included); frame ack latency p50 {:.1} ms, p99 {:.1} ms",
        venus_rate / raw_rate * 100.0,
        ms(p50),
        ms(p99)
    );
    if seconds == 0 {
        return venus.shutdown().await.unwrap();
    }

    let summary = fleet_at_one_hertz(&venus.ws_url(), 10_000, seconds).await;
    println!(
        "3. 10k vehicles at 1 Hz for {seconds} s through Venus: {} events acked; ack latency p50 {:.1} ms, p99 {:.1} ms",
        summary.events_acked,
        ms(summary.ack_p50),
        ms(summary.ack_p99)
    );

    // Blocking waits: off the runtime's worker threads, which serve Venus meanwhile.
    let url = venus.ws_url();
    let (cpu, acked) = tokio::task::spawn_blocking(move || mars_process_cpu(&url, 100_000, seconds))
        .await
        .unwrap();
    println!(
        "4. Mars process, 100k vehicles at 1 Hz for {seconds} s: {:.2} cores of CPU ({acked} events acked by Venus)",
        cpu
    );
    venus.shutdown().await.unwrap();
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

async fn raw_producer(kafka: &Kafka, events: u64) -> (f64, f64) {
    let topic = kafka.create_unique_topic("raw", 6).await.unwrap();
    let producer: FutureProducer = kafka
        .client_config()
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let payloads: Vec<(String, String)> = (0..events)
        .map(|n| {
            let published = event(n).publish(chrono::Utc::now());
            (published.event.session_id.clone(), published.to_json())
        })
        .collect();
    let cpu = CpuWindow::start();
    let mut deliveries = std::collections::VecDeque::with_capacity(IN_FLIGHT);
    for (key, payload) in &payloads {
        if deliveries.len() == IN_FLIGHT {
            let oldest: rdkafka::producer::DeliveryFuture = deliveries.pop_front().unwrap();
            oldest.await.unwrap().map_err(|(e, _)| e).unwrap();
        }
        let record = FutureRecord::to(&topic).key(key).payload(payload);
        deliveries.push_back(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
    (events as f64 / cpu.elapsed_seconds(), cpu.cores())
}

/// CPU used by this process (every thread: clients, Venus, librdkafka, the mock broker) over a wall-clock window.
struct CpuWindow {
    cpu_seconds: f64,
    started: Instant,
}

impl CpuWindow {
    fn start() -> Self {
        Self {
            cpu_seconds: cpu_seconds(std::process::id()),
            started: Instant::now(),
        }
    }

    fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Cores busy on average since the start.
    fn cores(&self) -> f64 {
        (cpu_seconds(std::process::id()) - self.cpu_seconds) / self.elapsed_seconds()
    }
}

async fn start_venus(kafka: &Kafka) -> venus::RunningVenus {
    let mut config = venus::testing::test_config(kafka);
    config.topic_partitions = 6;
    config.max_connections = 100;
    venus::testing::start(kafka, config).await
}

/// Pipelining clients send pre-built frames as fast as Venus acknowledges them.
async fn venus_max_throughput(url: &str, events: u64) -> (f64, f64, Duration, Duration) {
    let frames_per_connection = (events as usize).div_ceil(FRAME_EVENTS * CLIENT_CONNECTIONS);
    let mut clients = Vec::new();
    for c in 0..CLIENT_CONNECTIONS {
        // Utf8Bytes: sending a frame clones a reference, not 250 KB, so the load client stays cheap.
        let frames: Vec<Utf8Bytes> = (0..frames_per_connection)
            .map(|f| {
                let base = ((c * frames_per_connection + f) * FRAME_EVENTS) as u64;
                serde_json::to_string(
                    &(0..FRAME_EVENTS as u64)
                        .map(|i| event(base + i))
                        .collect::<Vec<_>>(),
                )
                .unwrap()
                .into()
            })
            .collect();
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let auth = serde_json::to_string(&packetpulse_model::AuthenticationFrame::api_key(API_KEY)).unwrap();
        socket.send(Message::Text(auth.into())).await.unwrap();
        socket.next().await.unwrap().unwrap();
        clients.push((socket, frames));
    }
    let cpu = CpuWindow::start();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(socket, frames)| {
            tokio::spawn(async move {
                let (mut sink, mut stream) = socket.split();
                let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).unwrap();
                let mut sent_at = std::collections::VecDeque::new();
                let mut next = 0;
                let mut acked = 0;
                while acked < frames.len() {
                    while next < frames.len() && sent_at.len() < WINDOW {
                        sink.send(Message::Text(frames[next].clone())).await.unwrap();
                        sent_at.push_back(Instant::now());
                        next += 1;
                    }
                    let Message::Text(reply) = stream.next().await.unwrap().unwrap() else {
                        continue;
                    };
                    assert!(reply.contains("\"success\":true"), "{reply}");
                    let sent: Instant = sent_at.pop_front().unwrap();
                    latency.record(sent.elapsed().as_micros() as u64).unwrap();
                    acked += 1;
                }
                latency
            })
        })
        .collect();
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).unwrap();
    for task in tasks {
        latency.add(task.await.unwrap()).unwrap();
    }
    let total = (frames_per_connection * FRAME_EVENTS * CLIENT_CONNECTIONS) as f64;
    let rate = total / cpu.elapsed_seconds();
    (
        rate,
        cpu.cores(),
        Duration::from_micros(latency.value_at_quantile(0.5)),
        Duration::from_micros(latency.value_at_quantile(0.99)),
    )
}

/// Mars in-process: vehicles at 1 Hz in continuous mode for `seconds`, then stopped.
async fn fleet_at_one_hertz(url: &str, vehicles: usize, seconds: u64) -> mars::Summary {
    let mut config = mars::Config::defaults();
    config.venus_url = url.to_owned();
    config.api_key = API_KEY.into();
    config.vehicles = vehicles;
    config.mode = mars::Mode::Continuous;
    config.start_spread = Duration::from_secs(1);
    config.progress_interval = Duration::from_secs(3600);
    let stop = tokio::time::sleep(Duration::from_secs(seconds));
    mars::run(config, stop).await.unwrap()
}

/// Mars as its own process: CPU seconds used per wall second, from /proc/<pid>/stat.
fn mars_process_cpu(url: &str, vehicles: usize, seconds: u64) -> (f64, String) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mars"))
        .args([
            "--venus-url",
            url,
            "--api-key",
            API_KEY,
            "--vehicles",
            &vehicles.to_string(),
        ])
        .args([
            "--mode",
            "continuous",
            "--start-spread",
            "1s",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args(["--progress-interval", "1h"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Skip the first seconds (sessions starting, connections opening), then measure a steady window.
    std::thread::sleep(Duration::from_secs(3));
    let (cpu_before, wall_before) = (cpu_seconds(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let cpu = (cpu_seconds(pid) - cpu_before) / wall_before.elapsed().as_secs_f64();
    // SIGTERM: Mars drains and prints its summary.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    let acked = log
        .lines()
        .rev()
        .find_map(|line| {
            line.split("acked ")
                .nth(1)
                .map(|rest| rest.split(' ').next().unwrap_or("?").to_owned())
        })
        .unwrap_or_else(|| "?".into());
    (cpu, acked)
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ is 100 on Linux
}
