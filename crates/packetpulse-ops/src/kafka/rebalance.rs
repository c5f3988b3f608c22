//! What the consumer group did to this consumer: librdkafka reports rebalances on the thread that polls the
//! consumer, before the first message of the new assignment, so recording them there and asking before each
//! message tells a planet exactly which messages were read under which assignment.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};

/// Records the partitions revoked from and assigned to this consumer.
#[derive(Debug, Default)]
pub struct RebalanceLog {
    /// Whether `revoked` holds anything: checked on every message, without the lock.
    revoked_pending: AtomicBool,
    state: Mutex<Partitions>,
}

#[derive(Debug, Default)]
struct Partitions {
    /// Revoked since the last `take_revoked`.
    revoked: BTreeSet<(String, i32)>,
    assigned: BTreeSet<(String, i32)>,
}

impl RebalanceLog {
    /// The partitions of `topic` revoked since the last call.
    pub fn take_revoked(&self, topic: &str) -> Vec<i32> {
        if !self.revoked_pending.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut state = self.lock();
        let (taken, kept): (BTreeSet<_>, BTreeSet<_>) = std::mem::take(&mut state.revoked)
            .into_iter()
            .partition(|(name, _)| name == topic);
        self.revoked_pending.store(!kept.is_empty(), Ordering::Release);
        state.revoked = kept;
        taken.into_iter().map(|(_, partition)| partition).collect()
    }

    /// The partitions of `topic` assigned now.
    pub fn assigned(&self, topic: &str) -> Vec<i32> {
        self.lock()
            .assigned
            .iter()
            .filter(|(name, _)| name == topic)
            .map(|(_, partition)| *partition)
            .collect()
    }

    fn record(&self, rebalance: &Rebalance<'_>) {
        let mut state = self.lock();
        match rebalance {
            Rebalance::Assign(list) => {
                // Eager protocols assign the whole new set, cooperative ones an increment: both add.
                for element in list.elements() {
                    state
                        .assigned
                        .insert((element.topic().to_owned(), element.partition()));
                }
                tracing::info!(partitions = ?partitions(list), "partitions assigned by the consumer group");
            }
            Rebalance::Revoke(list) => {
                for element in list.elements() {
                    let key = (element.topic().to_owned(), element.partition());
                    state.assigned.remove(&key);
                    state.revoked.insert(key);
                }
                self.revoked_pending.store(true, Ordering::Release);
                tracing::info!(partitions = ?partitions(list), "partitions revoked by the consumer group");
            }
            Rebalance::Error(error) => tracing::warn!(%error, "consumer group rebalance failed"),
        }
    }

    /// A panic cannot leave the sets half-updated in a way that matters (each is re-read whole), so a poisoned
    /// lock is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Partitions> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn partitions(list: &rdkafka::TopicPartitionList) -> Vec<String> {
    list.elements()
        .iter()
        .map(|element| format!("{}/{}", element.topic(), element.partition()))
        .collect()
}

impl ClientContext for RebalanceLog {}

impl ConsumerContext for RebalanceLog {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.record(rebalance);
    }
}
