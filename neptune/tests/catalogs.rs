//! The SQL catalog on PostgreSQL (as in compose, where Trino's JDBC catalog shares it) holds the same table and
//! offsets as the SQLite one.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{InProcess, produce, table_event_ids, test_config, wait_for_rows};
use packetpulse_testkit::{Postgres, shared_kafka};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sql_catalog_on_postgresql_keeps_the_table_and_its_offsets_across_restarts() {
    let kafka = shared_kafka().unwrap();
    let postgres = Postgres::start().unwrap();
    let topic = kafka.create_unique_topic("neptune-postgres", 2).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(kafka, &topic, dir.path());
    config.lake.catalog_uri = postgres.url();
    config.commit_interval = Duration::from_millis(500);

    let sink = InProcess::start(&config).await;
    let mut produced = produce(kafka, &topic, 0, 5_000, None).await;
    wait_for_rows(&config, 5_000, Duration::from_secs(60)).await;
    sink.stop().await.unwrap();

    let sink = InProcess::start(&config).await;
    produced.extend(produce(kafka, &topic, 5_000, 5_000, None).await);
    wait_for_rows(&config, 10_000, Duration::from_secs(60)).await;
    sink.stop().await.unwrap();

    produced.sort();
    let ids = table_event_ids(&config).await;
    assert_eq!(ids.len(), produced.len());
    assert!(
        ids == produced,
        "the table's event ids differ from the produced ones"
    );
}
