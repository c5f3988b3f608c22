//! The Kafka sink: publishes events (key = session id) and dead letters with `acks=all` and idempotence, and
//! bounds how many wait for acknowledgement so that a slow or absent broker back-pressures the sockets instead
//! of filling memory.
//!
//! Kafka's verdicts are collected per frame ([`FrameDelivery`]): the producer's delivery callback records each
//! message's outcome in its frame and wakes the frame's reply once the last one is in, so a 500-event frame
//! costs one wake-up rather than 500 futures.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use packetpulse_model::{DeadLetter, PublishedEvent};
use packetpulse_ops::kafka::KafkaError;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::{Config, Error};

type KafkaProducer = ThreadedProducer<DeliveryContext>;

/// Publishes to the events topic and the dead-letter topic.
pub struct Publisher {
    producer: Arc<KafkaProducer>,
    topic: String,
    dead_letter_topic: String,
    bootstrap_servers: String,
    /// One permit per message waiting for Kafka; see the module docs.
    in_flight: Arc<Semaphore>,
    /// One permit per byte waiting for Kafka.
    in_flight_bytes: Arc<Semaphore>,
    max_bytes_in_flight: usize,
}

/// Room for a frame's messages and bytes in the producer, reserved before enqueueing them; released as soon as
/// Kafka has answered for all of them (or the frame gave up waiting), whether or not its reply was sent yet:
/// a client that does not read its replies holds no room another client needs.
pub struct Reservation {
    _messages: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// What Kafka said about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not answered yet.
    Waiting,
    /// The broker has it.
    Acknowledged,
    /// Kafka did not take it, and why.
    Failed(String),
}

/// Kafka's verdicts on the messages of one frame, in the order they were enqueued.
pub struct FrameDelivery {
    verdicts: Mutex<Verdicts>,
    all_in: Notify,
}

struct Verdicts {
    each: Vec<Verdict>,
    waiting: usize,
    /// The frame's room in the producer, given back with the last verdict.
    reservation: Option<Reservation>,
}

impl FrameDelivery {
    /// A frame of `messages` messages, none answered yet, holding `reservation` until all are.
    pub fn new(messages: usize, reservation: Reservation) -> Arc<Self> {
        Arc::new(Self {
            verdicts: Mutex::new(Verdicts {
                each: vec![Verdict::Waiting; messages],
                waiting: messages,
                reservation: (messages > 0).then_some(reservation),
            }),
            all_in: Notify::new(),
        })
    }

    /// Runs on the producer's polling thread: must not panic. A report arriving after the frame stopped
    /// waiting is too late to change the reply (the client was told to resend), but it still counts towards
    /// giving the frame's room back: until librdkafka has answered, the message is in its queue.
    fn record(&self, slot: usize, verdict: Verdict) {
        let mut verdicts = self.lock();
        if let Some(entry @ Verdict::Waiting) = verdicts.each.get_mut(slot) {
            *entry = verdict;
            verdicts.waiting -= 1;
            if verdicts.waiting == 0 {
                verdicts.reservation = None;
                self.all_in.notify_one();
            }
        }
    }

    /// Waits until Kafka answered for every message or `deadline` passed, then returns the verdicts (still
    /// `Waiting` for messages Kafka did not answer in time). The frame's room comes back with the last report,
    /// which librdkafka sends for every message within `message.timeout.ms`.
    pub async fn verdicts_by(&self, deadline: tokio::time::Instant) -> Vec<Verdict> {
        let all_in = async {
            loop {
                // Registered before checking, so a verdict landing in between still wakes us.
                let notified = self.all_in.notified();
                if self.lock().waiting == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout_at(deadline, all_in).await;
        self.lock().each.clone()
    }

    /// A panic while holding the lock cannot leave the verdicts half-written (each update is one assignment),
    /// so a poisoned lock is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Verdicts> {
        self.verdicts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Which frame, and which of its messages, a delivery report is about.
pub struct Slot {
    frame: Arc<FrameDelivery>,
    index: usize,
}

/// Routes librdkafka's delivery reports (on the producer's polling thread) to their frames.
pub struct DeliveryContext;

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Slot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Box<Slot>) {
        let verdict = match result {
            Ok(_) => Verdict::Acknowledged,
            Err((error, _)) => Verdict::Failed(describe(error)),
        };
        slot.frame.record(slot.index, verdict);
    }
}

impl Publisher {
    /// Creates the producer; no connection is made yet.
    pub fn new(config: &Config) -> Result<Self, Error> {
        // Headroom over the permits so the producer queue itself never reports "full".
        let queue_capacity =
            (config.max_events_in_flight + config.max_events_in_flight / 10 + 1000).to_string();
        let queue_kbytes = ((config.max_bytes_in_flight + config.max_bytes_in_flight / 10) / 1024 + 1024)
            .min(i32::MAX as usize)
            .to_string();
        let mut client = ClientConfig::new();
        if config.kafka_idempotence {
            client.set("enable.idempotence", "true");
        } else {
            client
                .set("enable.idempotence", "false")
                .set("max.in.flight.requests.per.connection", "1");
        }
        let producer: KafkaProducer = client
            .set("bootstrap.servers", &config.kafka_bootstrap_servers)
            .set("client.id", "venus")
            .set("acks", "all")
            .set("compression.type", &config.kafka_compression)
            // Spelled out because consumers rely on it: a session's partition is the CRC-32 of its id
            // (`packetpulse_ops::kafka::partition_of`), so Jupiter finds which sessions a gained partition holds.
            .set("partitioner", "consistent_random")
            .set("linger.ms", config.kafka_linger_ms.to_string())
            // The delivery timeout is librdkafka's own: when a frame is answered as retryable its messages have
            // left the producer's queue, so the client's resend is the only copy queued, not a second one.
            .set("message.timeout.ms", message_timeout_ms(config.delivery_timeout))
            .set("queue.buffering.max.messages", &queue_capacity)
            .set("queue.buffering.max.kbytes", &queue_kbytes)
            // Reconnect within a second of the broker's return (librdkafka's default backs off up to 10 s).
            .set("reconnect.backoff.max.ms", "1000")
            .create_with_context(DeliveryContext)
            .map_err(|e| kafka_error(config, "creating the producer", e))?;
        Ok(Self {
            producer: Arc::new(producer),
            topic: config.topic.clone(),
            dead_letter_topic: config.dead_letter_topic.clone(),
            bootstrap_servers: config.kafka_bootstrap_servers.clone(),
            in_flight: Arc::new(Semaphore::new(config.max_events_in_flight)),
            in_flight_bytes: Arc::new(Semaphore::new(config.max_bytes_in_flight)),
            max_bytes_in_flight: config.max_bytes_in_flight,
        })
    }

