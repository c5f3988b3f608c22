//! 100k events of 1,000 sessions, with resent duplicates and out-of-order pairs, stream through the real broker
//! into the real ClickHouse: the silver tables hold each event once and the true latest position per session.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{InProcess, assert_silver_is_exact, config, produce, stream_with_faults};
use packetpulse_testkit::{shared_clickhouse, shared_kafka};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_late_events_collapse_to_exactly_the_distinct_events_and_true_latest_positions() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-streaming", 3).await.unwrap();
    let config = config(kafka, clickhouse, &topic);
    let sends = stream_with_faults(5);
    println!(
        "{} messages, {} of them duplicates",
        sends.len(),
        sends.len() - 100_000
    );

    let jupiter = InProcess::start(&config).await;
    produce(kafka, &topic, &sends, None).await;
    jupiter
        .wait_for_inserted(sends.len() as u64, Duration::from_secs(180))
        .await;
    jupiter.stop().await.unwrap();
    assert_silver_is_exact(&config).await;
}
