//! What Neptune's tests share: configurations for a local-dir or S3 warehouse, an event producer, Neptune run
//! in-process or as a process, and two independent readers of the table (iceberg-rust and pyiceberg).

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use arrow_array::{Array, StringArray};
use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use iceberg::TableIdent;
use neptune::Config;
use packetpulse_model::{DeliveryEvent, PublishedEvent, testing};
use packetpulse_testkit::{Kafka, S3Server, wait_until};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A Neptune configuration for `topic`, with its catalog in `dir` and the warehouse in `dir/warehouse`.
pub fn test_config(kafka: &Kafka, topic: &str, dir: &Path) -> Config {
    let mut config = Config::defaults();
    config.kafka_bootstrap_servers = kafka.bootstrap_servers();
    config.topic = topic.to_owned();
    config.dead_letter_topic = format!("{topic}.dlq");
    config.group = format!("neptune-{topic}");
    config.lake.catalog_uri = format!("sqlite://{}", dir.join("catalog.db").display());
    config.lake.warehouse = format!("file://{}", dir.join("warehouse").display());
    config.metrics_listen = "127.0.0.1:0".parse().unwrap();
    // The tests wait for rows: a batch waits at most 10 s for its commit rather than the default 5 minutes.
    config.commit_interval = Duration::from_secs(10);
    config
}

/// As [`test_config`], with the warehouse in `bucket` on the S3 server.
pub fn test_config_on_s3(kafka: &Kafka, topic: &str, dir: &Path, s3: &S3Server, bucket: &str) -> Config {
    let mut config = test_config(kafka, topic, dir);
    config.lake.warehouse = format!("s3://{bucket}/warehouse");
    config.lake.s3_endpoint = s3.endpoint();
    config.lake.s3_region = S3Server::REGION.to_owned();
    config.lake.s3_access_key_id = S3Server::ACCESS_KEY.to_owned();
    config.lake.s3_secret_access_key = S3Server::SECRET_KEY.to_owned();
    config
}

/// The command-line flags that give a `neptune` process the same configuration.
pub fn flags(config: &Config) -> Vec<String> {
    let pairs = [
        (
            "--kafka-bootstrap-servers",
            config.kafka_bootstrap_servers.clone(),
        ),
        ("--topic", config.topic.clone()),
        ("--group", config.group.clone()),
        ("--dead-letter-topic", config.dead_letter_topic.clone()),
        ("--catalog-uri", config.lake.catalog_uri.clone()),
        ("--warehouse", config.lake.warehouse.clone()),
        ("--s3-endpoint", config.lake.s3_endpoint.clone()),
        ("--s3-region", config.lake.s3_region.clone()),
        ("--s3-access-key-id", config.lake.s3_access_key_id.clone()),
        ("--s3-secret-access-key", config.lake.s3_secret_access_key.clone()),
        (
            "--commit-interval",
            humantime::format_duration(config.commit_interval).to_string(),
        ),
        ("--target-file-mib", config.target_file_mib.to_string()),
        ("--dedup-window", config.dedup_window.to_string()),
        ("--metrics-listen", config.metrics_listen.to_string()),
    ];
    pairs
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect()
}

/// Event time spacing that spreads 200k events over about three days, so over several `day(event_time)`
/// partitions.
pub const SPREAD_OVER_DAYS: Duration = Duration::from_millis(1_300);

/// Event number `i` of a test stream: 1,000 sessions, event `i` at `i * spacing` after 2026-11-20T00:00Z, a fresh
/// UUIDv7 as id.
pub fn event(i: u64, spacing: Duration) -> PublishedEvent {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let at = start + chrono::Duration::from_std(spacing * u32::try_from(i).unwrap()).unwrap();
    PublishedEvent {
        event_id: Uuid::now_v7(),
        received_at: at + chrono::Duration::milliseconds(20),
        ..testing::published(DeliveryEvent {
            device_id: format!("device-{}", i % 1_000),
            vehicle_id: format!("vehicle-{}", i % 1_000),
            session_id: format!("session-{}", i % 1_000),
            order_id: format!("order-{}", i % 1_000),
            timestamp: at,
            end_lat: 38.01,
            end_lon: 23.79,
            current_lat: 37.98 + (i % 300) as f64 * 1e-4,
            current_lon: 23.72 + (i % 700) as f64 * 1e-4,
            seq: Some(i / 1_000),
            speed_kmh: Some(31.5),
            heading_deg: Some(72.0),
            route_name: Some("athens-01".to_owned()),
            waypoint_count: Some(412),
            ..testing::event()
        })
    }
}

