//! `jupiter backfill --from-bronze` gives the same silver contents as streaming did. The fleet (with resent
//! duplicates and out-of-order pairs) streams through the real broker into Neptune (bronze: Iceberg, SQLite
//! catalog, local warehouse, a commit every second so bronze has many commits) and into
//! Jupiter (silver database A) at the same time. Then the `jupiter` binary rebuilds database B from bronze, and
//! every silver table of A and B is compared row by row (every column but the ingestion time), the alerts of a
//! geofence the fleet crosses included.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{InProcess, SESSIONS, STEPS, produce, stream_with_faults, test_config};
use jupiter::Config;
use packetpulse_model::{GeoPoint, Geofence, GeofenceShape};
use packetpulse_testkit::{shared_clickhouse, shared_kafka, unique_name, wait_until};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Each table's rows as (key, hash of every compared column), sorted by key.
const FINGERPRINTS: [(&str, &str); 6] = [
    (
        "session_movements",
        "SELECT event_id, cityHash64(session_id, vehicle_id, order_id, device_id, status, event_time_ms, lat, lon, \
         start_lat, start_lon, end_lat, end_lon, speed_kmh, speed_derived, ifNull(heading_deg, -1.0), \
         distance_from_previous_m, suspect_teleport, session_started_at_ms, route_name, waypoint_count, \
         ifNull(seq, 0), received_at_ms) FROM session_movements FINAL ORDER BY event_id",
    ),
    (
        "latest_positions",
        "SELECT session_id, cityHash64(vehicle_id, status, event_time_ms, ifNull(seq, 0), lat, lon, speed_kmh, \
         session_started_at_ms) FROM latest_positions FINAL ORDER BY session_id",
    ),
    (
        "sessions",
        "SELECT session_id, cityHash64(anyMerge(vehicle_id), minMerge(started_at_ms), maxMerge(last_event_at_ms), \
         anyMerge(route_name), uniqExactMerge(events)) FROM sessions GROUP BY session_id ORDER BY session_id",
    ),
    (
        "orders",
        "SELECT order_id, cityHash64(session_id, completed_at_ms, session_started_at_ms, duration_s) \
         FROM orders FINAL ORDER BY order_id",
    ),
    (
        "vehicles",
        "SELECT vehicle_id, cityHash64(minMerge(first_seen_ms), maxMerge(last_seen_ms), \
         uniqExactMerge(total_events)) FROM vehicles GROUP BY vehicle_id ORDER BY vehicle_id",
    ),
    (
        "alerts",
        "SELECT alert_id, cityHash64(kind, session_id, vehicle_id, geofence_id, trigger_event_id, at_ms, lat, lon, \
         message) FROM alerts FINAL ORDER BY alert_id",
    ),
];

/// A 200 m circle the northbound fleet crosses (sessions 0 to about 220, steps about 32 to 68): enter and
/// exit alerts for the backfill to reproduce.
fn crossing() -> Geofence {
    Geofence {
        id: "crossing".into(),
        name: "Crossing".into(),
        shape: GeofenceShape::Circle {
            center: GeoPoint::new(37.985, 23.72),
            radius_m: 200.0,
        },
        vehicles: None,
    }
}

fn neptune_config(jupiter: &Config, dir: &std::path::Path) -> neptune::Config {
    let mut config = neptune::Config::defaults();
    config.kafka_bootstrap_servers = jupiter.kafka_bootstrap_servers.clone();
    config.topic = jupiter.topic.clone();
    config.group = format!("neptune-{}", jupiter.topic);
    config.dead_letter_topic = jupiter.dead_letter_topic.clone();
    config.lake.catalog_uri = format!("sqlite://{}", dir.join("catalog.db").display());
    config.lake.warehouse = format!("file://{}", dir.join("warehouse").display());
    config.commit_interval = Duration::from_secs(1);
    config.metrics_listen = "127.0.0.1:0".parse().unwrap();
    config
}

fn backfill(config: &Config, lake: &neptune::Config, database: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jupiter"))
        .args(["backfill", "--from-bronze"])
        .args(["--catalog-uri", &lake.lake.catalog_uri])
        .args(["--warehouse", &lake.lake.warehouse])
        .args(["--clickhouse-url", &config.clickhouse.url])
        .args(["--clickhouse-database", database])
        .args(["--kafka-bootstrap-servers", &config.kafka_bootstrap_servers])
        .args(["--geofences-topic", &config.alerts.geofences_topic])
        .args(["--alerts-topic", &config.alerts.alerts_topic])
        .output()
        .unwrap()
}

