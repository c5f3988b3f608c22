//! 100k events of 1,000 sessions, with resent duplicates and out-of-order pairs, stream through the real broker
//! into the real ClickHouse: the silver tables hold each event once and the true latest position per session.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use jupiter::Config;
use packetpulse_model::{DeliveryEvent, DeliveryStatus, PublishedEvent};
use packetpulse_testkit::{shared_clickhouse, shared_kafka, unique_name, wait_until};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const SESSIONS: u32 = 1_000;
const STEPS: u32 = 100;

fn event(session: u32, step: u32) -> PublishedEvent {
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
        event: DeliveryEvent {
            device_id: format!("device-{session}"),
            vehicle_id: format!("vehicle-{}", session % 100),
            session_id: format!("session-{session:04}"),
            order_id: format!("order-{session:04}"),
            status,
            timestamp: at,
            start_lat: 37.98,
            start_lon: 23.72,
            end_lat: 38.0,
            end_lon: 23.8,
            current_lat: 37.98 + f64::from(step) * 1e-4,
            current_lon: 23.72 + f64::from(session) * 1e-5,
            seq: Some(u64::from(step)),
            speed_kmh: None,
            heading_deg: Some(10.0),
            route_name: Some("athens-01".into()),
            waypoint_count: Some(100),
        },
        received_at: at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_late_events_collapse_to_exactly_the_distinct_events_and_true_latest_positions() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-streaming", 3).await.unwrap();
    let mut config = Config::defaults();
    config.kafka_bootstrap_servers = kafka.bootstrap_servers();
    config.topic = topic.clone();
    config.group = format!("jupiter-{topic}");
    config.dead_letter_topic = format!("{topic}.dlq");
    config.clickhouse_url = clickhouse.url();
    config.clickhouse_database = unique_name("silver");

    // Per session: steps in order, but 10 % of adjacent pairs swapped and 5 % of events sent again a few steps later.
    let mut rng = SmallRng::seed_from_u64(5);
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
    let duplicates = sends.len() - (SESSIONS * STEPS) as usize;
    println!("{} messages, {duplicates} of them duplicates", sends.len());

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = jupiter::Metrics::new();
    let stop = CancellationToken::new();
    let jupiter = {
        let (config, metrics, stop) = (config.clone(), metrics.clone(), stop.clone());
        tokio::spawn(
            async move { jupiter::run_with(&config, &metrics, listener, stop.cancelled_owned()).await },
        )
    };

    let producer: FutureProducer = kafka.client_config().set("linger.ms", "5").create().unwrap();
    let mut pending = Vec::new();
    for event in &sends {
        let payload = event.to_json();
        let record = FutureRecord::to(&topic)
            .key(&event.event.session_id)
            .payload(&payload);
        pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in pending {
        delivery.await.unwrap().unwrap();
    }

    let total = sends.len() as u64;
    let inserted = metrics.rows_inserted.clone();
    wait_until("every message inserted", Duration::from_secs(180), || {
        let rows = inserted.get();
        async move { Ok::<_, String>((rows >= total).then_some(())) }
    })
    .await
    .unwrap();
    stop.cancel();
    jupiter.await.unwrap().unwrap();

    let client = config
        .clickhouse_client()
        .with_database(&config.clickhouse_database);
    let one = |sql: &'static str| {
        let client = client.clone();
        async move { client.query(sql).fetch_one::<u64>().await.unwrap() }
    };
    let events = u64::from(SESSIONS * STEPS);
    assert_eq!(one("SELECT count() FROM session_movements FINAL").await, events);
    assert_eq!(
        one("SELECT uniqExact(event_id) FROM session_movements").await,
        events
    );
    assert_eq!(
        one("SELECT count() FROM latest_positions FINAL").await,
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
        one("SELECT count() FROM (SELECT session_id FROM sessions GROUP BY session_id)").await,
        u64::from(SESSIONS)
    );
    assert_eq!(
        one("SELECT count() FROM orders FINAL").await,
        u64::from(SESSIONS / 2)
    );
    assert_eq!(
        one("SELECT sum(events) FROM (SELECT uniqExactMerge(events) AS events FROM sessions GROUP BY session_id)").await,
        events
    );
    assert_eq!(
        one(
            "SELECT sum(n) FROM (SELECT uniqExactMerge(total_events) AS n FROM vehicles GROUP BY vehicle_id)"
        )
        .await,
        events
    );
}
