//! Rows ClickHouse refuses for what they contain do not stop silver: the batch is split around them, the rest
//! lands, and each refused row reaches the dead-letter topic with the server's message. Runs on ClickHouse 18.16
//! and, in the second pass, on ClickHouse 26 (where a batch over more than 100 months is such a refusal unless
//! split first).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::{Months, TimeZone, Utc};
use common::{InProcess, event, produce, test_config};
use packetpulse_model::{DeadLetter, DeliveryEvent, PublishedEvent, testing};
use packetpulse_testkit::{shared_clickhouse, shared_kafka};
use rdkafka::Message;
use uuid::Uuid;

async fn count(config: &jupiter::Config, sql: &str) -> u64 {
    let client = config.silver_client();
    client.query(sql).fetch_one::<u64>().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_clickhouse_refuses_are_dead_lettered_with_its_message_and_the_rest_lands() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-refused", 3).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    // Venus creates the dead-letter topic in a real deployment.
    kafka.create_topic(&config.dead_letter_topic, 1).await.unwrap();
    let client = config.clickhouse_client();
    jupiter::migrations::migrate(&client, &config.clickhouse.database)
        .await
        .unwrap();
    // A view that throws for some rows (18.16's throwIf takes no message): ClickHouse refuses any insert carrying
    // one (code 395), as it would a value out of range or a failed constraint.
    let database = &config.clickhouse.database;
    client
        .query(&format!(
            "CREATE MATERIALIZED VIEW {database}.refuse_poison ENGINE = Memory AS \
             SELECT throwIf(session_id = 'session-0007' AND seq IN (5, 25, 45)) AS refused FROM {database}.session_movements"
        ))
        .execute()
        .await
        .unwrap();

    // 20 sessions of 50 events; three events of session 7 are poison.
    let events: Vec<PublishedEvent> = (0..20)
        .flat_map(|s| (0..50).map(move |step| event(s, step)))
        .collect();
    let jupiter = InProcess::start(&config).await;
    produce(kafka, &topic, &events, None).await;
    let letters = kafka
        .read_topic(
            &config.dead_letter_topic,
            3,
            Duration::from_secs(1),
            Duration::from_secs(120),
        )
        .unwrap();
    assert_eq!(letters.len(), 3, "each refused row once");
    let mut refused_steps = Vec::new();
    for message in &letters {
        let letter: DeadLetter = serde_json::from_slice(message.payload().unwrap()).unwrap();
        assert!(
            letter.reason.starts_with("ClickHouse refused the silver row: "),
            "{}",
            letter.reason
        );
        assert!(letter.reason.contains("Code: 395"), "{}", letter.reason);
        assert_eq!(letter.source, "jupiter");
        let row: serde_json::Value = serde_json::from_str(&letter.raw_payload).unwrap();
        assert_eq!(row["session_id"], "session-0007");
        refused_steps.push(row["seq"].as_u64().unwrap());
    }
    refused_steps.sort_unstable();
    assert_eq!(refused_steps, [5, 25, 45]);
    jupiter.wait_for_inserted(1000 - 3, Duration::from_secs(60)).await;
    // (A refused insert may leave its rows in session_movements — ClickHouse writes the table before the views —
    // so the poison rows are not counted here.)
    let landed = count(
        &config,
        "SELECT uniqExact(event_id) FROM session_movements WHERE NOT (session_id = 'session-0007' AND seq IN (5, 25, 45))",
    )
    .await;
    assert_eq!(landed, 1000 - 3);

    // Silver goes on: the next events land, and nothing is reported unhealthy.
    let later: Vec<PublishedEvent> = (20..25)
        .flat_map(|s| (0..10).map(move |step| event(s, step)))
        .collect();
    produce(kafka, &topic, &later, None).await;
    jupiter
        .wait_for_inserted(1000 - 3 + 50, Duration::from_secs(60))
        .await;
    assert_eq!(jupiter.health().await.0, 200);
    assert_eq!(jupiter.metrics.dead_lettered.get(), 3);
    println!(
        "{} insert attempts refused while isolating 3 rows",
        jupiter.metrics.insert_failures.get()
    );
    jupiter.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_events_over_101_months_lands_whole() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-months", 1).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    let first = Utc.with_ymd_and_hms(2016, 1, 15, 12, 0, 0).unwrap();
    let events: Vec<PublishedEvent> = (0..101u32)
        .map(|month| PublishedEvent {
            event_id: Uuid::from_u128(u128::from(month) + 1),
            ..testing::published(DeliveryEvent {
                session_id: "session-clock-drift".into(),
                timestamp: first.checked_add_months(Months::new(month)).unwrap(),
                ..testing::event()
            })
        })
        .collect();
    let jupiter = InProcess::start(&config).await;
    produce(kafka, &topic, &events, None).await;
    jupiter.wait_for_inserted(101, Duration::from_secs(60)).await;
    let rows = count(&config, "SELECT uniqExact(event_id) FROM session_movements").await;
    let months = count(
        &config,
        "SELECT uniqExact(toYYYYMM(event_time)) FROM session_movements",
    )
    .await;
    assert_eq!((rows, months), (101, 101));
    assert_eq!(jupiter.metrics.dead_lettered.get(), 0);
    assert_eq!(jupiter.health().await.0, 200);
    jupiter.stop().await.unwrap();
}
