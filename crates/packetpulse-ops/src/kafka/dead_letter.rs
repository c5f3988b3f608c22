//! The dead-letter sink of the consuming planets: Kafka messages that are not valid events go to `sessions.dlq`.
//! A consumer awaits every delivery before committing offsets past the message, so a crash can repeat a dead
//! letter but never lose one.

use futures::future::try_join_all;
use packetpulse_model::DeadLetter;
use rdkafka::ClientConfig;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

/// The dead-letter topic could not be reached or refused a message.
#[derive(Debug, thiserror::Error)]
#[error("dead-letter topic: {0}")]
pub struct DeadLetterError(String);

/// Sends dead letters and tracks the ones not yet acknowledged.
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    pending: Vec<DeliveryFuture>,
}

impl DeadLetters {
    /// A producer for `topic` on `bootstrap_servers`.
    pub fn new(bootstrap_servers: &str, topic: &str) -> Result<Self, DeadLetterError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("acks", "all")
            // Never expire: the commit waits for these, so a slow broker back-pressures instead of losing them.
            .set("message.timeout.ms", "0")
            .create()
            .map_err(|error| DeadLetterError(format!("Kafka at {bootstrap_servers}: {error}")))?;
        Ok(Self {
            producer,
            topic: topic.to_owned(),
            pending: Vec::new(),
        })
    }

    /// Queues one dead letter.
    pub fn send(&mut self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        tracing::warn!(reason = %letter.reason, partition = ?letter.kafka_partition, offset = ?letter.kafka_offset,
            "dead-lettering refused input");
        let payload = letter.to_json();
        let record = FutureRecord::<(), _>::to(&self.topic).payload(&payload);
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(source, _)| DeadLetterError(source.to_string()))?;
        self.pending.push(delivery);
        Ok(())
    }

    /// Waits until Kafka has every dead letter sent so far.
    pub async fn acknowledged(&mut self) -> Result<(), DeadLetterError> {
        let pending = std::mem::take(&mut self.pending);
        let results = try_join_all(pending)
            .await
            .map_err(|_| DeadLetterError("the producer was dropped".to_owned()))?;
        for result in results {
            result.map_err(|(source, _)| DeadLetterError(source.to_string()))?;
        }
        Ok(())
    }
}
