//! The per-rule threshold overrides in force: the compacted `alert-rules` topic (key = rule, JSON
//! [`RuleThresholds`], tombstone = back to Jupiter's own setting) followed into a [`Table`]; the pipeline
//! recomputes its thresholds only when the table's version moved.

use std::sync::Arc;
use std::time::Duration;

use packetpulse_model::RuleThresholds;
use packetpulse_ops::kafka::compacted::{Record, Table};

use super::Thresholds;

/// The overrides read so far, shared by the follower task and the pipeline.
#[derive(Clone)]
pub struct RuleBook(Arc<Table<RuleThresholds>>);

impl Default for RuleBook {
    fn default() -> Self {
        Self(Arc::new(Table::new("alert rule", RuleThresholds::from_record)))
    }
}

impl RuleBook {
    /// Applies one record of the topic (an invalid one is skipped with a warning; the override in force stays).
    pub fn apply(&self, record: Record<'_>) {
        self.0.apply(record);
    }

    /// Changes applied so far.
    pub fn version(&self) -> u64 {
        self.0.version()
    }

    /// Overrides in force.
    pub fn len(&self) -> usize {
        self.0.rows().len()
    }

    /// Whether no override is in force.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `defaults` with every override in force applied.
    pub fn thresholds(&self, defaults: &Thresholds) -> Thresholds {
        let mut thresholds = defaults.clone();
        for (rule, set) in self.0.rows() {
            thresholds.apply(&rule, &set);
        }
        thresholds
    }
}

impl Thresholds {
    /// Takes what `set` names for `rule` (checked when read: [`RuleThresholds::problem`]).
    pub fn apply(&mut self, rule: &str, set: &RuleThresholds) {
        let seconds = set.seconds.map(Duration::from_secs);
        match rule {
            "overspeed" => {
                self.overspeed_kmh = set.kmh.unwrap_or(self.overspeed_kmh);
                self.overspeed_for = seconds.unwrap_or(self.overspeed_for);
            }
            "idle" => {
                self.idle_kmh = set.kmh.unwrap_or(self.idle_kmh);
                self.idle_for = seconds.unwrap_or(self.idle_for);
            }
            "offline" => self.offline_after = seconds.unwrap_or(self.offline_after),
            "abandoned" => self.abandoned_after = seconds.unwrap_or(self.abandoned_after),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name_and_a_tombstone_restores_the_default() {
        let book = RuleBook::default();
        let defaults = Thresholds::default();
        book.apply(Record {
            key: Some(b"overspeed"),
            payload: Some(br#"{"kmh": 50}"#),
        });
        book.apply(Record {
            key: Some(b"offline"),
            payload: Some(br#"{"seconds": 5}"#),
        });
        let thresholds = book.thresholds(&defaults);
        assert_eq!(thresholds.overspeed_kmh, 50.0);
        assert_eq!(thresholds.overspeed_for, defaults.overspeed_for);
        // Out of bounds: skipped, the default stays.
        assert_eq!(thresholds.offline_after, defaults.offline_after);
        book.apply(Record {
            key: Some(b"overspeed"),
            payload: None,
        });
        assert_eq!(book.thresholds(&defaults), defaults);
    }
}
