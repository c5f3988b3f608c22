//! Test plumbing: Venus in-process against a testkit broker, Mars pointed at it, and reconciliation of Mars'
//! events log with what the topic holds.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use packetpulse_testkit::Kafka;
use rdkafka::Message;

/// Starts Venus against `kafka` (test configuration, then `adjust`).
pub async fn start_venus(kafka: &Kafka, adjust: impl FnOnce(&mut venus::Config)) -> venus::RunningVenus {
    let mut config = venus::testing::test_config(kafka);
    adjust(&mut config);
    venus::testing::start(kafka, config).await
}

/// A fast-forwarded fleet: 20 ms ticks of 10 s driving each, starting within 30 s of simulated time.
pub fn test_config(venus: &venus::RunningVenus, vehicles: usize, events_log: &Path) -> mars::Config {
    let mut config = mars::Config::defaults();
    config.venus_url = venus.ws_url();
    config.api_key = venus::testing::TEST_API_KEY.into();
    config.vehicles = vehicles;
    config.interval = Duration::from_millis(20);
    config.step = Some(Duration::from_secs(10));
    config.start_spread = Duration::from_secs(30);
    config.events_log = Some(events_log.to_owned());
    config.progress_interval = Duration::from_secs(2);
    config
}

/// One line of Mars' events log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acked {
    pub event_id: String,
    pub session_id: String,
    pub seq: u64,
}

pub fn read_events_log(path: &Path) -> Vec<Acked> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.split(' ');
            Acked {
                event_id: parts.next().unwrap().into(),
                session_id: parts.next().unwrap().into(),
                seq: parts.next().unwrap().parse().unwrap(),
            }
        })
        .collect()
}

/// One record of the events topic.
#[derive(Debug, Clone)]
pub struct Published {
    pub key: String,
    pub event_id: String,
    pub session_id: String,
    pub seq: u64,
    pub partition: i32,
    pub offset: i64,
}

/// Reads the whole topic: at least `at_least` records (failing after 120 s), then until 2 s pass without one.
pub fn read_topic(kafka: &Kafka, topic: &str, at_least: usize) -> Vec<Published> {
    let messages = kafka
        .read_topic(topic, at_least, Duration::from_secs(2), Duration::from_secs(120))
        .unwrap();
    messages
        .iter()
        .map(|message| {
            let payload: serde_json::Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
            Published {
                key: String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
                event_id: payload["event_id"].as_str().unwrap().into(),
                session_id: payload["session_id"].as_str().unwrap().into(),
                seq: payload["seq"].as_u64().unwrap(),
                partition: message.partition(),
                offset: message.offset(),
            }
        })
        .collect()
}

/// How often each event id appears in the topic.
pub fn id_counts(records: &[Published]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for record in records {
        *counts.entry(record.event_id.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Per session, the seqs in topic order (each session lives on one partition).
pub fn seqs_by_session(records: &[Published]) -> BTreeMap<&str, Vec<u64>> {
    let mut sorted: Vec<&Published> = records.iter().collect();
    sorted.sort_by_key(|r| (r.partition, r.offset));
    let mut sessions: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for record in sorted {
        sessions
            .entry(record.session_id.as_str())
            .or_default()
            .push(record.seq);
    }
    sessions
}
