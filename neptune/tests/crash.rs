//! Crash test: Neptune is killed with SIGKILL at random moments while 60k events stream in, and restarted each
//! time. The table ends with exactly the produced events: nothing lost, nothing twice. The same holds with two
//! Neptunes writing one table at once (the commit fence).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{
    committed_rows, flags, produce, table_event_ids, test_config_on_s3, wait_for_offsets, wait_for_rows,
};
use packetpulse_testkit::{ServerProcess, shared_kafka, shared_s3};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Dozens of kills land while they stream in: each restart re-reads from the table's offsets, so the broker, not
/// the producer, sets the pace (200k events took 400 s of CI with both tests sharing one broker).
const EVENTS: u64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_neptune_at_random_moments_neither_loses_nor_duplicates_a_row() {
    let kafka = shared_kafka().unwrap();
    let s3 = shared_s3().unwrap();
    let topic = kafka.create_unique_topic("neptune-crash", 3).await.unwrap();
    let bucket = s3.create_unique_bucket("bronze-crash").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config_on_s3(kafka, &topic, dir.path(), s3, &bucket);
    // Frequent commits, so kills land before, during and after writes and commits alike.
    config.commit_interval = Duration::from_millis(700);
    let mut neptune = ServerProcess::start(
        "neptune",
        std::path::Path::new(env!("CARGO_BIN_EXE_neptune")),
        flags(&config),
        dir.path(),
    )
    .unwrap();

    let seed: u64 = std::env::var("CRASH_SEED").map_or_else(|_| rand::random(), |seed| seed.parse().unwrap());
    println!("kill schedule seed {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = SmallRng::seed_from_u64(seed);
    let producer = {
        let topic = topic.clone();
        tokio::spawn(async move { produce(kafka, &topic, 0, EVENTS, Some(12_000)).await })
    };
    let mut kills = 0;
    while !producer.is_finished() || kills < 3 {
        // The fault schedule, not synchronisation: how long Neptune runs before the next SIGKILL.
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..2_500))).await;
        neptune.kill();
        kills += 1;
        println!("kill {kills}: {} rows committed", committed_rows(&config).await);
        neptune.restart().unwrap();
    }
    let mut produced = producer.await.unwrap();
    wait_for_rows(&config, EVENTS, Duration::from_secs(300)).await;
    neptune.stop();

    let ids = table_event_ids(&config).await;
    let mut distinct = ids.clone();
    distinct.dedup();
    produced.sort();
    println!("{kills} kills; {} rows, {} distinct", ids.len(), distinct.len());
    assert_eq!(ids.len(), produced.len(), "rows (duplicates or losses)");
    assert_eq!(distinct.len(), ids.len(), "duplicate event ids");
    assert!(
        ids == produced,
        "the table's event ids differ from the produced ones"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_neptunes_writing_one_table_write_every_event_exactly_once() {
    let kafka = shared_kafka().unwrap();
    let s3 = shared_s3().unwrap();
    let topic = kafka.create_unique_topic("neptune-two-writers", 3).await.unwrap();
    let bucket = s3.create_unique_bucket("bronze-two-writers").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config_on_s3(kafka, &topic, dir.path(), s3, &bucket);
    config.commit_interval = Duration::from_millis(500);
    let program = std::path::Path::new(env!("CARGO_BIN_EXE_neptune"));

    // The second writer starts once the first created the table and is committing.
    let mut first = ServerProcess::start("neptune-a", program, flags(&config), dir.path()).unwrap();
    let mut produced = produce(kafka, &topic, 0, 20_000, None).await;
    wait_for_rows(&config, 1, Duration::from_secs(60)).await;
    let mut second = ServerProcess::start("neptune-b", program, flags(&config), dir.path()).unwrap();
    produced.extend(produce(kafka, &topic, 20_000, EVENTS - 20_000, Some(10_000)).await);
    wait_for_offsets(&config, i64::try_from(EVENTS).unwrap(), Duration::from_secs(300)).await;
    first.stop();
    second.stop();

    let ids = table_event_ids(&config).await;
    let mut distinct = ids.clone();
    distinct.dedup();
    produced.sort();
    let log = |name: &str| std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap();
    let fenced = [log("neptune-a"), log("neptune-b")]
        .iter()
        .map(|log| log.matches("batch dropped").count())
        .sum::<usize>();
    println!(
        "{} rows, {} distinct, {fenced} batches fenced",
        ids.len(),
        distinct.len()
    );
    assert_eq!(ids.len(), produced.len(), "rows (duplicates or losses)");
    assert_eq!(distinct.len(), ids.len(), "duplicate event ids");
    assert!(
        ids == produced,
        "the table's event ids differ from the produced ones"
    );
    assert!(fenced > 0, "the two writers never met at the fence");
}
