//! A producer whose sends are awaited as a group: a consuming planet sends what a batch produced (dead letters,
//! alerts), then waits until Kafka has all of it before committing offsets past the batch, so a crash can repeat
//! a record but never lose one.

use futures::future::try_join_all;
use rdkafka::ClientConfig;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

/// A topic could not be reached or refused a record.
#[derive(Debug, thiserror::Error)]
#[error("topic {topic}: {message}")]
pub struct ProduceError {
    /// The topic.
    pub topic: String,
    /// What went wrong.
    pub message: String,
}

/// Sends records to one topic and tracks the ones not yet acknowledged.
pub struct AckedProducer {
    producer: FutureProducer,
    topic: String,
    pending: Vec<DeliveryFuture>,
}

impl AckedProducer {
    /// A producer for `topic` on `bootstrap_servers`.
    pub fn new(bootstrap_servers: &str, topic: &str) -> Result<Self, ProduceError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("acks", "all")
            // Never expire: the commit waits for these, so a slow broker back-pressures instead of losing them.
            .set("message.timeout.ms", "0")
            .create()
            .map_err(|error| ProduceError {
                topic: topic.to_owned(),
                message: format!("Kafka at {bootstrap_servers}: {error}"),
            })?;
        Ok(Self {
            producer,
            topic: topic.to_owned(),
            pending: Vec::new(),
        })
    }

    /// Queues one record.
    pub fn send(&mut self, key: Option<&[u8]>, payload: &[u8]) -> Result<(), ProduceError> {
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(source, _)| self.error(source.to_string()))?;
        self.pending.push(delivery);
        Ok(())
    }

    /// Waits until Kafka has every record sent so far.
    pub async fn acknowledged(&mut self) -> Result<(), ProduceError> {
        let pending = std::mem::take(&mut self.pending);
        let results = try_join_all(pending)
            .await
            .map_err(|_| self.error("the producer was dropped".to_owned()))?;
        for result in results {
            result.map_err(|(source, _)| self.error(source.to_string()))?;
        }
        Ok(())
    }

    fn error(&self, message: String) -> ProduceError {
        ProduceError {
            topic: self.topic.clone(),
            message,
        }
    }
}