/// Produces events `first..first + count` to `topic` (key = session id) at up to `per_second` (unlimited when
/// `None`; paced streams space event times by the rate, others by [`SPREAD_OVER_DAYS`]), waiting for every
/// acknowledgement. Returns their event ids.
pub async fn produce(
    kafka: &Kafka,
    topic: &str,
    first: u64,
    count: u64,
    per_second: Option<u64>,
) -> Vec<String> {
    let spacing = per_second.map_or(SPREAD_OVER_DAYS, |rate| {
        Duration::from_secs(1) / u32::try_from(rate).unwrap()
    });
    produce_spaced(kafka, topic, first, count, per_second, spacing).await
}

/// [`produce`] with event times `spacing` apart.
pub async fn produce_spaced(
    kafka: &Kafka,
    topic: &str,
    first: u64,
    count: u64,
    per_second: Option<u64>,
    spacing: Duration,
) -> Vec<String> {
    let producer: FutureProducer = kafka
        .client_config()
        .set("linger.ms", "5")
        .set("acks", "all")
        .create()
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut ids = Vec::with_capacity(usize::try_from(count).unwrap());
    let mut pending = Vec::new();
    for i in first..first + count {
        if let Some(rate) = per_second
            && (i - first).is_multiple_of(100)
        {
            // Pace the stream in steps of 100 events: event i is due at i / rate seconds.
            let due = started + Duration::from_secs_f64((i - first) as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
        }
        let event = event(i, spacing);
        let payload = event.to_json();
        ids.push(event.event_id.to_string());
        let record = FutureRecord::to(topic)
            .key(&event.event.session_id)
            .payload(&payload);
        pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        if pending.len() >= 10_000 {
            for delivery in pending.drain(..) {
                deliver(&producer, topic, delivery).await;
            }
        }
    }
    for delivery in pending {
        deliver(&producer, topic, delivery).await;
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    ids
}

/// Waits for one delivery. tansu (sqlite engine) now and then answers a produce under load with an error code
/// librdkafka does not know ("Unknown broker error", seen once in CI) and does not retry: the message is sent
/// again, as a real producer (Venus' clients) would; a copy that did land is a duplicate Neptune drops by id.
async fn deliver(producer: &FutureProducer, topic: &str, delivery: rdkafka::producer::DeliveryFuture) {
    let mut outcome = delivery.await.unwrap().map(|_| ());
    for attempt in 1..=5 {
        let Err((error, message)) = outcome else {
            return;
        };
        eprintln!("produce failed ({error}); sending again, attempt {attempt}");
        let mut record = FutureRecord::<[u8], [u8]>::to(topic);
        if let Some(key) = rdkafka::Message::key(&message) {
            record = record.key(key);
        }
        if let Some(payload) = rdkafka::Message::payload(&message) {
            record = record.payload(payload);
        }
        outcome = producer.send(record, Duration::from_secs(30)).await.map(|_| ());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outcome.unwrap();
}

/// Produces `events` to `topic` as Venus does (key = session id), in order, waiting for each acknowledgement.
pub async fn produce_events(kafka: &Kafka, topic: &str, events: &[PublishedEvent]) {
    let producer: FutureProducer = kafka.client_config().set("acks", "all").create().unwrap();
    for event in events {
        let payload = event.to_json();
        let record = FutureRecord::to(topic)
            .key(&event.event.session_id)
            .payload(&payload);
        producer.send(record, Duration::from_secs(30)).await.unwrap();
    }
}

/// Waits until the table's offsets account for `messages` messages of the topic (every one read and committed).
pub async fn wait_for_offsets(config: &Config, messages: i64, timeout: Duration) {
    wait_until(&format!("offsets past {messages} messages"), timeout, || async {
        let table = try_load_table(config).await?;
        let offsets =
            neptune::offsets::Offsets::from_table(&table, &config.topic).map_err(|e| e.to_string())?;
        let read: i64 = offsets.next.values().sum();
        Ok::<_, String>((read >= messages).then_some(()))
    })
    .await
    .unwrap();
}

/// Sends raw payloads (not events) to `topic`.
pub async fn produce_raw(kafka: &Kafka, topic: &str, payloads: &[&str]) {
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    for payload in payloads {
        let record = FutureRecord::<(), _>::to(topic).payload(*payload);
        producer.send(record, Duration::from_secs(30)).await.unwrap();
    }
}

/// Neptune's sink running in this process.
pub struct InProcess {
    stop: CancellationToken,
    task: JoinHandle<Result<(), neptune::Error>>,
    /// Its metrics.
    pub metrics: neptune::Metrics,
    /// Where `/metrics` is served.
    pub ops_addr: std::net::SocketAddr,
}

impl InProcess {
    /// Starts the sink.
    pub async fn start(config: &Config) -> Self {
        let listener = TcpListener::bind(config.metrics_listen).await.unwrap();
        let ops_addr = listener.local_addr().unwrap();
        let metrics = neptune::Metrics::new();
        let stop = CancellationToken::new();
        let config = config.clone();
        let task_metrics = metrics.clone();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            neptune::run_with(&config, &task_metrics, listener, async move {
                token.cancelled().await
            })
            .await
        });
        Self {
            stop,
            task,
            metrics,
            ops_addr,
        }
    }

    /// Whether it ended by itself (a start-up error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Asks it to stop (it commits what it read) and waits.
    pub async fn stop(self) -> Result<(), neptune::Error> {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

/// The table as the catalog has it now, or why not (it does not exist before Neptune's start).
pub async fn try_load_table(config: &Config) -> Result<iceberg::table::Table, String> {
    let catalog = packetpulse_lake::catalog::open(&config.lake).await.unwrap();
    let ident = TableIdent::from_strs([config.lake.namespace.as_str(), config.lake.table.as_str()]).unwrap();
    catalog
        .load_table(&ident)
        .await
        .map_err(|error| error.to_string())
}

/// The table as the catalog has it now.
pub async fn load_table(config: &Config) -> iceberg::table::Table {
    try_load_table(config).await.unwrap()
}

/// Rows in the table's current snapshot, from its summary (0 before the first commit).
pub async fn committed_rows(config: &Config) -> u64 {
    try_load_table(config)
        .await
        .map_or(0, |table| packetpulse_lake::catalog::committed_rows(&table))
}

/// Waits until the table holds at least `rows` rows.
pub async fn wait_for_rows(config: &Config, rows: u64, timeout: Duration) {
    wait_until(&format!("{rows} rows in the table"), timeout, || async {
        let committed = committed_rows(config).await;
        Ok::<_, String>((committed >= rows).then_some(()))
    })
    .await
    .unwrap();
}

/// Every event id in the table, read with iceberg-rust's scan, sorted.
pub async fn table_event_ids(config: &Config) -> Vec<String> {
    let table = load_table(config).await;
    let batches: Vec<_> = table
        .scan()
        .select(["event_id"])
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for batch in batches {
        let column = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        ids.extend((0..column.len()).map(|i| column.value(i).to_owned()));
    }
    ids.sort();
    ids
}

/// The table's snapshots and data files, as the current metadata lists them.
pub async fn table_stats(config: &Config) -> (usize, HashMap<String, String>) {
    let table = load_table(config).await;
    let snapshots = table.metadata().snapshots().count();
    let summary = table
        .metadata()
        .current_snapshot()
        .map(|snapshot| snapshot.summary().additional_properties.clone())
        .unwrap_or_default();
    (snapshots, summary)
}

/// SHA-256 of the sorted ids joined by newlines: the fingerprint the pyiceberg check prints too.
pub fn fingerprint(sorted_ids: &[String]) -> String {
    let mut hasher = Sha256::new();
    for id in sorted_ids {
        hasher.update(id.as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn python() -> PathBuf {
    packetpulse_testkit::venv_program("pyiceberg-venv", "python").unwrap_or_else(|error| panic!("{error}"))
}

/// What pyiceberg, reading through the same SQL catalog, says about the table.
pub fn pyiceberg_report(config: &Config) -> serde_json::Value {
    serde_json::from_str(&pyiceberg(config, &["report"])).unwrap()
}

/// Runs tests/pyiceberg_tool.py `args` (an action and its options) on the table; returns its output.
pub fn pyiceberg(config: &Config, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pyiceberg_tool.py");
    let sqlite_path = config.lake.catalog_uri.trim_start_matches("sqlite://");
    let output = Command::new(python())
        .arg(script)
        .args(args)
        .args(["--catalog-name", &config.lake.catalog_name])
        .args(["--sqlite", sqlite_path])
        .args(["--warehouse", &config.lake.warehouse])
        .args([
            "--table",
            &format!("{}.{}", config.lake.namespace, config.lake.table),
        ])
        .args(["--s3-endpoint", &config.lake.s3_endpoint])
        .args(["--s3-region", &config.lake.s3_region])
        .args(["--s3-access-key-id", &config.lake.s3_access_key_id])
        .args(["--s3-secret-access-key", &config.lake.s3_secret_access_key])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pyiceberg {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
