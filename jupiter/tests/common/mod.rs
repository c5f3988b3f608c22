//! What Jupiter's tests share: a fleet's events with injected duplicates and late pairs, a producer, a
//! configuration against the test servers, Jupiter in-process, and the checks of the silver tables.

#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use jupiter::Config;
use packetpulse_model::{DeliveryEvent, DeliveryStatus, PublishedEvent, testing};
use packetpulse_testkit::{ClickHouse, Kafka, unique_name, wait_until};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Sessions in a test fleet.
pub const SESSIONS: u32 = 1_000;
/// Events per session.
pub const STEPS: u32 = 100;

pub fn event(session: u32, step: u32) -> PublishedEvent {
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap()
        + chrono::Duration::seconds(i64::from(step))
        + chrono::Duration::milliseconds(i64::from(session));
    let status = match step {
        0 => DeliveryStatus::Started,
        s if s == STEPS - 1 && session.is_multiple_of(2) => DeliveryStatus::Completed,
        _ => DeliveryStatus::EnRoute,
    };
    PublishedEvent {
        event_id: Uuid::from_u128(u128::from(session) << 32 | u128::from(step)),
        ..testing::published(DeliveryEvent {
            device_id: format!("device-{session}"),
            vehicle_id: format!("vehicle-{}", session % 100),
            session_id: format!("session-{session:04}"),
            order_id: format!("order-{session:04}"),
            status,
            timestamp: at,
            current_lat: 37.98 + f64::from(step) * 1e-4,
            current_lon: 23.72 + f64::from(session) * 1e-5,
            seq: Some(u64::from(step)),
            heading_deg: Some(10.0),
            route_name: Some("athens-01".into()),
            waypoint_count: Some(100),
            ..testing::event()
        })
    }
}

/// Every event of [`SESSIONS`] × [`STEPS`], per session in order except 10 % of adjacent pairs swapped, and 5 %
/// of events sent again a few steps later. Returns the messages to send.
pub fn stream_with_faults(seed: u64) -> Vec<PublishedEvent> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut sends: Vec<PublishedEvent> = Vec::new();
    for session in 0..SESSIONS {
        let mut steps: Vec<u32> = (0..STEPS).collect();
        for i in (0..steps.len() - 1).step_by(2) {
            if rng.random_bool(0.1) {
                steps.swap(i, i + 1);
            }
        }
        let mut resend = Vec::new();
        for (i, &step) in steps.iter().enumerate() {
            sends.push(event(session, step));
            if rng.random_bool(0.05) {
                resend.push((i + 3, step));
            }
            resend.retain(|&(at, step)| {
                let due = at <= i;
                if due {
                    sends.push(event(session, step));
                }
                !due
            });
        }
        sends.extend(resend.into_iter().map(|(_, step)| event(session, step)));
    }
    sends
}

/// A configuration for `topic` and a fresh database on the given servers.
pub fn test_config(kafka: &Kafka, clickhouse: &ClickHouse, topic: &str) -> Config {
    let mut config = Config::defaults();
    config.kafka_bootstrap_servers = kafka.bootstrap_servers();
    config.topic = topic.to_owned();
    config.group = format!("jupiter-{topic}");
    config.dead_letter_topic = format!("{topic}.dlq");
    config.alerts.alerts_topic = format!("{topic}.alerts");
    config.alerts.geofences_topic = format!("{topic}.geofences");
    config.alerts.rules_topic = format!("{topic}.alert-rules");
    config.clickhouse.url = clickhouse.url();
    config.clickhouse.database = unique_name("silver");
    config.metrics_listen = "127.0.0.1:0".parse().unwrap();
    config
}

/// The `jupiter` binary started in `dir` with `config`'s topics, servers and database, a static `instance_id`
/// (a restarted instance gets its partitions back at once) and `extra` flags.
pub fn start_binary(
    config: &Config,
    instance_id: &str,
    extra: Vec<(&'static str, String)>,
    dir: &std::path::Path,
) -> packetpulse_testkit::ServerProcess {
    let flags = binary_flags(config, instance_id)
        .into_iter()
        .chain(extra)
        .flat_map(|(flag, value)| [flag.to_owned(), value]);
    packetpulse_testkit::ServerProcess::start(
        "jupiter",
        std::path::Path::new(env!("CARGO_BIN_EXE_jupiter")),
        flags,
        dir,
    )
    .unwrap()
}

fn binary_flags(config: &Config, instance_id: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "--kafka-bootstrap-servers",
            config.kafka_bootstrap_servers.clone(),
        ),
        ("--topic", config.topic.clone()),
        ("--group", config.group.clone()),
        ("--dead-letter-topic", config.dead_letter_topic.clone()),
        ("--alerts-topic", config.alerts.alerts_topic.clone()),
        ("--geofences-topic", config.alerts.geofences_topic.clone()),
        ("--rules-topic", config.alerts.rules_topic.clone()),
        ("--clickhouse-url", config.clickhouse.url.clone()),
        ("--clickhouse-database", config.clickhouse.database.clone()),
        ("--metrics-listen", config.metrics_listen.to_string()),
        ("--instance-id", instance_id.to_owned()),
    ]
}

