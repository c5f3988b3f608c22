//! Events from Kafka land in the bronze table exactly once, in a local-dir and an S3 warehouse, as read back by
//! iceberg-rust and by pyiceberg; what is not an event goes to the dead-letter topic.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{
    InProcess, SPREAD_OVER_DAYS, fingerprint, produce, produce_events, produce_raw, pyiceberg,
    pyiceberg_report, table_event_ids, table_stats, test_config, test_config_on_s3, wait_for_offsets,
    wait_for_rows,
};
use packetpulse_model::{DeadLetter, PublishedEvent};
use packetpulse_testkit::{shared_kafka, shared_s3};
use serde_json::json;

const EVENTS: u64 = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_thousand_events_land_exactly_once_in_a_local_and_an_s3_table() {
    let kafka = shared_kafka().unwrap();
    let s3 = shared_s3().unwrap();
    let topic = kafka
        .create_unique_topic("neptune-exactly-once", 3)
        .await
        .unwrap();
    let bucket = s3.create_unique_bucket("bronze").unwrap();
    let (local_dir, s3_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut local = test_config(kafka, &topic, local_dir.path());
    let mut remote = test_config_on_s3(kafka, &topic, s3_dir.path(), s3, &bucket);
    for config in [&mut local, &mut remote] {
        config.commit_interval = Duration::from_secs(3);
    }
    let sinks = [InProcess::start(&local).await, InProcess::start(&remote).await];

    let mut produced = produce(kafka, &topic, 0, EVENTS, None).await;
    produced.sort();
    for config in [&local, &remote] {
        wait_for_rows(config, EVENTS, Duration::from_secs(300)).await;
    }
    for sink in sinks {
        sink.stop().await.unwrap();
    }

    for (name, config) in [("local", &local), ("s3", &remote)] {
        let ids = table_event_ids(config).await;
        assert_eq!(ids.len(), produced.len(), "{name}: rows");
        assert!(
            ids == produced,
            "{name}: the table's event ids differ from the produced ones"
        );
        let (snapshots, summary) = table_stats(config).await;
        println!("{name}: {snapshots} snapshots, current summary {summary:?}");

        let report = pyiceberg_report(config);
        println!("{name}: pyiceberg says {report}");
        assert_eq!(report["rows"], json!(EVENTS), "{name}");
        assert_eq!(report["distinct_event_ids"], json!(EVENTS), "{name}");
        assert_eq!(
            report["event_ids_sha256"],
            json!(fingerprint(&produced)),
            "{name}"
        );
        assert_eq!(report["snapshots"], json!(snapshots), "{name}");
        assert_eq!(
            report["partition_spec"],
            json!([{"name": "event_day", "transform": "day", "source": "event_time"}]),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_are_not_events_are_dead_lettered_and_the_rest_lands() {
    let kafka = shared_kafka().unwrap();
    let topic = kafka.create_unique_topic("neptune-dlq", 1).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(kafka, &topic, dir.path());
    kafka.create_topic(&config.dead_letter_topic, 1).await.unwrap();
    config.commit_interval = Duration::from_millis(500);
    let sink = InProcess::start(&config).await;

    produce_raw(kafka, &topic, &["not json", "{\"event_id\": 7}"]).await;
    let produced = produce(kafka, &topic, 0, 10, None).await;
    produce_raw(kafka, &topic, &["[]"]).await;
    wait_for_rows(&config, 10, Duration::from_secs(60)).await;

    let letters = kafka
        .read_topic(
            &config.dead_letter_topic,
            3,
            Duration::from_millis(500),
            Duration::from_secs(60),
        )
        .unwrap();
    let letters: Vec<DeadLetter> = letters
        .iter()
        .map(|message| serde_json::from_slice(rdkafka::Message::payload(message).unwrap()).unwrap())
        .collect();
    assert_eq!(letters.len(), 3);
    let payloads: Vec<_> = letters.iter().map(|letter| letter.raw_payload.as_str()).collect();
    assert_eq!(payloads, ["not json", "{\"event_id\": 7}", "[]"]);
    assert_eq!(
        letters
            .iter()
            .map(|letter| letter.kafka_offset)
            .collect::<Vec<_>>(),
        [Some(0), Some(1), Some(12)]
    );
    assert!(
        letters
            .iter()
            .all(|letter| letter.reason.starts_with("not a published event"))
    );
    let metrics = reqwest::get(format!("http://{}/metrics", sink.ops_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("neptune_dead_lettered_total 3"), "{metrics}");
    assert!(metrics.contains("neptune_rows_committed_total 10"), "{metrics}");
    let health = reqwest::get(format!("http://{}/health", sink.ops_addr))
        .await
        .unwrap();
    assert!(health.status().is_success());
    sink.stop().await.unwrap();

    let mut produced = produced;
    produced.sort();
    assert_eq!(table_event_ids(&config).await, produced);
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error_at_start() {
    let kafka = shared_kafka().unwrap();
    let s3 = shared_s3().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config_on_s3(kafka, "unused", dir.path(), s3, "no-such-bucket");
    let sink = InProcess::start(&config).await;
    let error = sink.stop().await.unwrap_err().to_string();
    assert!(error.contains("\"no-such-bucket\""), "{error}");
    assert!(error.contains("create it first"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_of_events_already_read_are_not_written_again_even_across_a_restart() {
    let kafka = shared_kafka().unwrap();
    let topic = kafka.create_unique_topic("neptune-copies", 2).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(kafka, &topic, dir.path());
    config.commit_interval = Duration::from_millis(300);
    let events: Vec<PublishedEvent> = (0..1_200).map(|i| common::event(i, SPREAD_OVER_DAYS)).collect();

    // The first 100 events again after the first 1,000: a device resending frames whose replies a crash lost.
    produce_events(kafka, &topic, &events[..1_000]).await;
    produce_events(kafka, &topic, &events[..100]).await;
    let sink = InProcess::start(&config).await;
    wait_for_offsets(&config, 1_100, Duration::from_secs(60)).await;
    let dropped = sink.metrics.duplicates_dropped.get();
    sink.stop().await.unwrap();
    assert_eq!(table_event_ids(&config).await.len(), 1_000, "a copy was written");
    assert_eq!(dropped, 100);

    // After a restart: 200 copies of events committed before it, then 200 new events.
    produce_events(kafka, &topic, &events[100..300]).await;
    produce_events(kafka, &topic, &events[1_000..]).await;
    let sink = InProcess::start(&config).await;
    wait_for_offsets(&config, 1_500, Duration::from_secs(60)).await;
    let dropped = sink.metrics.duplicates_dropped.get();
    sink.stop().await.unwrap();
    let mut expected: Vec<String> = events.iter().map(|event| event.event_id.to_string()).collect();
    expected.sort();
    assert_eq!(table_event_ids(&config).await, expected);
    assert_eq!(dropped, 200, "copies of events committed before the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_another_engine_compacted_and_widened_is_resumed_where_it_was() {
    let kafka = shared_kafka().unwrap();
    let topic = kafka.create_unique_topic("neptune-foreign", 2).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(kafka, &topic, dir.path());
    config.commit_interval = Duration::from_millis(300);
    let mut produced = produce(kafka, &topic, 0, 2_000, None).await;
    let sink = InProcess::start(&config).await;
    wait_for_offsets(&config, 2_000, Duration::from_secs(60)).await;
    sink.stop().await.unwrap();

    // Another engine rewrites the table and expires every snapshot Neptune wrote, then widens an int column.
    let compacted: serde_json::Value = serde_json::from_str(&pyiceberg(&config, &["compact"])).unwrap();
    assert_eq!(compacted["snapshots"], 1, "only the foreign snapshot is left");
    pyiceberg(&config, &["promote", "--column", "waypoint_count"]);

    produced.extend(produce(kafka, &topic, 2_000, 1_000, None).await);
    let sink = InProcess::start(&config).await;
    wait_for_offsets(&config, 3_000, Duration::from_secs(60)).await;
    sink.stop().await.unwrap();
    produced.sort();
    assert_eq!(
        table_event_ids(&config).await,
        produced,
        "resumed at the offsets, not the beginning"
    );
    assert_eq!(pyiceberg_report(&config)["rows"], 3_000);

    // Without offsets in any snapshot or property, a table with rows is refused rather than written twice.
    pyiceberg(&config, &["compact"]);
    pyiceberg(&config, &["forget-offsets"]);
    let sink = InProcess::start(&config).await;
    let refused =
        packetpulse_testkit::wait_until("Neptune to refuse the table", Duration::from_secs(60), || {
            let finished = sink.is_finished();
            async move { Ok::<_, String>(finished.then_some(())) }
        })
        .await;
    refused.unwrap();
    let error = sink.stop().await.unwrap_err().to_string();
    assert!(error.contains("holds 3000 rows but no Kafka offsets"), "{error}");
    assert_eq!(common::committed_rows(&config).await, 3_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_commits_what_was_read_before_the_commit_interval() {
    let kafka = shared_kafka().unwrap();
    let topic = kafka.create_unique_topic("neptune-shutdown", 2).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(kafka, &topic, dir.path());
    config.commit_interval = Duration::from_secs(3_600);
    let sink = InProcess::start(&config).await;
    let mut produced = produce(kafka, &topic, 0, 1_000, None).await;
    let buffered = sink.metrics.rows_buffered.clone();
    packetpulse_testkit::wait_until("1,000 rows buffered", Duration::from_secs(60), || {
        let rows = buffered.get();
        async move { Ok::<_, String>((rows == 1_000).then_some(())) }
    })
    .await
    .unwrap();
    assert_eq!(
        common::committed_rows(&config).await,
        0,
        "nothing is committed before the interval"
    );
    sink.stop().await.unwrap();

    produced.sort();
    assert_eq!(table_event_ids(&config).await, produced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_after_a_concurrent_expiry_is_rebased_on_the_new_metadata() {
    let kafka = shared_kafka().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(kafka, "conflicts", dir.path());
    let metrics = neptune::Metrics::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut sink = neptune::sink::TableSink::open(&config, &metrics).await.unwrap();
    let mut expected = Vec::new();
    push_rows(&mut sink, 0, 0..10, &mut expected).await;
    sink.commit(&shutdown).await.unwrap();
    push_rows(&mut sink, 0, 10..20, &mut expected).await;
    sink.commit(&shutdown).await.unwrap();
    push_rows(&mut sink, 0, 20..30, &mut expected).await;
    // Another writer changes the table under the sink, whose base metadata is now stale: iceberg refreshes and
    // re-applies the append (a conflict found at the catalog is retried the same way).
    let expired = neptune::maintenance::expire_snapshots(&config, Duration::ZERO, 1)
        .await
        .unwrap();
    assert_eq!((expired.before, expired.after), (2, 1));
    sink.commit(&shutdown).await.unwrap();

    assert_eq!(sink.offsets().next.get(&0), Some(&30));
    expected.sort();
    assert_eq!(table_event_ids(&config).await, expected);
    let (snapshots, summary) = table_stats(&config).await;
    assert_eq!(snapshots, 2, "the expiry's result plus the retried commit");
    assert!(
        summary["packetpulse.neptune.kafka-offsets"].contains("\"0\":30"),
        "{summary:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_behind_on_a_partition_it_did_not_read_is_fenced_rather_than_moving_it_back() {
    let kafka = shared_kafka().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(kafka, "two-writers", dir.path());
    let metrics = neptune::Metrics::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut expected = Vec::new();
    let mut first = neptune::sink::TableSink::open(&config, &metrics).await.unwrap();
    push_rows(&mut first, 0, 0..10, &mut expected).await;
    first.commit(&shutdown).await.unwrap();

    // A second writer commits partition 1 while the first reads on in partition 0 only.
    let mut second = neptune::sink::TableSink::open(&config, &metrics).await.unwrap();
    push_rows(&mut second, 1, 0..10, &mut expected).await;
    second.commit(&shutdown).await.unwrap();
    let mut read_again = Vec::new();
    push_rows(&mut first, 0, 10..20, &mut read_again).await;
    let refused = first.commit(&shutdown).await;

    // Committing would have recorded partition 1 at the first writer's view (unread), so the second writer's
    // rows would be read and written again.
    assert!(matches!(refused, Err(neptune::Error::Fenced(_))), "{refused:?}");
    let offsets =
        |table: &iceberg::table::Table| neptune::offsets::Offsets::from_table(table, &config.topic).unwrap();
    let table = common::load_table(&config).await;
    assert_eq!(offsets(&table).next, [(0, 10), (1, 10)].into());
    expected.sort();
    assert_eq!(table_event_ids(&config).await, expected);

    // Restarted from the table, as the pipeline does, the first writer's batch lands on top.
    let mut first = neptune::sink::TableSink::open(&config, &metrics).await.unwrap();
    push_rows(&mut first, 0, 10..20, &mut expected).await;
    first.commit(&shutdown).await.unwrap();
    assert_eq!(
        offsets(&common::load_table(&config).await).next,
        [(0, 20), (1, 10)].into()
    );
    expected.sort();
    assert_eq!(table_event_ids(&config).await, expected);
}

/// Pushes a fresh event at each of `offsets` of `partition` into `sink`, adding its id to `ids`.
async fn push_rows(
    sink: &mut neptune::sink::TableSink,
    partition: i32,
    offsets: std::ops::Range<i64>,
    ids: &mut Vec<String>,
) {
    for offset in offsets {
        let event = common::event(offset as u64, common::SPREAD_OVER_DAYS);
        ids.push(event.event_id.to_string());
        let neptune::source::Decoded::Row(row) =
            neptune::source::decode(Some(event.to_json().as_bytes()), partition, offset)
        else {
            panic!("not an event");
        };
        sink.push(row).await.unwrap();
    }
}