async fn fingerprints(config: &Config, database: &str, sql: &str) -> Vec<(String, u64)> {
    config
        .clickhouse_client()
        .with_database(database)
        .query(sql)
        .fetch_all()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_from_bronze_rebuilds_the_same_silver_tables_as_streaming() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-backfill", 3).await.unwrap();
    let streamed = test_config(kafka, clickhouse, &topic);
    let lake_dir = tempfile::tempdir().unwrap();
    let lake = neptune_config(&streamed, lake_dir.path());
    let sends = stream_with_faults(11);
    kafka
        .create_topic(&streamed.alerts.geofences_topic, 1)
        .await
        .unwrap();
    let producer: rdkafka::producer::FutureProducer = kafka.client_config().create().unwrap();
    let fence = serde_json::to_vec(&crossing()).unwrap();
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&streamed.alerts.geofences_topic)
                .key("crossing")
                .payload(&fence),
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    let neptune_metrics = neptune::Metrics::new();
    let neptune_stop = CancellationToken::new();
    let neptune_task = {
        let (lake, metrics, stop) = (lake.clone(), neptune_metrics.clone(), neptune_stop.clone());
        let listener = TcpListener::bind(lake.metrics_listen).await.unwrap();
        tokio::spawn(
            async move { neptune::run_with(&lake, &metrics, listener, stop.cancelled_owned()).await },
        )
    };
    let jupiter = InProcess::start(&streamed).await;
    produce(kafka, &topic, &sends, None).await;
    jupiter
        .wait_for_handled(sends.len() as u64, Duration::from_secs(180))
        .await;
    jupiter.stop().await.unwrap();
    let (committed, copies) = (
        neptune_metrics.rows_committed.clone(),
        neptune_metrics.duplicates_dropped.clone(),
    );
    let expected = sends.len() as u64;
    // Bronze keeps each event once: the stream's resent copies are dropped by Neptune's dedup window.
    wait_until("bronze holds every message", Duration::from_secs(120), || {
        let (rows, copies) = (committed.get(), copies.get());
        async move {
            if rows + copies >= expected {
                Ok(Some(()))
            } else {
                Err(format!(
                    "{rows} rows committed and {copies} copies dropped of {expected} messages"
                ))
            }
        }
    })
    .await
    .unwrap();
    neptune_stop.cancel();
    neptune_task.await.unwrap().unwrap();
    println!(
        "bronze: {} rows in {} commits",
        neptune_metrics.rows_committed.get(),
        neptune_metrics.commits.get()
    );

    let rebuilt = unique_name("rebuilt");
    let output = backfill(&streamed, &lake, &rebuilt);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "backfill failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{stdout}");
    let bronze_rows = neptune_metrics.rows_committed.get();
    assert!(
        stdout.contains(&format!("backfill complete: {bronze_rows} rows")),
        "{stdout}"
    );

    for (table, sql) in FINGERPRINTS {
        let streaming = fingerprints(&streamed, &streamed.clickhouse.database, sql).await;
        let backfilled = fingerprints(&streamed, &rebuilt, sql).await;
        assert!(!streaming.is_empty(), "{table} is empty");
        let differing: Vec<_> = streaming
            .iter()
            .zip(&backfilled)
            .filter(|(a, b)| a != b)
            .take(5)
            .collect();
        assert!(
            streaming.len() == backfilled.len() && differing.is_empty(),
            "{table}: {} streamed rows, {} backfilled; first differences: {differing:?}",
            streaming.len(),
            backfilled.len()
        );
        println!("{table}: {} rows identical", streaming.len());
    }
    let movements = fingerprints(&streamed, &rebuilt, FINGERPRINTS[0].1).await;
    assert_eq!(movements.len() as u64, u64::from(SESSIONS * STEPS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_of_a_missing_table_says_so_and_fails() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let config = test_config(kafka, clickhouse, "unused");
    let lake_dir = tempfile::tempdir().unwrap();
    let lake = neptune_config(&config, lake_dir.path());
    let output = backfill(&config, &lake, &unique_name("rebuilt"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("bronze.delivery_events does not exist"),
        "{stderr}"
    );
}
