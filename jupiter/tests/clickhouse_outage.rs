//! ClickHouse stopped for 30 s while events stream in, then started again: Jupiter retries, reading pauses, and
//! the silver tables end exact — nothing lost, nothing twice in query results.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{InProcess, assert_silver_is_exact, produce, stream_with_faults, test_config};
use packetpulse_testkit::{ClickHouse, shared_kafka, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_outage_mid_stream_loses_and_duplicates_nothing() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = ClickHouse::start().unwrap();
    let topic = kafka.create_unique_topic("jupiter-outage", 3).await.unwrap();
    let config = test_config(kafka, &clickhouse, &topic);
    let sends = stream_with_faults(7);
    let jupiter = InProcess::start(&config).await;
    let producer = {
        let (topic, sends) = (topic.clone(), sends.clone());
        tokio::spawn(async move { produce(kafka, &topic, &sends, Some(5_000)).await })
    };

    let inserted = jupiter.metrics.rows_inserted.clone();
    wait_until(
        "20k rows inserted before the outage",
        Duration::from_secs(60),
        || {
            let rows = inserted.get();
            async move { Ok::<_, String>((rows >= 20_000).then_some(())) }
        },
    )
    .await
    .unwrap();
    clickhouse.stop();
    // The fault schedule, not synchronisation: the outage lasts 30 s.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let during = jupiter.metrics.rows_inserted.get();
    clickhouse.restart().unwrap();
    producer.await.unwrap();
    jupiter
        .wait_for_inserted(sends.len() as u64, Duration::from_secs(180))
        .await;
    let failures = jupiter.metrics.insert_failures.get();
    jupiter.stop().await.unwrap();
    println!("{during} rows inserted when the outage ended; {failures} failed insert attempts");
    assert!(failures > 0, "the outage was not noticed");
    assert_silver_is_exact(&config).await;
}
