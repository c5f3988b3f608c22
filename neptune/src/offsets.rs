//! Exactly-once bookkeeping: the next Kafka offset of every partition, stored in the summary of the snapshot that
//! holds the rows read before it (and, in the same commit, in a table property, which survives when another
//! engine rewrites the table and expires the snapshots that had them). The table is the only truth; Kafka's
//! committed offsets are a monitoring hint.

use std::collections::BTreeMap;
use std::collections::HashMap;

use iceberg::spec::{Snapshot, SnapshotRef};
use iceberg::table::Table;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Snapshot summary property (and table property) holding the offsets, as JSON
/// `{"topic": "...", "next": {"0": 123, ...}}`.
pub const SUMMARY_PROPERTY: &str = "packetpulse.neptune.kafka-offsets";

/// The next offset to read in each partition of one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offsets {
    /// The topic these offsets are for.
    pub topic: String,
    /// Partition → next offset to read.
    pub next: BTreeMap<i32, i64>,
}

impl Offsets {
    /// No offsets yet for `topic`: read every partition from the beginning.
    pub fn empty(topic: &str) -> Self {
        Self {
            topic: topic.to_owned(),
            next: BTreeMap::new(),
        }
    }

    /// The offsets stored in the newest snapshot of the current snapshot's history that has them, else in the
    /// table property (another engine rewrote the table and expired those snapshots); empty for a table never
    /// written. A table with rows but no offsets anywhere is an error: reading the topic from the beginning would
    /// write every row again.
    pub fn from_table(table: &Table, topic: &str) -> Result<Self, Error> {
        let stored = match newest_with_offsets(table)? {
            Some((_, offsets)) => Some(offsets),
            None => from_properties(table)?,
        };
        match stored {
            Some(offsets) if offsets.topic != topic => Err(Error::Config(format!(
                "table {} holds offsets of topic {:?}, not {topic:?}: one table per topic",
                table.identifier(),
                offsets.topic
            ))),
            Some(offsets) => Ok(offsets),
            None if packetpulse_lake::catalog::committed_rows(table) > 0 => Err(Error::Config(format!(
                "table {} holds {} rows but no Kafka offsets (no snapshot in its history has \
                 {SUMMARY_PROPERTY}, nor do its properties): reading {topic:?} from the beginning would write them \
                 again. Set the table property {SUMMARY_PROPERTY} to the offsets the rows end at, or empty the table",
                table.identifier(),
                packetpulse_lake::catalog::committed_rows(table)
            ))),
            None => Ok(Self::empty(topic)),
        }
    }

    /// The table property the offsets are also kept in (see [`SUMMARY_PROPERTY`]).
    pub fn to_property(&self) -> (String, String) {
        let json = serde_json::to_string(self).expect("offsets always serialise");
        (SUMMARY_PROPERTY.to_owned(), json)
    }

    /// The offsets in one snapshot's summary, if it has them.
    pub fn from_snapshot(snapshot: &Snapshot) -> Result<Option<Self>, Error> {
        snapshot
            .summary()
            .additional_properties
            .get(SUMMARY_PROPERTY)
            .map(|json| {
                serde_json::from_str(json).map_err(|error| {
                    Error::Config(format!(
                        "snapshot {} has unreadable {SUMMARY_PROPERTY}: {error}",
                        snapshot.snapshot_id()
                    ))
                })
            })
            .transpose()
    }

    /// Records that everything before `offset + 1` in `partition` has been read.
    pub fn advance(&mut self, partition: i32, offset: i64) {
        let next = self.next.entry(partition).or_insert(0);
        *next = (*next).max(offset + 1);
    }

    /// Whether every partition of `self` is at or past the same partition in `other`.
    pub fn covers(&self, other: &Self) -> bool {
        self.topic == other.topic
            && other
                .next
                .iter()
                .all(|(partition, next)| self.next.get(partition).is_some_and(|own| own >= next))
    }

    /// The snapshot summary properties that record these offsets.
    pub fn to_summary(&self) -> HashMap<String, String> {
        HashMap::from([self.to_property()])
    }
}

/// The offsets in the table property, if set.
fn from_properties(table: &Table) -> Result<Option<Offsets>, Error> {
    table
        .metadata()
        .properties()
        .get(SUMMARY_PROPERTY)
        .map(|json| {
            serde_json::from_str(json).map_err(|error| {
                Error::Config(format!(
                    "table property {SUMMARY_PROPERTY} is unreadable: {error}"
                ))
            })
        })
        .transpose()
}

/// The newest snapshot holding offsets and its offsets, walking back from the current snapshot, so a snapshot
/// written by another engine (e.g. Trino's `optimize`) does not reset them.
pub fn newest_with_offsets(table: &Table) -> Result<Option<(SnapshotRef, Offsets)>, Error> {
    let metadata = table.metadata();
    let mut snapshot = metadata.current_snapshot().cloned();
    while let Some(current) = snapshot {
        if let Some(offsets) = Offsets::from_snapshot(&current)? {
            return Ok(Some((current, offsets)));
        }
        snapshot = current
            .parent_snapshot_id()
            .and_then(|parent| metadata.snapshot_by_id(parent).cloned());
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn advance_keeps_the_highest_next_offset() {
        let mut offsets = Offsets::empty("sessions");
        offsets.advance(0, 10);
        offsets.advance(0, 4);
        offsets.advance(2, 0);
        assert_eq!(offsets.next, BTreeMap::from([(0, 11), (2, 1)]));
    }

    #[test]
    fn covers_compares_every_partition() {
        let mut old = Offsets::empty("sessions");
        old.advance(0, 10);
        let mut new = old.clone();
        new.advance(1, 3);
        assert!(new.covers(&old));
        assert!(!old.covers(&new));
        assert!(!Offsets::empty("other").covers(&old));
    }

    #[test]
    fn summary_round_trips() {
        let mut offsets = Offsets::empty("sessions");
        offsets.advance(5, 99);
        let summary = offsets.to_summary();
        let back: Offsets = serde_json::from_str(&summary[SUMMARY_PROPERTY]).unwrap();
        assert_eq!(back, offsets);
    }
}
