//! The rules themselves, shared by the fast path (which only asks whether a value passes) and the field-by-field
//! path (which words the problem), so the two can never disagree.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::limits;
use crate::event::DeliveryStatus;
use crate::timestamp;

/// Why a string is not acceptable, or `None`.
pub(crate) fn text_problem(text: &str, max_chars: usize, allow_empty: bool) -> Option<String> {
    let chars = text.chars().count();
    if chars == 0 && !allow_empty {
        return Some("must not be empty".into());
    }
    if chars > max_chars {
        return Some(format!("is {chars} characters long, at most {max_chars} allowed"));
    }
    // Ids become Kafka keys, file paths and URL segments, and the event-id derivation separates fields with
    // a newline: control characters have no business there.
    if text.chars().any(char::is_control) {
        return Some("must not contain control characters".into());
    }
    None
}

pub(crate) fn status(text: &str) -> Result<DeliveryStatus, String> {
    text.parse().map_err(|unknown| format!("{unknown}"))
}

pub(crate) fn timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let t = timestamp::parse(text).ok_or_else(|| {
        format!(
            "{text:?} is not an RFC 3339 timestamp (e.g. 2024-05-01T12:30:00Z; without an offset it is taken \
             as UTC)"
        )
    })?;
    if !(limits::MIN_TIMESTAMP_UNIX_S..limits::MAX_TIMESTAMP_UNIX_S_EXCLUSIVE).contains(&t.timestamp()) {
        return Err(format!("{text} is outside [1970-01-01, 2100-01-01)"));
    }
    Ok(t)
}

pub(crate) fn in_range(number: f64, min: f64, max: f64) -> bool {
    number.is_finite() && number >= min && number <= max
}

pub(crate) fn event_id(text: &str) -> Result<Uuid, String> {
    match Uuid::parse_str(text) {
        Ok(id) if id.is_nil() => Err("must not be the nil UUID".into()),
        Ok(id) => Ok(id),
        Err(_) => Err(format!("{text:?} is not a UUID")),
    }
}
