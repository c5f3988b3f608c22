//! The Kafka sink: publishes events (key = session id) and dead letters with `acks=all` and idempotence, and
//! bounds how many wait for acknowledgement so that a slow or absent broker back-pressures the sockets instead
//! of filling memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use packetpulse_model::{DeadLetter, PublishedEvent};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Config, Error};

/// Publishes to the events topic and the dead-letter topic.
pub struct Publisher {
    producer: FutureProducer,
    topic: String,
    dead_letter_topic: String,
    bootstrap_servers: String,
    /// One permit per message waiting for Kafka; see the module docs.
    in_flight: Arc<Semaphore>,
}

/// Room for `n` messages in the producer, reserved before enqueueing them.
pub struct Reservation(OwnedSemaphorePermit);

/// One enqueued message; resolves when Kafka acknowledged it or gave up.
pub struct PendingDelivery {
    delivery: Result<DeliveryFuture, String>,
    _permit: OwnedSemaphorePermit,
}

impl PendingDelivery {
    /// Waits for Kafka's verdict until `deadline`: `Ok` once the broker has the message, or why not.
    pub async fn acknowledged_by(self, deadline: tokio::time::Instant) -> Result<(), String> {
        let delivery = self.delivery?;
        match tokio::time::timeout_at(deadline, delivery).await {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err((error, _)))) => Err(describe(&error)),
            Ok(Err(_)) => Err("the producer was shut down before Kafka answered".into()),
            Err(_) => Err("Kafka did not acknowledge within the delivery timeout".into()),
        }
    }
}

impl Publisher {
    /// Creates the producer; no connection is made yet.
    pub fn new(config: &Config) -> Result<Self, Error> {
        // Headroom over the permits so the producer queue itself never reports "full".
        let queue_capacity =
            (config.max_events_in_flight + config.max_events_in_flight / 10 + 1000).to_string();
        let mut client = ClientConfig::new();
        if config.kafka_idempotence {
            client.set("enable.idempotence", "true");
        } else {
            client
                .set("enable.idempotence", "false")
                .set("max.in.flight.requests.per.connection", "1");
        }
        let producer: FutureProducer = client
            .set("bootstrap.servers", &config.kafka_bootstrap_servers)
            .set("client.id", "venus")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", config.kafka_linger_ms.to_string())
            // Never expire queued messages: an expired message forces the idempotent producer to bump its epoch,
            // which some brokers (tansu) refuse, wedging the producer. The delivery timeout is enforced per
            // frame by `PendingDelivery::acknowledged_by` instead; the message stays queued and is delivered when
            // the broker returns, so a client's resend is a duplicate with the same event id, which the
            // downstream layers drop.
            .set("message.timeout.ms", "0")
            .set("queue.buffering.max.messages", &queue_capacity)
            // Reconnect within a second of the broker's return (librdkafka's default backs off up to 10 s).
            .set("reconnect.backoff.max.ms", "1000")
            .create()
            .map_err(|e| kafka_error(config, e))?;
        Ok(Self {
            producer,
            topic: config.topic.clone(),
            dead_letter_topic: config.dead_letter_topic.clone(),
            bootstrap_servers: config.kafka_bootstrap_servers.clone(),
            in_flight: Arc::new(Semaphore::new(config.max_events_in_flight)),
        })
    }

    /// Creates the events and dead-letter topics if they do not exist yet.
    pub async fn ensure_topics(&self, config: &Config) -> Result<(), Error> {
        let existing = self
            .existing_topics(Duration::from_secs(10))
            .await
            .map_err(|message| Error::Kafka {
                bootstrap_servers: self.bootstrap_servers.clone(),
                message,
            })?;
        let replication = || TopicReplication::Fixed(config.topic_replication);
        let wanted = [
            NewTopic::new(&config.topic, config.topic_partitions, replication()),
            NewTopic::new(&config.dead_letter_topic, 1, replication()),
        ];
        let missing: Vec<&NewTopic<'_>> = wanted
            .iter()
            .filter(|t| !existing.contains(&t.name.to_owned()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &config.kafka_bootstrap_servers)
            .create()
            .map_err(|e| kafka_error(config, e))?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics(missing, &options)
            .await
            .map_err(|e| kafka_error(config, e))?;
        for result in results {
            match result {
                Ok(topic) => tracing::info!(topic, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(Error::Kafka {
                        bootstrap_servers: self.bootstrap_servers.clone(),
                        message: format!("creating topic {topic}: {code}"),
                    });
                }
            }
        }
        Ok(())
    }

    async fn existing_topics(&self, timeout: Duration) -> Result<Vec<String>, String> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(None, timeout)
                .map_err(|e| describe(&e))?;
            Ok(metadata.topics().iter().map(|t| t.name().to_owned()).collect())
        })
        .await
        .map_err(|e| format!("metadata task failed: {e}"))?
    }

    /// Whether the broker answers a metadata request within 2 s (for `/ready`).
    pub async fn is_reachable(&self) -> bool {
        self.existing_topics(Duration::from_secs(2)).await.is_ok()
    }

    /// Waits until `messages` more messages may be enqueued. This wait is the back-pressure: while it lasts
    /// the session reads no more frames from its socket.
    pub async fn reserve(&self, messages: usize) -> Reservation {
        let n = u32::try_from(messages).unwrap_or(u32::MAX);
        Reservation(
            self.in_flight
                .clone()
                .acquire_many_owned(n)
                .await
                .expect("the semaphore is never closed"),
        )
    }

    /// Enqueues one valid event, using one message of `reservation`.
    pub fn publish(&self, event: &PublishedEvent, reservation: &mut Reservation) -> PendingDelivery {
        let payload = event.to_json();
        let record = FutureRecord::to(&self.topic)
            .key(&event.event.session_id)
            .payload(&payload);
        self.enqueue(record, reservation)
    }

    /// Enqueues one dead letter, using one message of `reservation`.
    pub fn dead_letter(&self, letter: &DeadLetter, reservation: &mut Reservation) -> PendingDelivery {
        let payload = letter.to_json();
        self.enqueue(
            FutureRecord::<(), _>::to(&self.dead_letter_topic).payload(&payload),
            reservation,
        )
    }

    fn enqueue<K: rdkafka::message::ToBytes + ?Sized>(
        &self,
        record: FutureRecord<'_, K, String>,
        reservation: &mut Reservation,
    ) -> PendingDelivery {
        let permit = reservation
            .0
            .split(1)
            .expect("the reservation covers every message of the frame");
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(error, _)| describe(&error));
        PendingDelivery {
            delivery,
            _permit: permit,
        }
    }

    /// Waits until everything enqueued is acknowledged, up to `timeout` (graceful shutdown).
    pub async fn flush(&self, timeout: Duration) {
        let producer = self.producer.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        match result {
            Ok(Ok(())) => tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "producer flushed"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "producer flush incomplete"),
            Err(e) => tracing::warn!(error = %e, "producer flush task failed"),
        }
    }
}

/// Kafka's error in words a client can act on.
fn describe(error: &KafkaError) -> String {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::QueueFull) => "the gateway's producer queue is full".into(),
        _ => error.to_string(),
    }
}

fn kafka_error(config: &Config, error: KafkaError) -> Error {
    Error::Kafka {
        bootstrap_servers: config.kafka_bootstrap_servers.clone(),
        message: error.to_string(),
    }
}
