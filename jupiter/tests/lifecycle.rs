//! A delivery's lifecycle cannot be reopened: the same session ids sent again a day later (a simulator restarted
//! with the same seed, a device replaying an old trip) reach a Jupiter that remembers nothing (restarted), and
//! every completed session stays completed with its original figures; each refused event is in the dead-letter
//! topic with the reason.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{InProcess, event, produce, test_config};
use packetpulse_model::{DeadLetter, PublishedEvent};
use packetpulse_testkit::{shared_clickhouse, shared_kafka};
use rdkafka::Message;
use uuid::Uuid;

const SESSIONS: u32 = 10;
const STEPS: u32 = common::STEPS;

/// Session `s`, step `step` of a second trip under the same ids, a day later, with new event ids.
fn replayed(session: u32, step: u32) -> PublishedEvent {
    let original = event(session, step);
    PublishedEvent {
        event_id: Uuid::from_u128(original.event_id.as_u128() | 1 << 100),
        event: packetpulse_model::DeliveryEvent {
            timestamp: original.event.timestamp + chrono::Duration::days(1),
            ..original.event
        },
        ..original
    }
}

/// Per completed session: status, last event time, events, completion time and duration.
type Figures = Vec<(String, String, u64, u64, u64, u64)>;

async fn completed_sessions(config: &jupiter::Config) -> Figures {
    config.silver_client()
        .query(
            // One JOIN per SELECT: ClickHouse 18.16 supports no more.
            "SELECT session_id, status, last_event_at_ms, events, completed_at_ms, duration_s FROM \
             (SELECT session_id, status, last_event_at_ms, events FROM \
              (SELECT session_id, maxMerge(last_event_at_ms) AS last_event_at_ms, uniqExactMerge(events) AS events \
               FROM sessions GROUP BY session_id) AS s \
              ANY INNER JOIN (SELECT session_id, status FROM latest_positions FINAL) AS p USING session_id) AS sp \
             ANY INNER JOIN (SELECT session_id, completed_at_ms, toUInt64(duration_s) AS duration_s FROM orders FINAL) AS o \
             USING session_id ORDER BY session_id",
        )
        .fetch_all()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_session_ids_never_reopen_a_completed_delivery() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-lifecycle", 3).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    kafka.create_topic(&config.dead_letter_topic, 1).await.unwrap();

    let first_trips: Vec<PublishedEvent> = (0..SESSIONS)
        .flat_map(|s| (0..STEPS).map(move |t| event(s, t)))
        .collect();
    let jupiter = InProcess::start(&config).await;
    produce(kafka, &topic, &first_trips, None).await;
    jupiter
        .wait_for_inserted(first_trips.len() as u64, Duration::from_secs(60))
        .await;
    jupiter.stop().await.unwrap();
    let before = completed_sessions(&config).await;
    assert_eq!(
        before.len(),
        (SESSIONS / 2) as usize,
        "the even sessions completed"
    );
    assert!(before.iter().all(|figures| figures.1 == "completed"));

    // Restarted: nothing in memory. The same ids come again a day later.
    let jupiter = InProcess::start(&config).await;
    let second_trips: Vec<PublishedEvent> = (0..SESSIONS)
        .flat_map(|s| (0..STEPS).map(move |t| replayed(s, t)))
        .collect();
    produce(kafka, &topic, &second_trips, None).await;
    // Refused: every event of the completed sessions' second trip, and the second start of the others (whose
    // later events extend the trip that never completed).
    let refused = (SESSIONS / 2 * STEPS + SESSIONS / 2) as usize;
    let letters = kafka
        .read_topic(
            &config.dead_letter_topic,
            refused,
            Duration::from_secs(2),
            Duration::from_secs(120),
        )
        .unwrap();
    assert_eq!(letters.len(), refused);
    let letters: Vec<DeadLetter> = letters
        .iter()
        .map(|m| serde_json::from_slice(m.payload().unwrap()).unwrap())
        .collect();
    let reopening = letters
        .iter()
        .filter(|l| {
            l.reason
                .ends_with("an event after its completion would reopen it")
        })
        .count();
    let restarting = letters
        .iter()
        .filter(|l| {
            l.reason
                .contains("a second start would put another trip under the same session id")
        })
        .count();
    let completing = letters
        .iter()
        .filter(|l| l.reason.ends_with("a second completion is refused"))
        .count();
    // A completed session's second start is already after its completion: it counts as reopening.
    assert_eq!(
        (restarting, reopening, completing),
        (5, 5 * (STEPS as usize - 1), 5)
    );
    assert!(
        letters
            .iter()
            .all(|l| l.source == "jupiter" && l.kafka_offset.is_some())
    );

    jupiter
        .wait_for_inserted((SESSIONS / 2 * (STEPS - 1)) as u64, Duration::from_secs(60))
        .await;
    jupiter.stop().await.unwrap();
    assert_eq!(
        completed_sessions(&config).await,
        before,
        "completed sessions keep their figures"
    );
}
