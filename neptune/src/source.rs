//! The source: the `sessions` topic, every partition assigned explicitly at the offsets the table holds (not at
//! the group's committed offsets), and each message decoded into a bronze row or a dead letter.

use packetpulse_model::{DeadLetter, PublishedEvent};
use packetpulse_ops::kafka::{Consumer, ConsumerConfig};
use rdkafka::Offset;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;
use crate::offsets::Offsets;
use crate::schema::BronzeRow;

/// A consumer positioned where the table left off.
pub struct Source {
    consumer: Consumer,
    topic: String,
    partitions: Vec<i32>,
}

impl Source {
    /// Connects and assigns every partition of the topic `rewind` offsets before `offsets` (the beginning for
    /// partitions the table has never seen; the earliest kept when fewer are left), so the pipeline can re-read
    /// the dedup window. Waits, logging, while the topic does not exist yet.
    pub async fn assign(
        config: &Config,
        offsets: &Offsets,
        rewind: i64,
        shutdown: &CancellationToken,
    ) -> Result<Self, Error> {
        let consumer = ConsumerConfig::new(&config.kafka_bootstrap_servers, &config.group).create()?;
        let Some(partitions) = consumer.partitions(&config.topic, shutdown).await else {
            return Err(Error::ShutdownBeforeCommit { rows: 0 });
        };
        consumer.assign(&config.topic, &partitions, |partition| {
            offsets.next.get(&partition).map_or(Offset::Beginning, |&next| {
                // Below the earliest offset kept, librdkafka resets to it (`auto.offset.reset=earliest`).
                Offset::Offset(next.saturating_sub(rewind).max(0))
            })
        })?;
        tracing::info!(topic = %config.topic, ?partitions, offsets = ?offsets.next, "assigned");
        Ok(Self {
            consumer,
            topic: config.topic.clone(),
            partitions,
        })
    }

    /// The consumer, to receive messages from.
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// Tells the consumer group how far the table is, for monitoring tools; failures are only logged.
    pub fn report_committed(&self, offsets: &Offsets) {
        self.consumer.commit(&self.topic, &offsets.next);
    }

    /// Publishes lag per partition, measured against the offsets committed to the table (`committed` follows
    /// every commit), until the returned task is aborted.
    pub fn monitor_lag(
        &self,
        committed: tokio::sync::watch::Receiver<Offsets>,
        gauge: prometheus::IntGaugeVec,
    ) -> tokio::task::JoinHandle<()> {
        let partitions = self.partitions.clone();
        packetpulse_ops::kafka::lag::spawn_monitor(
            self.consumer.clone(),
            self.topic.clone(),
            move |_| {
                let offsets = committed.borrow();
                partitions
                    .iter()
                    .map(|&partition| (partition, offsets.next.get(&partition).copied().unwrap_or(0)))
                    .collect()
            },
            gauge,
        )
    }
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
