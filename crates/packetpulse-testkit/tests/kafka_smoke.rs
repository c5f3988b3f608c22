//! rdkafka against the real broker (tansu) and the mock cluster: keyed, idempotent, acks=all production; a
//! consumer group with manual commits that resumes after a restart with nothing lost and nothing repeated.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::future::try_join_all;
use packetpulse_testkit::{Kafka, KafkaKind, shared_kafka};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

const MESSAGES: usize = 10_000;
const KEYS: usize = 500;
const PARTITIONS: i32 = 3;
/// How many messages the first consumer handles (and commits) before it is stopped.
const FIRST_CONSUMER_TAKES: usize = 4_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_keeps_every_message_across_a_consumer_restart() {
    let kafka = shared_kafka().expect("tansu must be available: the smoke test needs the real broker");
    assert_eq!(kafka.kind(), KafkaKind::Tansu);
    produce_and_consume_across_restart(kafka).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_cluster_behaves_the_same_behind_the_same_api() {
    let kafka = Kafka::start_mock().expect("librdkafka's mock cluster is built into rdkafka");
    assert_eq!(kafka.kind(), KafkaKind::Mock);
    assert_eq!(kafka.pid(), None);
    produce_and_consume_across_restart(&kafka).await;
}

async fn produce_and_consume_across_restart(kafka: &Kafka) {
    let topic = kafka.create_unique_topic("smoke", PARTITIONS).await.unwrap();
    let produced = produce(kafka, &topic).await;
    assert_eq!(produced.len(), MESSAGES);
    let partitions_used: std::collections::BTreeSet<i32> = produced.values().map(|(p, _)| *p).collect();
    assert_eq!(
        partitions_used.len(),
        PARTITIONS as usize,
        "keys spread over every partition"
    );

    let group = packetpulse_testkit::unique_name("smoke_group");
    let first = consume(kafka, &topic, &group, FIRST_CONSUMER_TAKES).await;
    // Same group again: it must start exactly where the first one committed.
    let second = consume(kafka, &topic, &group, MESSAGES - FIRST_CONSUMER_TAKES).await;

    let mut seen: HashMap<u64, usize> = HashMap::new();
    for message in first.iter().chain(&second) {
        *seen.entry(message.value).or_default() += 1;
    }
    assert_eq!(seen.len(), MESSAGES, "every produced message consumed");
    assert!(seen.values().all(|&n| n == 1), "no message consumed twice");
    for message in first.iter().chain(&second) {
        assert_eq!(
            produced[&message.value],
            (message.partition, message.offset),
            "delivered where acked"
        );
    }
    // Per key, messages arrive in production order (same key, same partition).
    let mut last_per_key: HashMap<String, u64> = HashMap::new();
    for message in first.iter().chain(&second) {
        if let Some(previous) = last_per_key.insert(message.key.clone(), message.value) {
            assert!(previous < message.value, "key {} out of order", message.key);
        }
    }
}

/// Produces `MESSAGES` messages with value = sequence number and key = `key-{n % KEYS}`; returns where each
/// value was acknowledged.
async fn produce(kafka: &Kafka, topic: &str) -> BTreeMap<u64, (i32, i64)> {
    let producer: FutureProducer = kafka
        .client_config()
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let deliveries = (0..MESSAGES as u64).map(|n| {
        let producer = &producer;
        async move {
            let (key, value) = (format!("key-{}", n as usize % KEYS), n.to_string());
            let record = FutureRecord::to(topic).key(&key).payload(&value);
            let delivery = producer
                .send(record, Duration::from_secs(30))
                .await
                .map_err(|(e, _)| e)?;
            Ok::<_, rdkafka::error::KafkaError>((n, (delivery.partition, delivery.offset)))
        }
    });
    try_join_all(deliveries)
        .await
        .expect("every message acknowledged")
        .into_iter()
        .collect()
}

struct Consumed {
    key: String,
    value: u64,
    partition: i32,
    offset: i64,
}

/// Joins `group`, handles exactly `count` messages, commits their offsets synchronously and leaves.
async fn consume(kafka: &Kafka, topic: &str, group: &str, count: usize) -> Vec<Consumed> {
    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut consumed = Vec::with_capacity(count);
    let mut next_offsets: BTreeMap<i32, i64> = BTreeMap::new();
    while consumed.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("no message for 60 s after {} of {count}", consumed.len()))
            .expect("consumer error");
        next_offsets.insert(message.partition(), message.offset() + 1);
        consumed.push(Consumed {
            key: String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
            value: message.payload_view::<str>().unwrap().unwrap().parse().unwrap(),
            partition: message.partition(),
            offset: message.offset(),
        });
    }
    let mut offsets = TopicPartitionList::new();
    for (partition, next) in next_offsets {
        offsets
            .add_partition_offset(topic, partition, Offset::Offset(next))
            .unwrap();
    }
    consumer.commit(&offsets, CommitMode::Sync).expect("commit");
    consumer.unsubscribe();
    consumed
}
