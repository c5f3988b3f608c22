//! Kafka plumbing shared by every planet that reads the `sessions` topic (Neptune, Jupiter, Mercury's live feed):
//! one way to configure a consumer, wait for the topic, assign partitions at stored offsets or join a group,
//! read messages, commit and measure lag; plus the dead-letter producer ([`dead_letter`]).
//!
//! One rule for librdkafka's blocking calls (metadata, watermarks, each a broker round trip of up to seconds):
//! they run on tokio's blocking pool ([`Consumer::partitions`], [`lag`]), never on an async worker.

pub mod acked;
pub mod admin;
pub mod compacted;
pub mod dead_letter;
pub mod lag;
mod rebalance;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

pub use rebalance::RebalanceLog;

/// The librdkafka consumer every planet uses: rebalances are recorded for [`Consumer::take_revoked`].
pub type RawConsumer = StreamConsumer<RebalanceLog>;

/// How long one metadata request may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often [`Consumer::close`] looks whether the other clones are gone.
const CLOSE_POLL: Duration = Duration::from_millis(20);
/// Pause between looks for a topic that does not exist yet.
const TOPIC_RETRY_DELAY: Duration = Duration::from_secs(2);

/// Kafka could not be reached or refused an operation: the one shape of every planet's Kafka error.
#[derive(Debug, thiserror::Error)]
#[error("Kafka at {servers}: {what}: {source} — is it running? see infrastructure/local (make up)")]
pub struct KafkaError {
    /// The configured bootstrap servers.
    pub servers: String,
    /// What was being done, e.g. `creating the consumer`.
    pub what: String,
    /// librdkafka's error (boxed: it is large, and errors travel through every `Result`).
    pub source: Box<rdkafka::error::KafkaError>,
}

impl KafkaError {
    /// An error of `servers` while doing `what`.
    pub fn new(servers: &str, what: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Self {
            servers: servers.to_owned(),
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// The settings of a consumer: offsets are never committed behind the planet's back (no auto-commit, no
/// auto-store), a partition without a committed offset starts at its beginning, and no end-of-partition events.
/// Further librdkafka properties with [`ConsumerConfig::set`].
pub struct ConsumerConfig {
    servers: String,
    client: ClientConfig,
}

impl ConsumerConfig {
    /// A consumer of `bootstrap_servers` in group `group` (the group only names the consumer when partitions
    /// are assigned directly).
    pub fn new(bootstrap_servers: &str, group: &str) -> Self {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", bootstrap_servers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        Self {
            servers: bootstrap_servers.to_owned(),
            client,
        }
    }

    /// Sets a librdkafka property.
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.client.set(key, value);
        self
    }

    /// Creates the consumer; no connection is made yet.
    pub fn create(self) -> Result<Consumer, KafkaError> {
        let inner: RawConsumer = self
            .client
            .create_with_context(RebalanceLog::default())
            .map_err(|source| KafkaError::new(&self.servers, "creating the consumer", source))?;
        Ok(Consumer {
            inner: Arc::new(inner),
            servers: self.servers,
        })
    }
}

/// The partition librdkafka's `consistent_random` partitioner (its default, which Venus sets explicitly) gives a
/// non-empty `key` among `partitions`: CRC-32 of the key modulo the partition count.
pub fn partition_of(key: &[u8], partitions: usize) -> i32 {
    let partitions = u32::try_from(partitions.max(1)).unwrap_or(u32::MAX);
    i32::try_from(crc32fast::hash(key) % partitions).unwrap_or(0)
}

/// A consumer of its own (group `{group_prefix}-{random}`, never joined, nothing committed) assigned every
/// partition of `topic` at its end, fetching with at most `fetch_wait_ms` of batching delay: every instance sees
/// every record from now on (live views). `None` when `shutdown` came before the topic existed.
pub async fn from_the_end(
    bootstrap_servers: &str,
    topic: &str,
    group_prefix: &str,
    fetch_wait_ms: u32,
    shutdown: &CancellationToken,
) -> Result<Option<Consumer>, KafkaError> {
    let group = format!("{group_prefix}-{}", uuid::Uuid::new_v4());
    let consumer = ConsumerConfig::new(bootstrap_servers, &group)
        .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
        .create()?;
    let Some(partitions) = consumer.partitions(topic, shutdown).await else {
        return Ok(None);
    };
    // Assigned directly, without joining the group: reading starts within one metadata round trip.
    consumer.assign(topic, &partitions, |_| Offset::End)?;
    tracing::info!(%topic, partitions = partitions.len(), "consuming from the end");
    Ok(Some(consumer))
}

/// A consumer of one topic. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<RawConsumer>,
    servers: String,
}