/// Produces `events` to `topic`, key = session id, at up to `per_second` (unlimited when `None`).
pub async fn produce(kafka: &Kafka, topic: &str, events: &[PublishedEvent], per_second: Option<u64>) {
    let producer: FutureProducer = kafka.client_config().set("linger.ms", "5").create().unwrap();
    let started = tokio::time::Instant::now();
    let mut pending = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if let Some(rate) = per_second
            && i.is_multiple_of(100)
        {
            tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / rate as f64)).await;
        }
        let payload = event.to_json();
        let record = FutureRecord::to(topic)
            .key(&event.event.session_id)
            .payload(&payload);
        pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in pending {
        delivery.await.unwrap().unwrap();
    }
}

/// Jupiter running in this process.
pub struct InProcess {
    stop: CancellationToken,
    task: JoinHandle<Result<(), jupiter::Error>>,
    /// Its metrics.
    pub metrics: jupiter::Metrics,
    /// Where `/health` and `/metrics` answer.
    pub operations: std::net::SocketAddr,
}

impl InProcess {
    /// Starts it.
    pub async fn start(config: &Config) -> Self {
        let listener = TcpListener::bind(config.metrics_listen).await.unwrap();
        let operations = listener.local_addr().unwrap();
        let metrics = jupiter::Metrics::new();
        let stop = CancellationToken::new();
        let task = {
            let (config, metrics, stop) = (config.clone(), metrics.clone(), stop.clone());
            tokio::spawn(async move {
                jupiter::run_with(&config, &metrics, listener, stop.cancelled_owned()).await
            })
        };
        Self {
            stop,
            task,
            metrics,
            operations,
        }
    }

