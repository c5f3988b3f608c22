//! Revoked device credentials: Venus follows the compacted topic Mercury writes a revocation to (key = the
//! credential's `jti`) from its beginning, keeps every revoked id in memory, and tells the open sessions, which
//! close a revoked device's connection at once. Before serving, Venus reads the topic up to its end, so a revoked
//! credential is refused from the first connection on.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use packetpulse_model::devices::Revocation;
use packetpulse_ops::kafka::{Consumer, ConsumerConfig, KafkaError};
use rdkafka::consumer::Consumer as _;
use rdkafka::{Message, Offset};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long Venus waits for the revocation topic to be read to its end at start.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// The revoked credentials, shared by every session.
#[derive(Clone)]
pub struct Revocations {
    revoked: Arc<RwLock<HashSet<String>>>,
    /// Bumped on every new revocation; sessions of revocable credentials wait on it.
    changed: watch::Sender<u64>,
}

impl Default for Revocations {
    fn default() -> Self {
        Self {
            revoked: Arc::default(),
            changed: watch::Sender::new(0),
        }
    }
}

impl Revocations {
    /// Whether `credential` was revoked.
    pub fn is_revoked(&self, credential: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(credential)
    }

    /// Notified whenever a credential is revoked.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn revoke(&self, credential: String) {
        let added = self
            .revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(credential);
        if added {
            self.changed.send_modify(|version| *version += 1);
        }
    }

    fn apply(&self, payload: Option<&[u8]>) {
        match payload.map(serde_json::from_slice::<Revocation>) {
            Some(Ok(revocation)) => {
                tracing::info!(device = %revocation.device_id, credential = %revocation.jti, "credential revoked");
                self.revoke(revocation.jti);
            }
            Some(Err(error)) => tracing::warn!(%error, "unreadable revocation; skipped"),
            // A tombstone: compaction's way to forget; revocations are never taken back, so nothing to do.
            None => {}
        }
    }
}

/// The revocation topic, assigned from its beginning, read to its end: the revocations made so far are in
/// `revocations` when this returns, and the consumer is ready to [`follow`] the rest.
pub async fn catch_up(
    bootstrap_servers: &str,
    topic: &str,
    revocations: &Revocations,
    shutdown: &CancellationToken,
) -> Result<Consumer, KafkaError> {
    let consumer = ConsumerConfig::new(
        bootstrap_servers,
        &format!("venus-revocations-{}", uuid::Uuid::new_v4()),
    )
    // A revocation should reach the sessions at once, not after the broker's batching delay.
    .set("fetch.wait.max.ms", "100")
    .create()?;
    let Some(partitions) = consumer.partitions(topic, shutdown).await else {
        return Ok(consumer);
    };
    consumer.assign(topic, &partitions, |_| Offset::Beginning)?;
    let ends = end_offsets(&consumer, topic, &partitions).await;
    let mut read: std::collections::BTreeMap<i32, i64> = partitions.iter().map(|&p| (p, 0)).collect();
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    while ends
        .iter()
        .any(|(partition, end)| read.get(partition).is_some_and(|next| next < end))
    {
        let message = tokio::select! {
            message = consumer.next_message() => message,
            () = tokio::time::sleep_until(deadline) => {
                tracing::warn!(%topic, "revocations not read to their end in time; following them from here");
                break;
            }
            () = shutdown.cancelled() => break,
        };
        revocations.apply(message.payload());
        read.insert(message.partition(), message.offset() + 1);
    }
    Ok(consumer)
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

/// Applies every further revocation until `shutdown`.
pub async fn follow(consumer: Consumer, revocations: Revocations, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            message = consumer.next_message() => revocations.apply(message.payload()),
            () = shutdown.cancelled() => return,
        }
    }
}
