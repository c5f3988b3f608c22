//! Servers as outage and crash tests need them: stopped by PID, restarted on the same address and data.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

use std::time::Duration;

use packetpulse_testkit::{ClickHouse, Kafka};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_keeps_its_messages_across_a_crash_and_restart() {
    let kafka = Kafka::start_tansu().expect("tansu must be available");
    let topic = kafka.create_unique_topic("crash", 1).await.unwrap();
    let producer: FutureProducer = kafka.client_config().set("acks", "all").create().unwrap();
    for n in 0..100 {
        let payload = n.to_string();
        producer
            .send(
                FutureRecord::<(), _>::to(&topic).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    drop(producer);

    let pid = kafka.pid().unwrap();
    kafka.kill().unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the broker process is gone"
    );
    kafka.restart().unwrap();
    assert_ne!(kafka.pid(), Some(pid));

    let consumer: BaseConsumer = kafka
        .client_config()
        .set("group.id", "crash-reader")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut values = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while values.len() < 100 && std::time::Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(500)) {
            let message = message.unwrap();
            values.push(
                message
                    .payload_view::<str>()
                    .unwrap()
                    .unwrap()
                    .parse::<u32>()
                    .unwrap(),
            );
        }
    }
    assert_eq!(values, (0..100).collect::<Vec<_>>());
}

#[tokio::test]
async fn clickhouse_is_unreachable_while_stopped_and_keeps_data_after_restart() {
    let server = ClickHouse::start().expect("ClickHouse must be available");
    let (_db, client) = server.fresh_database().await.unwrap();
    client
        .query("CREATE TABLE t (n UInt32) ENGINE = MergeTree ORDER BY n")
        .execute()
        .await
        .unwrap();
    client
        .query("INSERT INTO t VALUES (1), (2), (3)")
        .execute()
        .await
        .unwrap();

    server.stop();
    assert!(
        client.query("SELECT 1").fetch_one::<u8>().await.is_err(),
        "stopped means unreachable"
    );
    server.restart().unwrap();
    let count = client
        .query("SELECT count() FROM t")
        .fetch_one::<u64>()
        .await
        .unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn a_server_in_its_own_group_takes_what_it_started_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("started.pid");
    // A shell that starts a long sleep and waits for it, as chromedriver starts a browser.
    let script = format!("sleep 600 & echo $! > {}; wait", pid_file.display());
    let mut server = packetpulse_testkit::ServerProcess::start_group(
        "starter",
        std::path::Path::new("/bin/sh"),
        ["-c", script.as_str()],
        dir.path(),
    )
    .unwrap();
    let started =
        packetpulse_testkit::wait_until("the started program's PID", Duration::from_secs(10), || {
            let pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|text| text.trim().parse::<u32>().ok());
            async move { Ok(pid) }
        })
        .await
        .unwrap();
    assert!(runs(started), "the started program runs");

    server.stop();

    packetpulse_testkit::wait_until(
        "the started program gone",
        Duration::from_secs(10),
        || async move { Ok((!runs(started)).then_some(())) },
    )
    .await
    .expect("stopping the server kills what it started");
}

/// Whether `pid` is a live process (a zombie, killed but not reaped, counts as gone).
fn runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesised command name.
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}
