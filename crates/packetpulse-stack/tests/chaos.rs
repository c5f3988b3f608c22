//! The chaos run's short version (the full one is `--bin chaos`, see the crate README): the native stack of debug
//! binaries, about 100k events from a 200-vehicle fleet, and one SIGKILL of each of Venus, Neptune, Jupiter,
//! Uranus, Mercury and the broker while they flow. Nothing acknowledged is lost, nothing is duplicated in bronze or
//! silver, gold summarises every session silver holds, every alert silver holds reached the webhook and the
//! mailbox, and every service works again after its kill.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use packetpulse_stack::chaos::{self, ChaosConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_every_service_once_while_a_fleet_streams_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("CHAOS_SEED").map_or(1, |seed| seed.parse().unwrap());
    let config = ChaosConfig {
        events: 100_000,
        vehicles: 200,
        interval: Duration::from_millis(100),
        kills_per_service: 1,
        seed,
        profile: "debug".into(),
        data: dir.path().join("data"),
        recover_timeout: Duration::from_secs(120),
        settle_timeout: Duration::from_secs(180),
    };
    let report = chaos::run(&config).await.unwrap();
    println!("{report}");
    assert_eq!(report.kills.len(), chaos::VICTIMS.len());
    assert!(report.layers.acked >= 100_000, "{report}");
    let problems = report.problems();
    if !problems.is_empty() {
        // The logs of every service stay for the post-mortem.
        println!("chaos: data and logs kept in {}", dir.keep().display());
    }
    assert!(problems.is_empty(), "{problems:#?}\n{report}");
}
