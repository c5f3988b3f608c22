//! The dead-letter record: what goes to `sessions.dlq` when input is refused, so nothing is lost silently.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::PublishedEvent;
use crate::timestamp;
use crate::validate::FieldError;

/// One refused input with everything needed to understand and replay it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The input exactly as received (one event's JSON, or the whole frame when it was not JSON at all).
    pub raw_payload: String,
    /// One-line summary of why it was refused.
    pub reason: String,
    /// Every field-level problem, when the input was parsed far enough to have them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Who sent it: the API key's name or the JWT subject; absent when the refusing planet does not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The planet that refused it, e.g. `venus`.
    pub source: String,
    /// Where a consumer read it, for records dead-lettered downstream of Kafka.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_partition: Option<i32>,
    /// Offset within `kafka_partition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_offset: Option<i64>,
    /// When it was refused, UTC.
    #[serde(with = "timestamp::rfc3339")]
    pub refused_at: DateTime<Utc>,
}

impl DeadLetter {
    /// The dead letter for a Kafka message of the `sessions` topic that `source` (a consuming planet) could not
    /// read as a [`crate::PublishedEvent`].
    pub fn for_unreadable_message(
        payload: &[u8],
        reason: String,
        source: &str,
        kafka_partition: i32,
        kafka_offset: i64,
    ) -> Self {
        Self {
            raw_payload: String::from_utf8_lossy(payload).into_owned(),
            reason,
            errors: Vec::new(),
            client: None,
            source: source.to_owned(),
            kafka_partition: Some(kafka_partition),
            kafka_offset: Some(kafka_offset),
            refused_at: Utc::now(),
        }
    }

    /// The JSON payload for the dead-letter topic.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a DeadLetter always serialises: all its keys are strings")
    }
}

/// Decoding a consumed message: the event, or the dead letter that replaces it.
impl PublishedEvent {
    /// Reads a Kafka message of the `sessions` topic as a consumer does: the event and its payload as text, or
    /// the dead letter that `source` (the consuming planet) sends instead.
    pub fn from_kafka_message<'a>(
        payload: Option<&'a [u8]>,
        source: &str,
        kafka_partition: i32,
        kafka_offset: i64,
    ) -> Result<(Self, &'a str), Box<DeadLetter>> {
        let payload = payload.unwrap_or_default();
        let reason = match std::str::from_utf8(payload) {
            Err(error) => format!("payload is not UTF-8: {error}"),
            Ok(text) => match Self::from_json(payload) {
                Ok(event) => return Ok((event, text)),
                Err(error) => format!("not a published event: {error}"),
            },
        };
        Err(Box::new(DeadLetter::for_unreadable_message(
            payload,
            reason,
            source,
            kafka_partition,
            kafka_offset,
        )))
    }
}
