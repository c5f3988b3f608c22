//! The size-driven commit policy: a steady 10k events/s stream becomes one data file of about the target size per
//! partition per commit, whatever the commit interval; expiring snapshots while Neptune writes leaves the rows
//! unchanged and Neptune resumes after it.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{InProcess, load_table, produce, table_event_ids, test_config, wait_for_rows};
use packetpulse_testkit::shared_kafka;

const RATE: u64 = 10_000;
const SECONDS: u64 = 20;
/// Small enough for several commits in the run (the test events take ~50 bytes a row: one every ~4 s).
const TARGET_FILE_MIB: u64 = 2;

fn summary_number(summary: &std::collections::HashMap<String, String>, key: &str) -> u64 {
    summary.get(key).map_or(0, |value| value.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_write_files_of_the_target_size_and_expiry_keeps_every_row() {
    let kafka = shared_kafka().unwrap();
    let topic = kafka.create_unique_topic("neptune-file-sizes", 3).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(kafka, &topic, dir.path());
    config.target_file_mib = TARGET_FILE_MIB;
    // Longer than filling a file takes: every commit but the last is driven by size.
    config.commit_interval = Duration::from_secs(15);
    let sink = InProcess::start(&config).await;

    let mut produced = produce(kafka, &topic, 0, RATE * SECONDS, Some(RATE)).await;
    wait_for_rows(&config, RATE * SECONDS, Duration::from_secs(120)).await;

    let table = load_table(&config).await;
    let mut commits = 0;
    for snapshot in table.metadata().snapshots() {
        let summary = &snapshot.summary().additional_properties;
        let files = summary_number(summary, "added-data-files");
        let partitions = summary_number(summary, "changed-partition-count");
        assert!(
            files <= partitions,
            "snapshot {}: {files} files for {partitions} partitions",
            snapshot.snapshot_id()
        );
        commits += 1;
    }
    // Every file but those of the last commit (the stream's tail, committed by age) is one full batch.
    let current = table.metadata().current_snapshot().unwrap().clone();
    let mut sizes: Vec<u64> = packetpulse_lake::table_files::live_files(&table)
        .await
        .unwrap()
        .into_iter()
        .filter(|file| file.added_by != Some(current.snapshot_id()))
        .map(|file| file.bytes)
        .collect();
    sizes.sort_unstable();
    let target = TARGET_FILE_MIB * 1024 * 1024;
    let median = sizes[sizes.len() / 2];
    println!(
        "{commits} commits, {} full-batch data files: min {} B, median {median} B, max {} B (target {target} B)",
        sizes.len(),
        sizes[0],
        sizes[sizes.len() - 1]
    );
    assert!(
        sizes.len() >= 3,
        "{} full batches: the target was not reached",
        sizes.len()
    );
    // The first batch is sized with a guessed bytes per row; the next ones with the previous commit's.
    assert!(
        median >= target / 2 && median <= target * 3 / 2,
        "median data file {median} B is not near the target {target} B"
    );
    assert!(
        sizes[sizes.len() - 1] <= target * 2,
        "a data file of {} B overshot the target {target} B",
        sizes[sizes.len() - 1]
    );

    // Expire every snapshot but the current one while the sink keeps running.
    let expired = neptune::maintenance::expire_snapshots(&config, Duration::ZERO, 1)
        .await
        .unwrap();
    println!("expire-snapshots: {expired:?}");
    assert_eq!(expired.before, commits);
    assert_eq!(expired.after, 1);
    produced.sort();
    let ids = table_event_ids(&config).await;
    assert_eq!(ids.len(), produced.len());
    assert!(ids == produced, "expiry changed the row set");

    // Neptune, restarted, resumes from the offsets the kept snapshot holds.
    sink.stop().await.unwrap();
    let sink = InProcess::start(&config).await;
    let more = produce(kafka, &topic, RATE * SECONDS, 10_000, None).await;
    wait_for_rows(&config, RATE * SECONDS + 10_000, Duration::from_secs(120)).await;
    sink.stop().await.unwrap();
    produced.extend(more);
    produced.sort();
    let ids = table_event_ids(&config).await;
    assert_eq!(ids.len(), produced.len());
    assert!(
        ids == produced,
        "rows after resuming differ from the produced ones"
    );
}
