//! ClickHouse stopped for 30 s while events stream in, then started again, then hung (SIGSTOP) for 10 s: Jupiter
//! retries, reading pauses, `/health` says why while it lasts, and the silver tables end exact — nothing lost,
//! nothing twice in query results.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{InProcess, assert_silver_is_exact, produce, stream_with_faults, test_config};
use packetpulse_testkit::{ClickHouse, modern_clickhouse_selected, shared_kafka, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_outage_mid_stream_loses_and_duplicates_nothing() {
    if modern_clickhouse_selected() {
        // It stops, starts and freezes a server of its own, always Debian's 18.16: the run on the ClickHouse 26
        // engine would only repeat it.
        eprintln!("not repeated on ClickHouse 26: this test runs its own 18.16 server");
        return;
    }
    let kafka = shared_kafka().unwrap();
    let clickhouse = ClickHouse::start().unwrap();
    let topic = kafka.create_unique_topic("jupiter-outage", 3).await.unwrap();
    let mut config = test_config(kafka, &clickhouse, &topic);
    // A hung server is given up on after 2 s and the insert tried again.
    config.clickhouse.timeout = Duration::from_secs(2);
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
    assert_eq!(jupiter.health().await.0, 200);
    clickhouse.stop();
    let outage = tokio::time::Instant::now();
    let body = jupiter.wait_for_health(503, Duration::from_secs(30)).await;
    // Whichever call meets the outage first (a batch's lifecycle lookup or its insert) says so.
    let problem = body["problem"].as_str().unwrap();
    assert!(
        problem.contains("from ClickHouse has failed 3 times in a row")
            || problem.contains("into ClickHouse has failed 3 times in a row"),
        "{problem}"
    );
    // The fault schedule, not synchronisation: the outage lasts 30 s.
    tokio::time::sleep_until(outage + Duration::from_secs(30)).await;
    let during = jupiter.metrics.rows_inserted.get();
    clickhouse.restart().unwrap();
    jupiter.wait_for_health(200, Duration::from_secs(60)).await;

    // Hung: connections are accepted and never answered. Each insert gives up after CLICKHOUSE_TIMEOUT.
    let before_hang = jupiter.metrics.rows_inserted.get();
    clickhouse.freeze();
    let body = jupiter.wait_for_health(503, Duration::from_secs(60)).await;
    let problem = body["problem"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(4)).await; // the fault schedule: hung for ~10 s in all
    clickhouse.thaw();
    assert!(
        problem.contains("no answer within 2s (CLICKHOUSE_TIMEOUT)"),
        "{problem}"
    );
    jupiter.wait_for_health(200, Duration::from_secs(60)).await;
    println!("{before_hang} rows inserted when ClickHouse hung");
    producer.await.unwrap();
    jupiter
        .wait_for_handled(sends.len() as u64, Duration::from_secs(180))
        .await;
    let failures = jupiter.metrics.insert_failures.get();
    jupiter.stop().await.unwrap();
    // Both faults were noticed (the 503s above); which call met them — a lookup (lifecycle, alert state) or an
    // insert — depends on timing, so the insert failures are reported, not required.
    println!("{during} rows inserted when the outage ended; {failures} failed insert attempts");
    assert_silver_is_exact(&config).await;
}