    /// Creates the events, dead-letter and device-revocation topics if they do not exist yet.
    pub async fn ensure_topics(&self, config: &Config) -> Result<(), Error> {
        let existing = self
            .existing_topics(Duration::from_secs(10))
            .await
            .map_err(|source| KafkaError::new(&self.bootstrap_servers, "listing topics", source))?;
        let replication = || TopicReplication::Fixed(config.topic_replication);
        let wanted = [
            NewTopic::new(&config.topic, config.topic_partitions, replication()),
            NewTopic::new(&config.dead_letter_topic, 1, replication()),
            // Compacted: the newest message per credential stays, so the topic holds every revocation ever made.
            NewTopic::new(&config.device_revocation_topic, 1, replication()).set("cleanup.policy", "compact"),
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
            .map_err(|e| kafka_error(config, "creating the admin client", e))?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics(missing, &options)
            .await
            .map_err(|e| kafka_error(config, "creating topics", e))?;
        for result in results {
            match result {
                Ok(topic) => tracing::info!(topic, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    let what = format!("creating topic {topic}");
                    return Err(
                        KafkaError::new(&self.bootstrap_servers, what, RdKafkaError::AdminOp(code)).into(),
                    );
                }
            }
        }
        Ok(())
    }

    /// The topics the broker knows. Blocks on a broker round trip, so it runs on the blocking pool.
    async fn existing_topics(&self, timeout: Duration) -> Result<Vec<String>, RdKafkaError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = producer.client().fetch_metadata(None, timeout)?;
            Ok(metadata.topics().iter().map(|t| t.name().to_owned()).collect())
        })
        .await
        .unwrap_or(Err(RdKafkaError::Canceled))
    }

    /// Whether the broker answers a metadata request within 2 s (for `/ready`).
    pub async fn is_reachable(&self) -> bool {
        self.existing_topics(Duration::from_secs(2)).await.is_ok()
    }

    /// Waits until `messages` more messages of `bytes` bytes in all may be enqueued. This wait is the
    /// back-pressure: while it lasts the session reads no more frames from its socket. A frame larger than the
    /// whole byte budget waits for all of it.
    pub async fn reserve(&self, messages: usize, bytes: usize) -> Reservation {
        let messages = u32::try_from(messages).unwrap_or(u32::MAX);
        let bytes = u32::try_from(bytes.min(self.max_bytes_in_flight)).unwrap_or(u32::MAX);
        let acquire = |semaphore: &Arc<Semaphore>, n| semaphore.clone().acquire_many_owned(n);
        Reservation {
            _messages: acquire(&self.in_flight, messages)
                .await
                .expect("the semaphore is never closed"),
            _bytes: acquire(&self.in_flight_bytes, bytes)
                .await
                .expect("the semaphore is never closed"),
        }
    }

    /// Enqueues one valid event as message `slot` of `frame`; `buffer` is scratch space for its JSON.
    pub fn publish(
        &self,
        event: &PublishedEvent,
        frame: &Arc<FrameDelivery>,
        slot: usize,
        buffer: &mut Vec<u8>,
    ) {
        buffer.clear();
        event.write_json(buffer);
        let record = BaseRecord::with_opaque_to(&self.topic, slot_of(frame, slot))
            .key(&event.event.session_id)
            .payload(buffer.as_slice());
        self.enqueue(record);
    }

    /// Enqueues one dead letter as message `slot` of `frame`.
    pub fn dead_letter(&self, letter: &DeadLetter, frame: &Arc<FrameDelivery>, slot: usize) {
        let payload = letter.to_json();
        self.enqueue(
            BaseRecord::<(), _, _>::with_opaque_to(&self.dead_letter_topic, slot_of(frame, slot))
                .payload(&payload),
        );
    }

    fn enqueue<K, P>(&self, record: BaseRecord<'_, K, P, Box<Slot>>)
    where
        K: rdkafka::message::ToBytes + ?Sized,
        P: rdkafka::message::ToBytes + ?Sized,
    {
        if let Err((error, record)) = self.producer.send(record) {
            let slot = record.delivery_opaque;
            slot.frame.record(slot.index, Verdict::Failed(describe(&error)));
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

fn slot_of(frame: &Arc<FrameDelivery>, index: usize) -> Box<Slot> {
    Box::new(Slot {
        frame: frame.clone(),
        index,
    })
}

/// Kafka's error in words a client can act on.
/// How long after the delivery timeout a frame still waits for librdkafka's reports: it looks for expired
/// messages about once a second, so their reports arrive shortly after the timeout, never before.
pub const REPORT_GRACE: Duration = Duration::from_secs(5);

/// `message.timeout.ms` for a delivery timeout; librdkafka reads 0 as "never", so the least is 1 ms.
fn message_timeout_ms(delivery_timeout: Duration) -> String {
    delivery_timeout
        .as_millis()
        .clamp(1, i32::MAX as u128)
        .to_string()
}

fn describe(error: &RdKafkaError) -> String {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::QueueFull) => "the gateway's producer queue is full".into(),
        Some(RDKafkaErrorCode::MessageTimedOut) => {
            "Kafka did not acknowledge within the delivery timeout".into()
        }
        _ => error.to_string(),
    }
}

fn kafka_error(config: &Config, what: &str, error: RdKafkaError) -> Error {
    KafkaError::new(&config.kafka_bootstrap_servers, what, error).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reservation of `permits` messages and bytes, and the semaphore they come from.
    fn reservation(permits: u32) -> (Reservation, Arc<Semaphore>) {
        let semaphore = Arc::new(Semaphore::new(2 * permits as usize));
        let take = || semaphore.clone().try_acquire_many_owned(permits).unwrap();
        let reservation = Reservation {
            _messages: take(),
            _bytes: take(),
        };
        (reservation, semaphore)
    }

    fn far_deadline() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn answers_once_every_message_has_a_verdict() {
        let (reservation, _) = reservation(3);
        let frame = FrameDelivery::new(3, reservation);
        frame.record(1, Verdict::Failed("broker said no".into()));
        frame.record(0, Verdict::Acknowledged);
        let waiting = {
            let frame = frame.clone();
            tokio::spawn(async move { frame.verdicts_by(far_deadline()).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one message is still unanswered");
        frame.record(2, Verdict::Acknowledged);
        assert_eq!(
            waiting.await.unwrap(),
            [
                Verdict::Acknowledged,
                Verdict::Failed("broker said no".into()),
                Verdict::Acknowledged
            ]
        );
    }

    #[test]
    fn the_room_comes_back_with_the_last_verdict_even_if_nobody_awaits_the_reply() {
        let (reservation, semaphore) = reservation(2);
        let frame = FrameDelivery::new(2, reservation);
        frame.record(0, Verdict::Acknowledged);
        assert_eq!(
            semaphore.available_permits(),
            0,
            "one message is still in the producer"
        );
        frame.record(1, Verdict::Failed("broker said no".into()));
        assert_eq!(semaphore.available_permits(), 4);
    }

    #[test]
    fn a_frame_without_messages_holds_no_room() {
        let (reservation, semaphore) = reservation(1);
        let _frame = FrameDelivery::new(0, reservation);
        assert_eq!(semaphore.available_permits(), 2);
    }

    #[tokio::test]
    async fn at_the_deadline_unanswered_messages_stay_waiting_and_keep_their_room_until_reported() {
        let (reservation, semaphore) = reservation(2);
        let frame = FrameDelivery::new(2, reservation);
        frame.record(0, Verdict::Acknowledged);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        let verdicts = frame.verdicts_by(deadline).await;
        assert_eq!(verdicts, [Verdict::Acknowledged, Verdict::Waiting]);
        assert_eq!(
            semaphore.available_permits(),
            0,
            "the unanswered message is still in the producer's queue"
        );
        frame.record(1, Verdict::Failed("Message timed out".into())); // after the reply: must not panic
        frame.record(7, Verdict::Acknowledged);
        assert_eq!(
            semaphore.available_permits(),
            4,
            "given back with the late report"
        );
    }

    #[tokio::test]
    async fn the_first_verdict_for_a_message_is_kept() {
        let (reservation, _) = reservation(1);
        let frame = FrameDelivery::new(1, reservation);
        frame.record(0, Verdict::Failed("first".into()));
        frame.record(0, Verdict::Acknowledged);
        let verdicts = frame.verdicts_by(far_deadline()).await;
        assert_eq!(verdicts, [Verdict::Failed("first".into())]);
    }
}
