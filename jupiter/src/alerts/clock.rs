//! The clock silence is measured by, per partition.
//!
//! Event time, not the wall clock, so that a replay, a restart that reads an hour of backlog, or a backfill
//! judges silence the way streaming did: a session is offline when its partition has moved more than the
//! threshold past its last event. But event time stops when every vehicle of a partition stops, and a partition
//! whose fleet went silent must still raise offline alerts; so once a partition is read to its end (nothing
//! left on the broker, nothing read waiting for detection) its clock runs on in real time from its newest
//! event: newest event time plus the real time since that event was detected. Not the wall clock itself: a
//! replay of old events that momentarily catches up with its producer would otherwise find every session silent
//! for days. A partition caught up before anything was read from it (a restart after the fleet stopped)
//! follows the wall clock. A partition neither read nor known to be caught up has no clock and judges nobody.
//!
//! Alert ids and times never depend on when the clock was read (see `Detector::tick`); only when they fire does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Per partition: the newest event time detected and when, and whether the partition is read to its end.
#[derive(Debug, Default)]
pub struct PartitionClocks {
    newest: BTreeMap<i32, (u64, Instant)>,
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
        let newest = self.newest.entry(partition).or_insert((0, Instant::now()));
        if time_ms > newest.0 {
            *newest = (time_ms, Instant::now());
        }
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
            self.newest.remove(partition);
            self.caught_up.remove(partition);
            self.last_read.remove(partition);
        }
    }

    /// The time of `partition` at `now` (wall clock `wall_ms`), or `None` while it has none.
    pub fn now(&self, partition: i32, now: Instant, wall_ms: u64) -> Option<u64> {
        let newest = self.newest.get(&partition);
        match (newest, self.caught_up.contains(&partition)) {
            (Some(&(time_ms, at)), true) => {
                let quiet_ms =
                    u64::try_from(now.saturating_duration_since(at).as_millis()).unwrap_or(u64::MAX);
                Some(time_ms.saturating_add(quiet_ms))
            }
            (Some(&(time_ms, _)), false) => Some(time_ms),
            (None, true) => Some(wall_ms),
            (None, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn event_time_rules_and_a_partition_at_its_end_runs_on_in_real_time_from_its_newest_event() {
        let mut clocks = PartitionClocks::default();
        let start = Instant::now();
        let later = |seconds| start + Duration::from_secs(seconds);
        assert_eq!(clocks.now(0, start, 5_000), None, "nothing read, not caught up");
        clocks.read(0, start);
        clocks.detected(0, 1_000);
        assert_eq!(
            clocks.now(0, later(60), 99_000),
            Some(1_000),
            "behind: event time only"
        );
        clocks.settle(Instant::now(), &[0, 1]);
        let ran_on = clocks.now(0, later(60), 99_000).unwrap();
        assert!(
            (60_000..61_000).contains(&ran_on),
            "at its end: 60 s of real time on, {ran_on}"
        );
        assert_eq!(
            clocks.now(1, later(60), 99_000),
            Some(99_000),
            "at its end with nothing read: wall clock"
        );
        clocks.read(0, Instant::now());
        assert_eq!(
            clocks.now(0, later(60), 99_000),
            Some(1_000),
            "read again: behind until settled"
        );
        let checked_at = Instant::now();
        clocks.read(1, Instant::now());
        clocks.settle(checked_at, &[0, 1]);
        assert_eq!(
            clocks.now(1, later(60), 99_000),
            None,
            "read after the check began: not at its end"
        );
        clocks.forget(&[0]);
        assert_eq!(clocks.now(0, later(60), 99_000), None);
    }
}
