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
