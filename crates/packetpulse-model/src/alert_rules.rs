//! Per-rule threshold overrides: what a dispatcher sets in Mercury for the timed rules, published to the
//! compacted topic `alert-rules` (key = the rule, tombstone = back to Jupiter's configured setting) and in force
//! in Jupiter's detector at its next batch or tick. Only what a record names is overridden.

use serde::{Deserialize, Serialize};

/// The rules whose thresholds can be overridden, and what each override may name.
pub const RULES: [&str; 4] = ["overspeed", "idle", "offline", "abandoned"];

/// One rule's override. `kmh` is the overspeed limit or the idle speed; `seconds` how long above the limit
/// (overspeed), standing still (idle) or silent (offline, abandoned) before the alert.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleThresholds {
    /// Speed, km/h (overspeed and idle only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kmh: Option<f64>,
    /// Duration, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
}

impl RuleThresholds {
    /// The override a record of the `alert-rules` topic carries under `rule`: JSON, valid for that rule.
    pub fn from_record(rule: &str, payload: &[u8]) -> Result<Self, String> {
        let thresholds: Self = serde_json::from_slice(payload)
            .map_err(|error| format!("unreadable rule thresholds: {error}"))?;
        match thresholds.problem(rule) {
            Some(problem) => Err(problem),
            None => Ok(thresholds),
        }
    }

    /// Why this cannot be `rule`'s override, or `None`. Bounds keep a typo from silencing or flooding a fleet:
    /// overspeed 10–300 km/h for 1 s–1 h, idle 0.5–20 km/h for 30 s–24 h, offline 10 s–24 h, abandoned
    /// 10 min–7 days.
    pub fn problem(&self, rule: &str) -> Option<String> {
        let (kmh, seconds): (Option<(f64, f64)>, (u64, u64)) = match rule {
            "overspeed" => (Some((10.0, 300.0)), (1, 3_600)),
            "idle" => (Some((0.5, 20.0)), (30, 86_400)),
            "offline" => (None, (10, 86_400)),
            "abandoned" => (None, (600, 7 * 86_400)),
            other => return Some(format!("rule must be one of {}, not {other:?}", RULES.join(", "))),
        };
        if self.kmh.is_none() && self.seconds.is_none() {
            return Some("set kmh or seconds (or delete the override)".to_owned());
        }
        match (self.kmh, kmh) {
            (Some(_), None) => return Some(format!("{rule} has no speed: set only seconds")),
            (Some(value), Some((low, high))) if !(low..=high).contains(&value) => {
                return Some(format!("{rule}: kmh must be from {low} to {high}"));
            }
            _ => {}
        }
        match self.seconds {
            Some(value) if !(seconds.0..=seconds.1).contains(&value) => Some(format!(
                "{rule}: seconds must be from {} to {}",
                seconds.0, seconds.1
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_checked_against_their_rule() {
        let speed = RuleThresholds {
            kmh: Some(80.0),
            seconds: Some(20),
        };
        assert_eq!(speed.problem("overspeed"), None);
        assert!(speed.problem("offline").unwrap().contains("no speed"));
        assert!(speed.problem("speeding").unwrap().contains("rule must be one of"));
        assert!(RuleThresholds::default().problem("idle").is_some());
        let too_soon = RuleThresholds {
            kmh: None,
            seconds: Some(5),
        };
        assert!(too_soon.problem("offline").unwrap().contains("from 10 to 86400"));
        assert_eq!(
            RuleThresholds::from_record("offline", br#"{"seconds": 60}"#),
            Ok(RuleThresholds {
                kmh: None,
                seconds: Some(60)
            })
        );
        assert!(RuleThresholds::from_record("offline", b"{").is_err());
    }
}
