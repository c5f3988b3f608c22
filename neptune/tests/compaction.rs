//! Compaction of closed days: many small commits become files of about the target size while the sink keeps
//! committing; every row stays exactly once, Jupiter's backfill order (commit groups in name order, each sorted by
//! Kafka offset) still gives every partition's offsets in order, and pyiceberg reads the same rows.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use common::{
    InProcess, fingerprint, load_table, produce_spaced, pyiceberg_report, table_event_ids, test_config,
    wait_for_rows,
};
use futures::{StreamExt, TryStreamExt};
use packetpulse_lake::data_files::commit_key;
use packetpulse_lake::table_files::{live_files, per_day};
use packetpulse_testkit::shared_kafka;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const ROUNDS: u64 = 30;
const PER_ROUND: u64 = 3_000;
/// Event times 2.7 s apart from 2026-11-20: ~32k events a day, so some rounds (one commit each) span midnight
/// and write two days — the commits a compaction group must not span.
const SPACING: Duration = Duration::from_millis(2_700);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_files_of_closed_days_are_compacted_while_the_sink_writes_and_no_row_moves() {
    let kafka = shared_kafka().unwrap();
    let topic = kafka.create_unique_topic("neptune-compaction", 3).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(kafka, &topic, dir.path());
    config.target_file_mib = 1;
    config.commit_interval = Duration::from_millis(300);
    // The test runs compaction itself, at a moment it chooses.
    config.compaction_interval = Duration::ZERO;
    let sink = InProcess::start(&config).await;

    // One commit per round: the round's rows are committed before the next round is produced.
    let mut produced = Vec::new();
    for round in 0..ROUNDS {
        produced.extend(produce_spaced(kafka, &topic, round * PER_ROUND, PER_ROUND, None, SPACING).await);
        wait_for_rows(&config, (round + 1) * PER_ROUND, Duration::from_secs(60)).await;
    }
    let before = per_day(&live_files(&load_table(&config).await).await.unwrap());
    println!("before: {before:?}");

    // Compaction runs while more events stream in and the sink commits every 300 ms: its swaps conflict with
    // those commits and are built again on the new table.
    let streaming = {
        let topic = topic.clone();
        tokio::spawn(async move {
            produce_spaced(kafka, &topic, ROUNDS * PER_ROUND, 10_000, Some(2_000), SPACING).await
        })
    };
    let catalog = packetpulse_lake::catalog::open(&config.lake).await.unwrap();
    let compacted = neptune::compaction::compact_all(
        &config,
        catalog.as_ref(),
        &neptune::Metrics::new(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    for step in &compacted {
        println!("compacted {step}");
    }
    produced.extend(streaming.await.unwrap());
    let total = u64::try_from(produced.len()).unwrap();
    wait_for_rows(&config, total, Duration::from_secs(60)).await;
    sink.stop().await.unwrap();

    let table = load_table(&config).await;
    let after = per_day(&live_files(&table).await.unwrap());
    println!("after: {after:?}");
    assert!(compacted.len() >= 3, "{} compactions", compacted.len());
    let target = config.target_file_mib * 1024 * 1024;
    for step in &compacted {
        assert!(step.files >= 2, "{step}");
        assert!(
            step.bytes_after <= target * 3 / 2,
            "{step}: over the target {target} B"
        );
    }
    // The first day (only the first rounds wrote it) has at most half the files it had.
    let (first_day, first_before) = before.iter().next().unwrap();
    let first_after = after[first_day];
    assert!(
        first_after.files * 2 <= first_before.files,
        "day {first_day:?}: {} files before, {} after",
        first_before.files,
        first_after.files
    );
    assert_eq!(first_after.rows, first_before.rows, "day {first_day:?}");

    // Every row, once.
    produced.sort();
    let ids = table_event_ids(&config).await;
    assert_eq!(ids.len(), produced.len(), "rows (duplicates or losses)");
    assert!(
        ids == produced,
        "the table's event ids differ from the produced ones"
    );
    let report = pyiceberg_report(&config);
    assert_eq!(report["rows"], json!(total));
    assert_eq!(report["event_ids_sha256"], json!(fingerprint(&produced)));

    // Replayed as Jupiter's backfill does, every partition's offsets come in order.
    let mut last_offset: BTreeMap<i32, i64> = BTreeMap::new();
    let mut replayed = 0_u64;
    for (key, positions) in backfill_order(&table).await {
        for (partition, offset) in positions {
            let last = last_offset.entry(partition).or_insert(-1);
            assert!(
                offset > *last,
                "commit group {key}: partition {partition} offset {offset} after {last}"
            );
            *last = offset;
            replayed += 1;
        }
    }
    assert_eq!(replayed, total);
}

/// (kafka_partition, kafka_offset) of every row, grouped by commit key in name order and sorted within a group:
/// the order `jupiter backfill` replays bronze in.
async fn backfill_order(table: &iceberg::table::Table) -> Vec<(String, Vec<(i32, i64)>)> {
    let mut groups: BTreeMap<String, Vec<iceberg::scan::FileScanTask>> = BTreeMap::new();
    let mut tasks = table
        .scan()
        .select(["kafka_partition", "kafka_offset"])
        .build()
        .unwrap()
        .plan_files()
        .await
        .unwrap();
    while let Some(task) = tasks.try_next().await.unwrap() {
        groups
            .entry(commit_key(&task.data_file_path))
            .or_default()
            .push(task);
    }
    let mut ordered = Vec::new();
    for (key, tasks) in groups {
        let batches: Vec<arrow_array::RecordBatch> = table
            .reader_builder()
            .build()
            .read(futures::stream::iter(tasks.into_iter().map(Ok)).boxed())
            .unwrap()
            .stream()
            .try_collect()
            .await
            .unwrap();
        let mut positions = Vec::new();
        for batch in &batches {
            let partitions = batch.column(0).as_primitive::<Int32Type>();
            let offsets = batch.column(1).as_primitive::<Int64Type>();
            positions.extend((0..batch.num_rows()).map(|row| (partitions.value(row), offsets.value(row))));
        }
        positions.sort_unstable();
        ordered.push((key, positions));
    }
    ordered
}
