//! The clock silence is measured by, per partition.
//!
//! Event time, not the wall clock, so that a replay, a restart that reads an hour of backlog, or a backfill
//! judges silence the way streaming did: a session is offline when its partition has moved more than the
//! threshold past its last event. But event time stops when every vehicle of a partition stops, and a partition
//! whose fleet went silent must still raise offline alerts; so once a partition is read to its end (nothing
//! left on the broker, nothing read waiting for detection) its clock also follows the wall clock. A partition
//! neither read nor known to be caught up has no clock yet and judges nobody.
//!
//! Alert ids and times never depend on when the clock was read (see `Detector::tick`), so the two clocks raise
//! the same alerts; only when differs.

use std::collections::{BTreeMap, BTreeSet};

use std::time::Instant;

/// Per partition: the newest event time detected, and whether the partition is read to its end.
#[derive(Debug, Default)]
pub struct PartitionClocks {
    newest_ms: BTreeMap<i32, u64>,
    caught_up: BTreeSet<i32>,
    /// When each partition was last read from.
    last_read: BTreeMap<i32, Instant>,
}

impl PartitionClocks {
    /// A message of `partition` was read at `at` (it waits for detection).
    pub fn read(&mut self, partition: i32, at: Instant) {
        self.last_read.insert(partition, at);
        self.caught_up.remove(&partition);
    }

    /// An event of `partition` at `time_ms` went through detection.
    pub fn detected(&mut self, partition: i32, time_ms: u64) {
        let newest = self.newest_ms.entry(partition).or_default();
        *newest = (*newest).max(time_ms);
    }

    /// The answer of a check begun at `checked_at`: the partitions read to the broker's high watermark then.
    /// One read from since is not known to be at its end.
    pub fn settle(&mut self, checked_at: Instant, caught_up: &[i32]) {
        self.caught_up = caught_up
            .iter()
            .copied()
            .filter(|partition| {
                self.last_read
                    .get(partition)
                    .is_none_or(|read| *read < checked_at)
            })
            .collect();
    }

    /// Forgets `partitions` (revoked).
    pub fn forget(&mut self, partitions: &[i32]) {
        for partition in partitions {
            self.newest_ms.remove(partition);
            self.caught_up.remove(partition);
            self.last_read.remove(partition);
        }
    }

    /// The time of `partition` at wall-clock `wall_ms`, or `None` while it has none.
    pub fn now(&self, partition: i32, wall_ms: u64) -> Option<u64> {
        let newest = self.newest_ms.get(&partition).copied();
        if self.caught_up.contains(&partition) {
            Some(newest.unwrap_or(0).max(wall_ms))
        } else {
            newest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_rules_until_a_partition_is_at_its_end_then_the_wall_clock_may_push_it_on() {
        let mut clocks = PartitionClocks::default();
        assert_eq!(clocks.now(0, 5_000), None, "nothing read, not caught up");
        clocks.read(0, Instant::now());
        clocks.detected(0, 1_000);
        assert_eq!(clocks.now(0, 5_000), Some(1_000), "behind: event time only");
        clocks.settle(Instant::now(), &[0, 1]);
        assert_eq!(clocks.now(0, 5_000), Some(5_000), "at its end: the wall clock");
        assert_eq!(clocks.now(0, 500), Some(1_000), "never behind its own events");
        assert_eq!(clocks.now(1, 5_000), Some(5_000), "an empty partition at its end");
        clocks.read(0, Instant::now());
        assert_eq!(
            clocks.now(0, 9_000),
            Some(1_000),
            "read again: behind until settled"
        );
        let checked_at = Instant::now();
        clocks.read(1, Instant::now());
        clocks.settle(checked_at, &[0, 1]);
        assert_eq!(
            clocks.now(1, 5_000),
            None,
            "read after the check began: not at its end"
        );
        clocks.forget(&[1]);
        assert_eq!(clocks.now(1, 5_000), None);
    }
}
