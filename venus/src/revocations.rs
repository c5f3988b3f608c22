//! Revoked device credentials: Venus follows the compacted topic Mercury writes a revocation to (key = the
//! credential's `jti`) from its beginning, keeps every revoked id in memory, and tells the open sessions, which
//! close a revoked device's connection at once. Before serving, Venus reads the topic up to its end, so a revoked
//! credential is refused from the first connection on.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use packetpulse_model::devices::Revocation;
use packetpulse_ops::kafka::compacted;
use packetpulse_ops::kafka::{Consumer, KafkaError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

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

/// The revocation topic read to its end: the revocations made so far are in `revocations` when this returns,
/// and the consumer is ready to [`follow`] the rest.
pub async fn catch_up(
    bootstrap_servers: &str,
    topic: &str,
    revocations: &Revocations,
    shutdown: &CancellationToken,
) -> Result<Consumer, KafkaError> {
    compacted::catch_up(
        bootstrap_servers,
        topic,
        "venus-revocations",
        &mut |record| revocations.apply(record.payload),
        shutdown,
    )
    .await
}

/// Applies every further revocation until `shutdown`.
pub async fn follow(consumer: Consumer, revocations: Revocations, shutdown: CancellationToken) {
    compacted::follow(consumer, |record| revocations.apply(record.payload), shutdown).await;
}