impl Consumer {
    /// The partitions of `topic`, waiting (and logging every [`TOPIC_RETRY_DELAY`]) while it does not exist
    /// yet or the broker cannot be reached; `None` when `shutdown` came first.
    pub async fn partitions(&self, topic: &str, shutdown: &CancellationToken) -> Option<Vec<i32>> {
        loop {
            let inner = self.inner.clone();
            let name = topic.to_owned();
            let found = tokio::task::spawn_blocking(move || topic_partitions(&inner, &name)).await;
            match found {
                Ok(Ok(partitions)) if !partitions.is_empty() => return Some(partitions),
                Ok(Ok(_)) => tracing::info!(%topic, "waiting for the topic to be created"),
                Ok(Err(error)) => tracing::warn!(%topic, %error, "cannot read the topic's metadata yet"),
                Err(error) => tracing::warn!(%topic, %error, "metadata task failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(TOPIC_RETRY_DELAY) => {}
                () = shutdown.cancelled() => return None,
            }
        }
    }

    /// Assigns `partitions` of `topic` directly (no group membership), each at `start(partition)`.
    pub fn assign(
        &self,
        topic: &str,
        partitions: &[i32],
        start: impl Fn(i32) -> Offset,
    ) -> Result<(), KafkaError> {
        let mut assignment = TopicPartitionList::new();
        for &partition in partitions {
            assignment
                .add_partition_offset(topic, partition, start(partition))
                .map_err(|source| self.error("assigning partitions", source))?;
        }
        self.inner
            .assign(&assignment)
            .map_err(|source| self.error("assigning partitions", source))
    }

    /// Joins the consumer group on `topic`: the group shares the partitions among its members and starts each
    /// at the group's committed offset.
    pub fn subscribe(&self, topic: &str) -> Result<(), KafkaError> {
        self.inner
            .subscribe(&[topic])
            .map_err(|source| self.error("subscribing", source))
    }

    /// The next message. Read errors (broker unreachable and the like) are logged and skipped: librdkafka keeps
    /// retrying underneath, so a consuming loop just waits for the next message.
    pub async fn next_message(&self) -> BorrowedMessage<'_> {
        loop {
            match self.inner.recv().await {
                Ok(message) => return message,
                Err(error) => tracing::warn!(%error, "reading from Kafka"),
            }
        }
    }

