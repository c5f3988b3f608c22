//! The source: the `sessions` topic, every partition assigned explicitly at the offsets the table holds (not at
//! the group's committed offsets), and each message decoded into a bronze row or a dead letter.

use std::time::Duration;

use packetpulse_model::{DeadLetter, PublishedEvent};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;
use crate::offsets::Offsets;
use crate::schema::BronzeRow;

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
const TOPIC_RETRY_DELAY: Duration = Duration::from_secs(2);

/// A consumer positioned where the table left off.
pub struct Source {
    consumer: StreamConsumer,
    topic: String,
    partitions: Vec<i32>,
}

impl Source {
    /// Connects and assigns every partition of the topic at `offsets` (the beginning for partitions the table has
    /// never seen). Waits, logging, while the topic does not exist yet.
    pub async fn assign(
        config: &Config,
        offsets: &Offsets,
        shutdown: &CancellationToken,
    ) -> Result<Self, Error> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.kafka_bootstrap_servers)
            .set("group.id", &config.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .create()
            .map_err(|source| Error::Kafka {
                servers: config.kafka_bootstrap_servers.clone(),
                source,
            })?;
        let partitions = loop {
            // Blocks for at most METADATA_TIMEOUT, once at start.
            match topic_partitions(&consumer, &config.topic) {
                Ok(partitions) if !partitions.is_empty() => break partitions,
                Ok(_) => tracing::info!(topic = %config.topic, "waiting for the topic to be created"),
                Err(error) => tracing::warn!(topic = %config.topic, %error, "cannot read topic metadata yet"),
            }
            tokio::select! {
                () = tokio::time::sleep(TOPIC_RETRY_DELAY) => {}
                () = shutdown.cancelled() => return Err(Error::ShutdownBeforeCommit { rows: 0 }),
            }
        };
        let mut assignment = TopicPartitionList::new();
        for &partition in &partitions {
            let offset = offsets
                .next
                .get(&partition)
                .map_or(Offset::Beginning, |&next| Offset::Offset(next));
            assignment
                .add_partition_offset(&config.topic, partition, offset)
                .map_err(|source| Error::Kafka {
                    servers: config.kafka_bootstrap_servers.clone(),
                    source,
                })?;
        }
        consumer.assign(&assignment).map_err(|source| Error::Kafka {
            servers: config.kafka_bootstrap_servers.clone(),
            source,
        })?;
        tracing::info!(topic = %config.topic, ?partitions, offsets = ?offsets.next, "assigned");
        Ok(Self {
            consumer,
            topic: config.topic.clone(),
            partitions,
        })
    }

    /// The consumer, to receive messages from.
    pub fn consumer(&self) -> &StreamConsumer {
        &self.consumer
    }

    /// Tells the consumer group how far the table is, for monitoring tools; failures are only logged.
    pub fn report_committed(&self, offsets: &Offsets) {
        let mut list = TopicPartitionList::new();
        for (&partition, &next) in &offsets.next {
            if list
                .add_partition_offset(&self.topic, partition, Offset::Offset(next))
                .is_err()
            {
                return;
            }
        }
        if let Err(error) = self.consumer.commit(&list, CommitMode::Async) {
            tracing::debug!(%error, "committing offsets to the consumer group failed (monitoring only)");
        }
    }

    /// High watermark minus `offsets` for every assigned partition.
    pub fn lag(&self, offsets: &Offsets) -> Vec<(i32, i64)> {
        self.partitions
            .iter()
            .filter_map(|&partition| {
                let (_, high) = self
                    .consumer
                    .fetch_watermarks(&self.topic, partition, Duration::from_secs(5))
                    .ok()?;
                let next = offsets.next.get(&partition).copied().unwrap_or(0);
                Some((partition, (high - next).max(0)))
            })
            .collect()
    }
}

fn topic_partitions(consumer: &StreamConsumer, topic: &str) -> Result<Vec<i32>, rdkafka::error::KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
}

/// What one message holds.
#[derive(Debug)]
pub enum Decoded {
    /// A valid event.
    Row(BronzeRow),
    /// Not a valid event: goes to the dead-letter topic.
    Invalid(DeadLetter),
}

/// Decodes one message's payload. The row keeps the payload exactly as read.
pub fn decode(payload: Option<&[u8]>, kafka_partition: i32, kafka_offset: i64) -> Decoded {
    match PublishedEvent::from_kafka_message(payload, "neptune", kafka_partition, kafka_offset) {
        Ok((event, text)) => Decoded::Row(BronzeRow {
            event,
            raw_payload: text.to_owned(),
            kafka_partition,
            kafka_offset,
        }),
        Err(letter) => Decoded::Invalid(*letter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_dead_letters_what_is_not_an_event() {
        for payload in [&b"not json"[..], b"{\"device_id\": 1}", b"\xff\xfe", b""] {
            match decode(Some(payload), 3, 42) {
                Decoded::Invalid(letter) => {
                    assert_eq!(letter.kafka_partition, Some(3));
                    assert_eq!(letter.kafka_offset, Some(42));
                    assert_eq!(letter.source, "neptune");
                }
                Decoded::Row(row) => panic!("decoded {payload:?} as {row:?}"),
            }
        }
    }
}
