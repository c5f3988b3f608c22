//! The mock cluster's broker outage while servers are being spawned: taking a broker down rebinds its port,
//! which fails (and librdkafka aborts the test binary) if a child between fork and exec still holds the old
//! listener. A clean CI run once died so; here the two race on purpose.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use packetpulse_testkit::{Kafka, ServerProcess};

/// Long enough for thousands of outages and spawns on a slow machine.
const RACE_FOR: Duration = Duration::from_secs(3);

#[test]
fn the_mock_broker_goes_down_and_up_while_processes_are_spawned() {
    let kafka = Kafka::start_mock().unwrap();
    let done = AtomicBool::new(false);
    let dir = tempfile::tempdir().unwrap();
    let (outages, spawns) = std::thread::scope(|scope| {
        let spawner = scope.spawn(|| {
            let mut spawns = 0_u32;
            while !done.load(Ordering::Relaxed) {
                let process =
                    ServerProcess::start("true", Path::new("/bin/true"), [""; 0], dir.path()).unwrap();
                drop(process);
                spawns += 1;
            }
            spawns
        });
        let deadline = Instant::now() + RACE_FOR;
        let mut outages = 0_u32;
        while Instant::now() < deadline {
            kafka.stop();
            kafka.restart().unwrap();
            outages += 1;
        }
        done.store(true, Ordering::Relaxed);
        (outages, spawner.join().unwrap())
    });
    println!("{outages} outages while {spawns} processes were spawned");
    assert!(
        outages > 0 && spawns > 0,
        "both sides ran: {outages} outages, {spawns} spawns"
    );
}
