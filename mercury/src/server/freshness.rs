//! Traffic-light freshness of a pipeline layer: the age of the newest event it holds.

use chrono::Utc;

use crate::model::LayerFreshness;

/// Newest event at most this old: green.
const GREEN_UP_TO_S: f64 = 60.0;
/// Newest event at most this old: amber; older: red.
const AMBER_UP_TO_S: f64 = 600.0;

/// The freshness of `layer` whose newest event happened at `newest_event_ms` (none: empty).
pub fn layer(layer: &str, newest_event_ms: Option<u64>) -> LayerFreshness {
    let now_ms = Utc::now().timestamp_millis() as f64;
    let age_s = newest_event_ms.map(|newest| ((now_ms - newest as f64) / 1000.0).max(0.0));
    let level = match age_s {
        None => "unknown",
        Some(age) if age <= GREEN_UP_TO_S => "green",
        Some(age) if age <= AMBER_UP_TO_S => "amber",
        Some(_) => "red",
    };
    LayerFreshness {
        layer: layer.to_owned(),
        newest_event_ms,
        age_s,
        level: level.to_owned(),
    }
}
