//! 100k events of 1,000 sessions, with resent duplicates and out-of-order pairs, stream through the real broker
//! into the real ClickHouse: the silver tables hold each event once and the true latest position per session.
//! And a restarted Jupiter picks running sessions up where they were.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{InProcess, STEPS, assert_silver_is_exact, event, produce, stream_with_faults, test_config};
use packetpulse_testkit::{shared_clickhouse, shared_kafka};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_late_events_collapse_to_exactly_the_distinct_events_and_true_latest_positions() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-streaming", 3).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    let sends = stream_with_faults(5);
    println!(
        "{} messages, {} of them duplicates",
        sends.len(),
        sends.len() - 100_000
    );

    let jupiter = InProcess::start(&config).await;
    produce(kafka, &topic, &sends, None).await;
    jupiter
        .wait_for_handled(sends.len() as u64, Duration::from_secs(180))
        .await;
    let by_table = |table: &str| {
        jupiter
            .metrics
            .rows_inserted_by_table
            .with_label_values(&[table])
            .get()
    };
    // Every resend is recognised as a copy of the row its first copy made, and not inserted again.
    let copies = u64::try_from(jupiter.metrics.copies_dropped.get()).unwrap();
    assert_eq!(copies, sends.len() as u64 - 100_000);
    assert_eq!(by_table("session_movements"), 100_000);
    assert_eq!(by_table("latest_positions"), 100_000);
    assert!(by_table("orders") >= 500, "{}", by_table("orders"));
    assert!(by_table("sessions") >= 1_000 && by_table("vehicles") >= 100);
    jupiter.stop().await.unwrap();
    assert_silver_is_exact(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_jupiter_continues_running_sessions_from_their_stored_points() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-resume", 3).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    let halves: [Vec<_>; 2] = [0..50, 50..STEPS].map(|steps| {
        steps
            .flat_map(|step| (0..50).map(move |session| event(session, step)))
            .collect()
    });
    for half in &halves {
        // A fresh process each time: nothing of the sessions is in memory at the second start.
        let jupiter = InProcess::start(&config).await;
        produce(kafka, &topic, half, None).await;
        jupiter
            .wait_for_handled(half.len() as u64, Duration::from_secs(60))
            .await;
        jupiter.stop().await.unwrap();
    }
    let client = config.silver_client();
    let restarted_from_nothing: u64 = client
        .query("SELECT count() FROM session_movements FINAL WHERE seq > 0 AND distance_from_previous_m = 0")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(
        restarted_from_nothing, 0,
        "events after the restart measured from no previous point"
    );
    assert_eq!(
        common::sessions_with_a_wrong_start(&client).await,
        0,
        "sessions whose start moved at the restart"
    );
}