    /// `/health`'s status code and body.
    pub async fn health(&self) -> (u16, serde_json::Value) {
        let response = reqwest::get(format!("http://{}/health", self.operations))
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_str(&response.text().await.unwrap()).unwrap(),
        )
    }

    /// Waits until `/health` answers `status`, returning the body.
    pub async fn wait_for_health(&self, status: u16, timeout: Duration) -> serde_json::Value {
        wait_until(&format!("/health answering {status}"), timeout, || async move {
            let (seen, body) = self.health().await;
            Ok::<_, String>((seen == status).then_some(body))
        })
        .await
        .unwrap()
    }

    /// Waits until it has inserted at least `rows` rows (duplicates included).
    pub async fn wait_for_inserted(&self, rows: u64, timeout: Duration) {
        wait_until(&format!("{rows} rows inserted"), timeout, || async move {
            if self.metrics.rows_inserted.get() >= rows {
                Ok(Some(()))
            } else {
                Err(self.progress())
            }
        })
        .await
        .unwrap();
    }

    /// Waits until `messages` events were handled: inserted, or recognised as copies of rows already inserted.
    pub async fn wait_for_handled(&self, messages: u64, timeout: Duration) {
        wait_until(&format!("{messages} messages handled"), timeout, || async move {
            let copies = u64::try_from(self.metrics.copies_dropped.get()).unwrap_or(0);
            if self.metrics.rows_inserted.get() + copies >= messages {
                Ok(Some(()))
            } else {
                Err(self.progress())
            }
        })
        .await
        .unwrap();
    }

    /// Where it stands, for a wait that times out: whether it still runs, what it holds and what it has done.
    fn progress(&self) -> String {
        let lag: f64 = prometheus::core::Collector::collect(&self.metrics.consumer_lag)
            .iter()
            .flat_map(|family| family.get_metric())
            .map(|partition| partition.get_gauge().get_value())
            .sum();
        // Whole messages (a sum of none is -0.0).
        let lag = lag as i64;
        format!(
            "Jupiter {}: {} partitions assigned, lag {lag}, {} rows inserted, {} copies dropped",
            if self.task.is_finished() {
                "has stopped (stop() returns its error)"
            } else {
                "runs"
            },
            self.metrics.partitions_assigned.get(),
            self.metrics.rows_inserted.get(),
            self.metrics.copies_dropped.get(),
        )
    }

    /// Stops it and waits.
    pub async fn stop(self) -> Result<(), jupiter::Error> {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

/// Sessions whose rows do not all carry the session's first event time as its start.
pub async fn sessions_with_a_wrong_start(client: &clickhouse::Client) -> u64 {
    one(
        client,
        "SELECT count() FROM (SELECT min(event_time_ms) AS first, min(session_started_at_ms) AS low, \
         max(session_started_at_ms) AS high FROM session_movements FINAL GROUP BY session_id) \
         WHERE low != first OR high != first",
    )
    .await
}

async fn one(client: &clickhouse::Client, sql: &str) -> u64 {
    client.query(sql).fetch_one::<u64>().await.unwrap()
}

/// Waits until every silver table has caught up with the fleet, then checks that each agrees exactly: each event
/// once, the last step as latest position, every session, the completed orders. (An insert makes its rows visible
/// in `session_movements` before the materialised views get them, so waiting for one table is not enough.)
pub async fn assert_silver_is_exact(config: &Config) {
    wait_for_silver(config).await.unwrap();
    assert_silver_counts(config).await;
}

/// Waits until every silver table holds at least the events [`stream_with_faults`] sent; the error (after two
/// minutes) names what each table holds, for the caller to add what it knows of why.
pub async fn wait_for_silver(config: &Config) -> Result<(), packetpulse_testkit::Error> {
    let client = config.silver_client();
    let events = u64::from(SESSIONS * STEPS);
    let expected = (
        events,
        u64::from(SESSIONS),
        u64::from(SESSIONS),
        u64::from(SESSIONS / 2),
        events,
    );
    wait_until("every silver table caught up", Duration::from_secs(120), || {
        let client = client.clone();
        async move {
            let seen: (u64, u64, u64, u64, u64) = client
                .query(
                    // ifNull: a scalar subquery is Nullable on ClickHouse 21+, and the row is read by position.
                    "SELECT ifNull((SELECT uniqExact(event_id) FROM session_movements), 0), \
                     ifNull((SELECT count() FROM (SELECT session_id FROM latest_positions GROUP BY session_id)), 0), \
                     ifNull((SELECT count() FROM (SELECT session_id FROM sessions GROUP BY session_id)), 0), \
                     ifNull((SELECT count() FROM (SELECT order_id FROM orders GROUP BY order_id)), 0), \
                     ifNull((SELECT sum(n) FROM (SELECT uniqExactMerge(total_events) AS n FROM vehicles \
                         GROUP BY vehicle_id)), 0)",
                )
                .fetch_one()
                .await
                .map_err(|e| e.to_string())?;
            let caught_up = seen.0 >= expected.0
                && seen.1 >= expected.1
                && seen.2 >= expected.2
                && seen.3 >= expected.3
                && seen.4 >= expected.4;
            if caught_up {
                Ok(Some(()))
            } else {
                Err(format!(
                    "(distinct events, latest positions, sessions, orders, vehicle events) = {seen:?}, expected {expected:?}"
                ))
            }
        }
    })
    .await
}

/// Asserts that the caught-up silver tables hold each event once: nothing lost, nothing counted twice.
pub async fn assert_silver_counts(config: &Config) {
    let client = config.silver_client();
    let events = u64::from(SESSIONS * STEPS);
    assert_eq!(
        one(&client, "SELECT count() FROM session_movements FINAL").await,
        events
    );
    assert_eq!(
        one(&client, "SELECT uniqExact(event_id) FROM session_movements").await,
        events
    );
    assert_eq!(
        one(&client, "SELECT count() FROM latest_positions FINAL").await,
        u64::from(SESSIONS)
    );
    // The latest position is the last step's, whatever order the events arrived in.
    let wrong_latest: Vec<(String, u64)> = client
        .query("SELECT session_id, assumeNotNull(seq) FROM latest_positions FINAL WHERE seq != ?")
        .bind(STEPS - 1)
        .fetch_all()
        .await
        .unwrap();
    assert!(
        wrong_latest.is_empty(),
        "sessions with a stale latest position: {wrong_latest:?}"
    );
    assert_eq!(
        one(
            &client,
            "SELECT count() FROM (SELECT session_id FROM sessions GROUP BY session_id)"
        )
        .await,
        u64::from(SESSIONS)
    );
    assert_eq!(
        one(&client, "SELECT count() FROM orders FINAL").await,
        u64::from(SESSIONS / 2)
    );
    assert_eq!(
        one(
            &client,
            "SELECT sum(n) FROM (SELECT uniqExactMerge(events) AS n FROM sessions GROUP BY session_id)"
        )
        .await,
        events
    );
    assert_eq!(
        one(
            &client,
            "SELECT sum(n) FROM (SELECT uniqExactMerge(total_events) AS n FROM vehicles GROUP BY vehicle_id)"
        )
        .await,
        events
    );
}
