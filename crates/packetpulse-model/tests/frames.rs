//! Frames as Venus receives them: one event, a batch, or something that is neither.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use common::{original_simulator_event, with_field};
use packetpulse_model::{FrameError, parse_frame};
use serde_json::json;

#[test]
fn a_single_object_frame_yields_one_event_with_plain_paths() {
    let text = with_field("current_lat", Some(json!(91.2)));
    let events = parse_frame(&text).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].result.as_ref().unwrap_err().raw, text);
    assert_eq!(
        events[0].result.as_ref().unwrap_err().to_string(),
        "current_lat: 91.2 is outside [-90, 90]"
    );
}

#[test]
fn a_batch_frame_validates_each_event_and_prefixes_paths_with_the_index() {
    let good = original_simulator_event();
    let bad = with_field("current_lat", Some(json!(91.2)));
    let frame = format!("[{good}, {bad}, 7]");
    let events = parse_frame(&frame).unwrap();
    assert_eq!(events.len(), 3);
    assert!(events[0].result.is_ok());
    assert_eq!(
        events[1].result.as_ref().unwrap_err().raw,
        bad,
        "the raw text of each element is kept for the dead-letter topic"
    );
    assert_eq!(
        events[1].result.as_ref().unwrap_err().to_string(),
        "[1].current_lat: 91.2 is outside [-90, 90]"
    );
    assert_eq!(
        events[2].result.as_ref().unwrap_err().to_string(),
        "[2]: expected an event object, got a number (7)"
    );
}

#[test]
fn frames_that_are_not_events_are_refused_whole() {
    assert_eq!(parse_frame("[]").unwrap_err(), FrameError::EmptyBatch);
    assert_eq!(
        parse_frame(" 42 ").unwrap_err(),
        FrameError::NotAnEventOrBatch("a number")
    );
    assert_eq!(
        parse_frame("null").unwrap_err(),
        FrameError::NotAnEventOrBatch("null")
    );
    assert_eq!(
        parse_frame("{\"device_id\": ").unwrap_err().to_string(),
        "frame is not valid JSON: EOF while parsing a value at line 1 column 14"
    );
    assert!(matches!(
        parse_frame("[{}, ").unwrap_err(),
        FrameError::NotJson(_)
    ));
    assert!(matches!(parse_frame("").unwrap_err(), FrameError::NotJson(_)));
}
