//! Following a compacted topic as a table: assigned (not in a group) from its beginning, read to its end before
//! the planet serves, then followed for as long as it runs. Every instance sees every record; the key names
//! the row, a tombstone (no payload) deletes it. Venus follows credential revocations this way, Jupiter the
//! geofences dispatchers draw.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::Consumer as _;
use rdkafka::{Message, Offset};
use tokio_util::sync::CancellationToken;

use super::{Consumer, ConsumerConfig, KafkaError};

/// How long the broker may hold a fetch of a followed topic that has nothing new. A change then takes effect
/// within about a second (the requirement is 5 s). Shorter costs the broker on every idle fetch: with 100 ms the
/// five followers of a native stack (Venus' revocations, Jupiter's and Mercury's geofences and rules) made
/// tansu fetch 50 times a second for topics that rarely change.
pub const FETCH_WAIT_MS: u32 = 1000;

/// How long [`catch_up`] waits for the topic to be read to its end.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// One record of a compacted topic: its key and its payload (`None`: a tombstone).
pub struct Record<'a> {
    /// The row's key.
    pub key: Option<&'a [u8]>,
    /// Its new value, or `None` when it was deleted.
    pub payload: Option<&'a [u8]>,
}

/// Assigns every partition of `topic` from its beginning to a consumer of its own (group id
/// `{group_prefix}-{random}`, never committed) and hands each record to `apply` until the end offsets seen at
/// the start are passed — or [`CATCH_UP_TIMEOUT`], after which the rest arrives through [`follow`]. Returns the
/// consumer, ready to [`follow`].
pub async fn catch_up(
    bootstrap_servers: &str,
    topic: &str,
    group_prefix: &str,
    apply: &mut impl FnMut(Record<'_>),
    shutdown: &CancellationToken,
) -> Result<Consumer, KafkaError> {
    let consumer = ConsumerConfig::new(
        bootstrap_servers,
        &format!("{group_prefix}-{}", uuid::Uuid::new_v4()),
    )
    .set("fetch.wait.max.ms", FETCH_WAIT_MS.to_string())
    .create()?;
    let Some(partitions) = consumer.partitions(topic, shutdown).await else {
        return Ok(consumer);
    };
    consumer.assign(topic, &partitions, |_| Offset::Beginning)?;
    let ends = end_offsets(&consumer, topic, &partitions).await;
    let mut read: BTreeMap<i32, i64> = partitions.iter().map(|&p| (p, 0)).collect();
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    while ends
        .iter()
        .any(|(partition, end)| read.get(partition).is_some_and(|next| next < end))
    {
        let message = tokio::select! {
            message = consumer.next_message() => message,
            () = tokio::time::sleep_until(deadline) => {
                tracing::warn!(%topic, "not read to its end in time; following it from here");
                break;
            }
            () = shutdown.cancelled() => break,
        };
        apply(Record {
            key: message.key(),
            payload: message.payload(),
        });
        read.insert(message.partition(), message.offset() + 1);
    }
    Ok(consumer)
}

/// Hands every further record to `apply` until `shutdown`.
pub async fn follow(consumer: Consumer, mut apply: impl FnMut(Record<'_>), shutdown: CancellationToken) {
    loop {
        tokio::select! {
            message = consumer.next_message() => apply(Record { key: message.key(), payload: message.payload() }),
            () = shutdown.cancelled() => return,
        }
    }
}

/// The end offsets of `partitions` (a broker round trip each, on the blocking pool).
async fn end_offsets(consumer: &Consumer, topic: &str, partitions: &[i32]) -> Vec<(i32, i64)> {
    let (raw, topic, partitions) = (consumer.raw().clone(), topic.to_owned(), partitions.to_vec());
    tokio::task::spawn_blocking(move || {
        partitions
            .into_iter()
            .filter_map(|partition| {
                raw.fetch_watermarks(&topic, partition, Duration::from_secs(10))
                    .ok()
                    .map(|(_, high)| (partition, high))
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// Parses and checks one record's value (key, payload), or says why it is refused.
pub type ReadRecord<T> = dyn Fn(&str, &[u8]) -> Result<T, String> + Send + Sync;

/// A compacted topic held as a map from key to value, as followed: each record puts its value in force under its
/// key, or removes it (a tombstone). A record whose key is not UTF-8 or whose value `read` refuses is skipped with
/// a warning, and the value in force stays. `version` moves on every applied record, so a reader can rebuild what
/// it derives only on a change.
pub struct Table<T> {
    rows: std::sync::Mutex<BTreeMap<String, T>>,
    version: std::sync::atomic::AtomicU64,
    read: Box<ReadRecord<T>>,
    what: &'static str,
}

impl<T: Clone> Table<T> {
    /// An empty table of `what` (for the logs), whose values `read` parses and checks (key, payload).
    pub fn new(
        what: &'static str,
        read: impl Fn(&str, &[u8]) -> Result<T, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            rows: std::sync::Mutex::new(BTreeMap::new()),
            version: std::sync::atomic::AtomicU64::new(0),
            read: Box::new(read),
            what,
        }
    }

    /// Applies one record.
    pub fn apply(&self, record: Record<'_>) {
        let Some(key) = record.key.and_then(|key| std::str::from_utf8(key).ok()) else {
            tracing::warn!(what = self.what, "record without a UTF-8 key; skipped");
            return;
        };
        let mut rows = self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match record.payload.map(|payload| (self.read)(key, payload)) {
            None => {
                rows.remove(key);
                tracing::info!(what = self.what, key, "deleted");
            }
            Some(Ok(value)) => {
                rows.insert(key.to_owned(), value);
                tracing::info!(what = self.what, key, "in force");
            }
            Some(Err(problem)) => {
                tracing::warn!(what = self.what, key, %problem, "invalid record; skipped");
                return;
            }
        }
        self.version.fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Records applied so far.
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Every value in force, by key.
    pub fn rows(&self) -> Vec<(String, T)> {
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    /// The value in force under `key`.
    pub fn get(&self, key: &str) -> Option<T> {
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }
}
