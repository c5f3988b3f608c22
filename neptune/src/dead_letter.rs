//! The dead-letter sink: messages that are not valid events go to `sessions.dlq`. Every delivery is awaited before
//! the commit that moves the offsets past the message, so a crash can repeat a dead letter but never lose one.

use futures::future::try_join_all;
use packetpulse_model::DeadLetter;
use rdkafka::ClientConfig;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use crate::Error;
use crate::config::Config;

/// Sends dead letters and tracks the ones not yet acknowledged.
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    pending: Vec<DeliveryFuture>,
}

impl DeadLetters {
    /// A producer for the configured dead-letter topic.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &config.kafka_bootstrap_servers)
            .set("acks", "all")
            // Never expire: the commit waits for these, so a slow broker back-pressures instead of losing them.
            .set("message.timeout.ms", "0")
            .create()
            .map_err(|source| Error::Kafka {
                servers: config.kafka_bootstrap_servers.clone(),
                source,
            })?;
        Ok(Self {
            producer,
            topic: config.dead_letter_topic.clone(),
            pending: Vec::new(),
        })
    }

    /// Queues one dead letter.
    pub fn send(&mut self, letter: &DeadLetter) -> Result<(), Error> {
        tracing::warn!(reason = %letter.reason, partition = ?letter.kafka_partition, offset = ?letter.kafka_offset,
            "dead-lettering a message that is not a valid event");
        let payload = letter.to_json();
        let record = FutureRecord::<(), _>::to(&self.topic).payload(&payload);
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(source, _)| Error::DeadLetter(source.to_string()))?;
        self.pending.push(delivery);
        Ok(())
    }

    /// Waits until Kafka has every dead letter sent so far.
    pub async fn acknowledged(&mut self) -> Result<(), Error> {
        let pending = std::mem::take(&mut self.pending);
        let results = try_join_all(pending)
            .await
            .map_err(|_| Error::DeadLetter("the producer was dropped".to_owned()))?;
        for result in results {
            result.map_err(|(source, _)| Error::DeadLetter(source.to_string()))?;
        }
        Ok(())
    }
}
