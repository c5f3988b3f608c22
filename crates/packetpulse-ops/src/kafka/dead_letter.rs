//! The dead-letter sink of the consuming planets: Kafka messages that are not valid events go to `sessions.dlq`.
//! A consumer awaits every delivery before committing offsets past the message, so a crash can repeat a dead
//! letter but never lose one.

use packetpulse_model::DeadLetter;

use super::acked::{AckedProducer, ProduceError};

/// The dead-letter topic could not be reached or refused a message.
#[derive(Debug, thiserror::Error)]
#[error("dead-letter {0}")]
pub struct DeadLetterError(#[from] ProduceError);

/// Sends dead letters and tracks the ones not yet acknowledged.
pub struct DeadLetters(AckedProducer);

impl DeadLetters {
    /// A producer for `topic` on `bootstrap_servers`.
    pub fn new(bootstrap_servers: &str, topic: &str) -> Result<Self, DeadLetterError> {
        Ok(Self(AckedProducer::new(bootstrap_servers, topic)?))
    }

    /// Queues one dead letter.
    pub fn send(&mut self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        tracing::warn!(reason = %letter.reason, partition = ?letter.kafka_partition, offset = ?letter.kafka_offset,
            "dead-lettering refused input");
        Ok(self.0.send(None, letter.to_json().as_bytes())?)
    }

    /// Waits until Kafka has every dead letter sent so far.
    pub async fn acknowledged(&mut self) -> Result<(), DeadLetterError> {
        Ok(self.0.acknowledged().await?)
    }
}
