//! The event ids of each partition's most recent records, so a copy of an event already read is not written to
//! bronze twice. Copies are normal: Venus acknowledges a frame only once Kafka has it, so a frame whose reply a
//! Venus crash lost is resent by the device and lands again (same key, so the same partition, shortly after);
//! without idempotence a producer retry does the same.
//!
//! The decision is a function of the topic alone: the record at offset `o` is a copy if its event id is among the
//! records at offsets `o - window .. o` of its partition. At start Neptune re-reads those `window` records before
//! the table's offsets (without writing them), so a restarted Neptune decides every record exactly as an
//! uninterrupted one would, and exactly-once still holds. Copies further apart than the window are written (and
//! collapse in silver, which deduplicates by event id).

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

/// Recent event ids per partition.
#[derive(Debug)]
pub struct RecentEvents {
    window: i64,
    partitions: HashMap<i32, Partition>,
    /// Entries over all partitions (read for a gauge on every message, so kept rather than summed).
    held: usize,
}

#[derive(Debug, Default)]
struct Partition {
    /// (offset, event id) in offset order.
    order: VecDeque<(i64, u128)>,
    /// How many times each event id is in `order`.
    counts: HashMap<u128, u32>,
}

impl RecentEvents {
    /// Remembers the last `window` offsets of each partition; 0 remembers nothing (every copy is written).
    pub fn new(window: u64) -> Self {
        Self {
            window: i64::try_from(window).unwrap_or(i64::MAX),
            partitions: HashMap::new(),
            held: 0,
        }
    }

    /// The window, in offsets.
    pub fn window(&self) -> i64 {
        self.window
    }

    /// Records the event read at `partition`/`offset` (offsets of a partition must come in increasing order) and
    /// tells whether the same event id was read within the window before it.
    pub fn seen_before(&mut self, partition: i32, offset: i64, event_id: Uuid) -> bool {
        if self.window == 0 {
            return false;
        }
        let recent = self.partitions.entry(partition).or_default();
        let oldest_kept = offset.saturating_sub(self.window);
        while let Some(&(old_offset, old_id)) = recent.order.front()
            && old_offset < oldest_kept
        {
            recent.order.pop_front();
            self.held -= 1;
            if let Some(count) = recent.counts.get_mut(&old_id) {
                *count -= 1;
                if *count == 0 {
                    recent.counts.remove(&old_id);
                }
            }
        }
        let id = event_id.as_u128();
        let count = recent.counts.entry(id).or_insert(0);
        let seen = *count > 0;
        *count += 1;
        recent.order.push_back((offset, id));
        self.held += 1;
        seen
    }

    /// Event ids held, over all partitions (the memory this costs: about 60 bytes each).
    pub fn held(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn a_copy_within_the_window_is_seen_and_one_beyond_it_is_not() {
        let mut recent = RecentEvents::new(10);
        assert!(!recent.seen_before(0, 0, id(1)));
        assert!(recent.seen_before(0, 5, id(1)), "5 offsets later");
        assert!(
            recent.seen_before(0, 10, id(1)),
            "offset 10 still sees offset 5's copy"
        );
        assert!(
            !recent.seen_before(0, 21, id(1)),
            "11 offsets after the last copy"
        );
        assert!(!recent.seen_before(1, 22, id(2)));
        assert!(!recent.seen_before(0, 23, id(2)), "partitions are separate");
    }

    #[test]
    fn the_window_holds_at_most_its_size_per_partition() {
        let mut recent = RecentEvents::new(1_000);
        for offset in 0..10_000 {
            recent.seen_before(0, offset, id(offset as u128));
        }
        assert_eq!(recent.held(), 1_001);
        assert_eq!(recent.partitions[&0].counts.len(), 1_001);
    }

    #[test]
    fn a_zero_window_sees_nothing() {
        let mut recent = RecentEvents::new(0);
        assert!(!recent.seen_before(0, 0, id(1)));
        assert!(!recent.seen_before(0, 1, id(1)));
        assert_eq!(recent.held(), 0);
    }
}
