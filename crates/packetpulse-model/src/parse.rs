//! Parsing a WebSocket frame: one event object or a JSON array of them, each validated on its own.

use serde_json::Value;
use serde_json::value::RawValue;

use crate::event::WireEvent;
use crate::validate::{ValidationErrors, validate_fast, validate_fast_batch, validate_value};

/// Why a whole frame was refused before looking at its events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes are not JSON; the message carries serde's line and column.
    #[error("frame is not valid JSON: {0}")]
    NotJson(String),
    /// Valid JSON, but neither an object nor an array.
    #[error("frame must be an event object or an array of event objects, got {0}")]
    NotAnEventOrBatch(&'static str),
    /// `[]`: nothing to do, most likely a sender bug.
    #[error("frame is an empty array: send at least one event")]
    EmptyBatch,
}

/// One event of a frame: the valid event, or why it was refused.
#[derive(Debug)]
pub struct FrameEvent<'a> {
    /// The valid event, or its raw text and every problem; paths carry the batch index for array frames.
    pub result: Result<WireEvent, RejectedEvent<'a>>,
}

/// An event that failed validation: its exact JSON text (for the dead-letter topic) and every problem with it.
#[derive(Debug, thiserror::Error)]
#[error("{errors}")]
pub struct RejectedEvent<'a> {
    /// The event's JSON text exactly as sent.
    pub raw: &'a str,
    /// Every problem, in field order.
    pub errors: ValidationErrors,
}

/// Splits a frame into its events and validates each. A single object yields one event with plain field paths;
/// an array yields one per element with paths like `[2].current_lat`, so a reply can say which were rejected.
pub fn parse_frame(frame: &str) -> Result<Vec<FrameEvent<'_>>, FrameError> {
    let trimmed = frame.trim_start();
    if trimmed.starts_with('[') {
        // The common case, a batch of valid events, in one pass; anything else element by element.
        if let Some(events) = validate_fast_batch(frame) {
            return Ok(events
                .into_iter()
                .map(|event| FrameEvent { result: Ok(event) })
                .collect());
        }
        let elements: Vec<&RawValue> =
            serde_json::from_str(frame).map_err(|e| FrameError::NotJson(e.to_string()))?;
        if elements.is_empty() {
            return Err(FrameError::EmptyBatch);
        }
        Ok(elements
            .into_iter()
            .enumerate()
            .map(|(index, raw)| FrameEvent {
                result: parse_event(raw.get()).map_err(|errors| RejectedEvent {
                    raw: raw.get(),
                    errors: errors.at_index(index),
                }),
            })
            .collect())
    } else {
        if let Some(event) = validate_fast(frame) {
            return Ok(vec![FrameEvent { result: Ok(event) }]);
        }
        let value: Value = serde_json::from_str(frame).map_err(|e| FrameError::NotJson(e.to_string()))?;
        match value {
            Value::Object(_) => Ok(vec![FrameEvent {
                result: validate_value(&value).map_err(|errors| RejectedEvent {
                    raw: frame.trim(),
                    errors,
                }),
            }]),
            Value::Null => Err(FrameError::NotAnEventOrBatch("null")),
            Value::Bool(_) => Err(FrameError::NotAnEventOrBatch("a boolean")),
            Value::Number(_) => Err(FrameError::NotAnEventOrBatch("a number")),
            Value::String(_) => Err(FrameError::NotAnEventOrBatch("a string")),
            Value::Array(_) => unreachable!("arrays start with '[' and are handled above"),
        }
    }
}

/// Validates the JSON text of one event.
pub fn parse_event(json: &str) -> Result<WireEvent, ValidationErrors> {
    if let Some(event) = validate_fast(json) {
        return Ok(event);
    }
    match serde_json::from_str::<Value>(json) {
        Ok(value) => validate_value(&value),
        Err(e) => Err(ValidationErrors::single(crate::FieldError::new(
            "$",
            format!("not valid JSON: {e}"),
        ))),
    }
}
