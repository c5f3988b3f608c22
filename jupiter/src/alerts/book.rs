//! The geofences in force: the compacted `geofences` topic (key = geofence id, JSON [`Geofence`], tombstone on
//! delete) followed into a map, with a version the pipeline compares to rebuild its index only on a change.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use packetpulse_model::Geofence;
use packetpulse_ops::kafka::compacted::Record;

/// The geofences read so far, shared by the follower task and the pipeline.
#[derive(Clone, Default)]
pub struct GeofenceBook {
    fences: Arc<Mutex<BTreeMap<String, Geofence>>>,
    version: Arc<AtomicU64>,
}

impl GeofenceBook {
    /// Applies one record of the topic: a geofence put in force under its key, or removed by a tombstone. A
    /// record that is not a valid geofence is skipped with a warning (the one in force stays).
    pub fn apply(&self, record: Record<'_>) {
        let Some(key) = record.key.map(String::from_utf8_lossy) else {
            tracing::warn!("geofence record without a key; skipped");
            return;
        };
        let mut fences = self.fences.lock().unwrap_or_else(PoisonError::into_inner);
        match record.payload.map(serde_json::from_slice::<Geofence>) {
            None => {
                fences.remove(key.as_ref());
                tracing::info!(geofence = %key, "geofence deleted");
            }
            Some(Ok(fence)) => match fence.problem() {
                Some(problem) => tracing::warn!(geofence = %key, %problem, "invalid geofence; skipped"),
                None if fence.id != key => {
                    tracing::warn!(geofence = %key, id = %fence.id, "geofence filed under another id; skipped");
                }
                None => {
                    tracing::info!(geofence = %key, name = %fence.name, "geofence in force");
                    fences.insert(key.into_owned(), fence);
                }
            },
            Some(Err(error)) => tracing::warn!(geofence = %key, %error, "unreadable geofence; skipped"),
        }
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Changes applied so far.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Every geofence in force.
    pub fn fences(&self) -> Vec<Geofence> {
        self.fences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}
