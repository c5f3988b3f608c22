//! Sessions an instance lets go of and meets again are read back from silver. Two Jupiter instances in one
//! consumer group: the second joins mid-stream (the group splits the partitions), then leaves (the first gets
//! them back, with sessions the second moved on). And one instance that forgets a session idle for too long,
//! which then speaks again. Every row must come out as one instance holding everything computes it: each step
//! measured from the step before it, each session's start its first event. Without forgetting the sessions of
//! revoked partitions, the first instance measures the returning sessions from the point it last saw, dozens of
//! steps back; without reading back, a returning session starts afresh.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{InProcess, SESSIONS, STEPS, assert_silver_is_exact, event, produce, test_config};
use packetpulse_model::PublishedEvent;
use packetpulse_model::geo::haversine_m;
use packetpulse_testkit::{shared_clickhouse, shared_kafka, wait_until};

const PARTITIONS: i32 = 6;

fn steps(range: std::ops::Range<u32>) -> Vec<PublishedEvent> {
    range
        .flat_map(|step| (0..SESSIONS).map(move |session| event(session, step)))
        .collect()
}

/// Waits until the group has settled on `expected` partitions per instance (0 = any, but some).
async fn wait_for_assignment(instances: &[(&InProcess, Option<i64>)]) {
    wait_until("the group's assignment", Duration::from_secs(90), || async move {
        let assigned: Vec<i64> = instances
            .iter()
            .map(|(instance, _)| instance.metrics.partitions_assigned.get())
            .collect();
        let settled = assigned.iter().sum::<i64>() == i64::from(PARTITIONS)
            && instances
                .iter()
                .zip(&assigned)
                .all(|((_, expected), seen)| expected.map_or(*seen > 0, |expected| *seen == expected));
        Ok::<_, String>(settled.then_some(()))
    })
    .await
    .unwrap();
}

/// Waits until silver holds `events` distinct event ids.
async fn wait_for_distinct(client: &clickhouse::Client, events: u64) {
    wait_until(
        &format!("{events} events in silver"),
        Duration::from_secs(120),
        || {
            let client = client.clone();
            async move {
                let seen: u64 = client
                    .query("SELECT uniqExact(event_id) FROM session_movements")
                    .fetch_one()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>((seen >= events).then_some(()))
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_moved_between_two_instances_and_back_keep_every_distance_and_start() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka
        .create_unique_topic("jupiter-rebalance", PARTITIONS)
        .await
        .unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    let client = config.silver_client();

    let first = InProcess::start(&config).await;
    wait_for_assignment(&[(&first, Some(i64::from(PARTITIONS)))]).await;
    produce(kafka, &topic, &steps(0..30), None).await;
    wait_for_distinct(&client, u64::from(SESSIONS * 30)).await;

    // The second joins: the group splits the partitions, and it goes on with sessions the first holds.
    let second = InProcess::start(&config).await;
    wait_for_assignment(&[(&first, None), (&second, None)]).await;
    produce(kafka, &topic, &steps(30..60), None).await;
    wait_for_distinct(&client, u64::from(SESSIONS * 60)).await;
    let by_second = second.metrics.rows_inserted.get();
    assert!(by_second > 0, "the second instance took part");

    // It leaves: the first gets every partition back, with sessions that moved on meanwhile.
    second.stop().await.unwrap();
    wait_for_assignment(&[(&first, Some(i64::from(PARTITIONS)))]).await;
    produce(kafka, &topic, &steps(60..STEPS), None).await;
    assert_silver_is_exact(&config).await;
    println!(
        "rows inserted: first {}, second {by_second}; sessions held by the first at the end: {}",
        first.metrics.rows_inserted.get(),
        first.metrics.sessions_held.get()
    );
    first.stop().await.unwrap();

    assert_every_step_measured_from_the_one_before(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_forgotten_for_idling_is_read_back_from_silver_when_it_speaks_again() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-idle", 1).await.unwrap();
    let mut config = test_config(kafka, clickhouse, &topic);
    config.session_idle_timeout = Duration::from_secs(30);
    let client = config.silver_client();
    let jupiter = InProcess::start(&config).await;

    // Sessions 0 and 1 drive 50 steps (one a second); session 1 drives 50 more while session 0 is silent, so
    // the partition's clock passes session 0's last event by more than the idle timeout.
    let mut events: Vec<PublishedEvent> = (0..50)
        .flat_map(|step| [event(0, step), event(1, step)])
        .collect();
    events.extend((50..STEPS).map(|step| event(1, step)));
    produce(kafka, &topic, &events, None).await;
    wait_for_distinct(&client, events.len() as u64).await;
    assert!(
        jupiter.metrics.sessions_evicted_idle.get() >= 1,
        "session 0 was not forgotten"
    );

    // Session 0 goes on: its next step is measured from step 49 in silver, its start is still step 0.
    let rest: Vec<PublishedEvent> = (50..STEPS).map(|step| event(0, step)).collect();
    produce(kafka, &topic, &rest, None).await;
    wait_for_distinct(&client, u64::from(2 * STEPS)).await;
    jupiter.stop().await.unwrap();
    assert_every_step_measured_from_the_one_before(&client).await;
}

/// Each step moves 1e-4° of latitude in one second; the first step of a session has no previous point. Every
/// session starts at its first event.
async fn assert_every_step_measured_from_the_one_before(client: &clickhouse::Client) {
    let step_m = haversine_m(event(0, 0).event.current(), event(0, 1).event.current());
    let wrong: Vec<(String, u64, f64)> = client
        .query(
            "SELECT session_id, assumeNotNull(seq), distance_from_previous_m FROM session_movements FINAL \
             WHERE abs(distance_from_previous_m - if(seq = 0, 0, ?)) > 0.01 ORDER BY session_id, seq LIMIT 10",
        )
        .bind(step_m)
        .fetch_all()
        .await
        .unwrap();
    assert!(
        wrong.is_empty(),
        "rows measured from the wrong point (session, step, metres): {wrong:?}"
    );
    assert_eq!(
        common::sessions_with_a_wrong_start(client).await,
        0,
        "sessions whose start moved"
    );
}