    /// Hands every message's payload and offset to `handle` until `shutdown` (messages without a payload are
    /// skipped): the whole loop of a live view.
    pub async fn for_each_payload(&self, shutdown: &CancellationToken, mut handle: impl FnMut(&[u8], i64)) {
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => return,
                message = self.next_message() => message,
            };
            if let Some(payload) = rdkafka::Message::payload(&message) {
                handle(payload, rdkafka::Message::offset(&message));
            }
        }
    }

    /// Commits `next` (partition → next offset to read) of `topic` to the group, without waiting. A failed
    /// commit is only logged: every planet keeps its own truth and re-reads what a lost commit leaves behind.
    pub fn commit(&self, topic: &str, next: &BTreeMap<i32, i64>) {
        let mut list = TopicPartitionList::new();
        for (&partition, &offset) in next {
            if let Err(error) = list.add_partition_offset(topic, partition, Offset::Offset(offset)) {
                tracing::warn!(%error, "committing offsets failed; they may be read again");
                return;
            }
        }
        if let Err(error) = self.inner.commit(&list, CommitMode::Async) {
            tracing::warn!(%error, "committing offsets failed; they may be read again");
        }
    }

    /// The partitions of `topic` the group took from this consumer since the last call (empty without a group).
    /// A message received after a revocation is already read under the new assignment, so a planet holding
    /// state per partition asks before handling each message.
    pub fn take_revoked(&self, topic: &str) -> Vec<i32> {
        self.inner.context().take_revoked(topic)
    }

    /// The partitions of `topic` the group has assigned to this consumer now (empty without a group).
    pub fn assigned(&self, topic: &str) -> Vec<i32> {
        self.inner.context().assigned(topic)
    }

    /// The consumer's fetch position in each partition of `topic` assigned to it (blocking-free: local state).
    pub fn positions(&self, topic: &str) -> BTreeMap<i32, i64> {
        let Ok(positions) = self.inner.position() else {
            return BTreeMap::new();
        };
        positions
            .elements_for_topic(topic)
            .iter()
            .filter_map(|element| match element.offset() {
                Offset::Offset(position) => Some((element.partition(), position)),
                _ => None,
            })
            .collect()
    }

    /// Leaves the group (when subscribed) and closes the connections, once every other clone is gone: tasks
    /// just aborted, blocking calls finishing. Clones still held after `timeout` are logged and left to close
    /// it when they go. A planet calls this before `run` returns: an instance that leaves late, after its
    /// replacement joined, holds the group in a rebalance (tansu 0.6 never finishes it; docs/ARCHITECTURE.md).
    pub async fn close(self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut inner = self.inner;
        loop {
            match Arc::try_unwrap(inner) {
                // Dropping it leaves the group and waits for the broker's answer: blocking.
                Ok(last) => {
                    if let Err(error) = tokio::task::spawn_blocking(move || drop(last)).await {
                        tracing::warn!(%error, "closing the consumer failed");
                    }
                    return;
                }
                Err(shared) if tokio::time::Instant::now() >= deadline => {
                    tracing::warn!(
                        clones = Arc::strong_count(&shared) - 1,
                        "consumer still shared at shutdown; the last clone closes it"
                    );
                    return;
                }
                Err(shared) => {
                    inner = shared;
                    tokio::time::sleep(CLOSE_POLL).await;
                }
            }
        }
    }

    /// The librdkafka consumer, for what this module does not wrap. Its blocking calls belong on the blocking
    /// pool.
    pub fn raw(&self) -> &Arc<RawConsumer> {
        &self.inner
    }

    fn error(&self, what: &str, source: rdkafka::error::KafkaError) -> KafkaError {
        KafkaError::new(&self.servers, what, source)
    }
}

/// The partitions of `topic` as the broker reports them (empty while it does not exist). Blocks.
fn topic_partitions(consumer: &RawConsumer, topic: &str) -> Result<Vec<i32>, rdkafka::error::KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A consumer that never connects: nothing here needs a broker.
    fn unconnected() -> Consumer {
        ConsumerConfig::new("127.0.0.1:1", "close-test").create().unwrap()
    }

    #[tokio::test]
    async fn close_waits_until_the_other_clones_are_gone() {
        let consumer = unconnected();
        let clone = consumer.clone();
        let (releasing, mut released) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            // Let close() look first, so it has a clone to wait for.
            tokio::task::yield_now().await;
            releasing.send(()).unwrap();
            drop(clone);
        });
        consumer.close(Duration::from_secs(60)).await;
        assert!(released.try_recv().is_ok(), "closed while a clone was held");
    }

    #[tokio::test]
    async fn close_gives_up_after_its_timeout_and_leaves_the_clone_working() {
        let consumer = unconnected();
        let clone = consumer.clone();
        consumer.close(Duration::from_millis(50)).await;
        assert_eq!(Arc::strong_count(clone.raw()), 1);
        assert!(clone.assigned("any").is_empty());
    }
}
