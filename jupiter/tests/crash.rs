//! Jupiter killed with SIGKILL at random moments while events stream in, restarted each time: the silver tables
//! end exact — batches read again after a crash collapse by event id.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{assert_silver_counts, produce, stream_with_faults, test_config, wait_for_silver};
use packetpulse_testkit::{shared_clickhouse, shared_kafka};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_jupiter_at_random_moments_loses_nothing_and_queries_show_no_duplicates() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-crash", 3).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    let dir = tempfile::tempdir().unwrap();
    // Incarnations live under 2.5 s, too short to heartbeat, so the last one inherits the first one's last-seen
    // time at the broker: a session timeout shorter than the whole kill phase let tansu expire it and wedge the
    // group (ARCHITECTURE decision 12). 60 s outlasts the phase, as a real deployment's outlasts a restart.
    let mut jupiter = common::start_binary(
        &config,
        "jupiter-crash-test",
        vec![("--session-timeout", "60s".to_owned())],
        dir.path(),
    );

    let seed: u64 = std::env::var("CRASH_SEED").map_or_else(|_| rand::random(), |seed| seed.parse().unwrap());
    println!("kill schedule seed {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = SmallRng::seed_from_u64(seed);
    let sends = stream_with_faults(11);
    let producer = {
        let topic = topic.clone();
        tokio::spawn(async move { produce(kafka, &topic, &sends, Some(10_000)).await })
    };
    let mut kills = 0;
    while !producer.is_finished() || kills < 3 {
        // The fault schedule, not synchronisation: how long Jupiter runs before the next SIGKILL.
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..2_500))).await;
        jupiter.kill();
        kills += 1;
        jupiter.restart().unwrap();
    }
    producer.await.unwrap();
    println!("{kills} kills");
    // Jupiter's own account is what tells why, should silver stay below the events.
    wait_for_silver(&config)
        .await
        .map_err(|timeout| jupiter.explain(timeout, 120))
        .unwrap();
    assert_silver_counts(&config).await;
    jupiter.stop();
}
