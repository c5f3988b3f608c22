//! The geofences in force: the compacted `geofences` topic (key = geofence id, JSON [`Geofence`], tombstone on
//! delete) followed into a [`Table`]; the pipeline rebuilds its index only when the table's version moved.

use std::sync::Arc;

use packetpulse_model::Geofence;
use packetpulse_ops::kafka::compacted::{Record, Table};

/// The geofences read so far, shared by the follower task and the pipeline.
#[derive(Clone)]
pub struct GeofenceBook(Arc<Table<Geofence>>);

impl Default for GeofenceBook {
    fn default() -> Self {
        Self(Arc::new(Table::new("geofence", Geofence::from_record)))
    }
}

impl GeofenceBook {
    /// Applies one record of the topic (an invalid one is skipped with a warning; the geofence in force stays).
    pub fn apply(&self, record: Record<'_>) {
        self.0.apply(record);
    }

    /// Changes applied so far.
    pub fn version(&self) -> u64 {
        self.0.version()
    }

    /// Every geofence in force.
    pub fn fences(&self) -> Vec<Geofence> {
        self.0.rows().into_iter().map(|(_, fence)| fence).collect()
    }
}
