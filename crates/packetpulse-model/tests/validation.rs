//! One test per validation rule of the event contract: each bad input gets a precise, field-addressed error.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use common::{original_simulator_event, with_field};
use packetpulse_model::{DeliveryStatus, FieldError, parse_event};
use serde_json::{Value, json};

/// Parses `json` expecting failure, returning the errors as `field: message` strings.
fn errors_of(json: &str) -> Vec<String> {
    parse_event(json)
        .expect_err("expected the event to be rejected")
        .errors()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

fn single_error(field: &str, value: Option<Value>) -> String {
    let errors = errors_of(&with_field(field, value));
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

const REQUIRED: [&str; 12] = [
    "device_id",
    "vehicle_id",
    "session_id",
    "order_id",
    "status",
    "timestamp",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "current_lat",
    "current_lon",
];
const IDS: [&str; 4] = ["device_id", "vehicle_id", "session_id", "order_id"];
const LATITUDES: [&str; 3] = ["start_lat", "end_lat", "current_lat"];
const LONGITUDES: [&str; 3] = ["start_lon", "end_lon", "current_lon"];

#[test]
fn accepts_the_original_simulators_event() {
    let wire = parse_event(&original_simulator_event().to_string()).unwrap();
    assert_eq!(wire.event.status, DeliveryStatus::EnRoute);
    assert_eq!(wire.event.route_name.as_deref(), Some("athens-01"));
    assert_eq!(
        wire.event.timestamp.to_rfc3339(),
        "2024-05-01T12:30:00.123456+00:00"
    );
    assert_eq!(wire.event_id, None);
}

#[test]
fn every_required_field_missing_is_reported_with_its_name() {
    for field in REQUIRED {
        assert_eq!(single_error(field, None), format!("{field}: is required"));
        assert_eq!(
            single_error(field, Some(Value::Null)),
            format!("{field}: is required")
        );
    }
}

#[test]
fn an_empty_object_reports_all_twelve_required_fields_in_order() {
    let errors = parse_event("{}").unwrap_err();
    let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, REQUIRED);
    assert_eq!(
        packetpulse_model::REQUIRED_FIELDS,
        REQUIRED,
        "the published list matches the contract"
    );
}

#[test]
fn ids_must_be_non_empty_strings() {
    for field in IDS {
        assert_eq!(
            single_error(field, Some(json!(""))),
            format!("{field}: must not be empty")
        );
        assert_eq!(
            single_error(field, Some(json!(7))),
            format!("{field}: expected a string, got a number (7)")
        );
    }
}

#[test]
fn ids_are_at_most_64_characters() {
    for field in IDS {
        assert!(
            parse_event(&with_field(field, Some(json!("é".repeat(64))))).is_ok(),
            "64 chars are fine"
        );
        assert_eq!(
            single_error(field, Some(json!("x".repeat(65)))),
            format!("{field}: is 65 characters long, at most 64 allowed")
        );
    }
}

#[test]
fn ids_must_not_contain_control_characters() {
    for field in IDS {
        assert_eq!(
            single_error(field, Some(json!("a\nb"))),
            format!("{field}: must not contain control characters")
        );
    }
}

#[test]
fn status_must_be_one_of_the_three_lifecycle_values() {
    for status in ["started", "en_route", "completed"] {
        assert!(parse_event(&with_field("status", Some(json!(status)))).is_ok());
    }
    assert_eq!(
        single_error("status", Some(json!("EN_ROUTE"))),
        r#"status: "EN_ROUTE" is not one of started, en_route, completed"#
    );
    assert_eq!(
        single_error("status", Some(json!(1))),
        "status: expected a string, got a number (1)"
    );
}

#[test]
fn timestamp_accepts_rfc3339_with_offset_and_naive_utc() {
    for (text, utc) in [
        ("2024-05-01T12:30:00Z", "2024-05-01T12:30:00+00:00"),
        ("2024-05-01T14:30:00.5+02:00", "2024-05-01T12:30:00.500+00:00"),
        ("2024-05-01 12:30:00", "2024-05-01T12:30:00+00:00"),
    ] {
        let wire = parse_event(&with_field("timestamp", Some(json!(text)))).unwrap();
        assert_eq!(wire.event.timestamp.to_rfc3339(), utc, "{text}");
    }
}

#[test]
fn timestamp_must_be_a_parseable_string() {
    assert_eq!(
        single_error("timestamp", Some(json!("01/05/2024"))),
        "timestamp: \"01/05/2024\" is not an RFC 3339 timestamp (e.g. 2024-05-01T12:30:00Z; without an offset it \
         is taken as UTC)"
    );
    assert_eq!(
        single_error("timestamp", Some(json!(1714566600))),
        "timestamp: expected an RFC 3339 timestamp string, got a number (1714566600)"
    );
}

#[test]
fn timestamp_must_lie_between_1970_and_2100() {
    assert_eq!(
        single_error("timestamp", Some(json!("1969-12-31T23:59:59Z"))),
        "timestamp: 1969-12-31T23:59:59Z is outside [1970-01-01, 2100-01-01)"
    );
    assert_eq!(
        single_error("timestamp", Some(json!("2100-01-01T00:00:00Z"))),
        "timestamp: 2100-01-01T00:00:00Z is outside [1970-01-01, 2100-01-01)"
    );
    assert!(parse_event(&with_field("timestamp", Some(json!("1970-01-01T00:00:00Z")))).is_ok());
}

#[test]
fn latitudes_must_be_numbers_within_90_degrees() {
    for field in LATITUDES {
        assert_eq!(
            single_error(field, Some(json!(91.2))),
            format!("{field}: 91.2 is outside [-90, 90]")
        );
        assert_eq!(
            single_error(field, Some(json!(-90.5))),
            format!("{field}: -90.5 is outside [-90, 90]")
        );
        assert_eq!(
            single_error(field, Some(json!("37.9"))),
            format!("{field}: expected a number, got a string (\"37.9\")")
        );
        for edge in [-90, 90] {
            assert!(
                parse_event(&with_field(field, Some(json!(edge)))).is_ok(),
                "{field} = {edge}"
            );
        }
    }
}

#[test]
fn longitudes_must_be_numbers_within_180_degrees() {
    for field in LONGITUDES {
        assert_eq!(
            single_error(field, Some(json!(180.01))),
            format!("{field}: 180.01 is outside [-180, 180]")
        );
        assert_eq!(
            single_error(field, Some(json!(true))),
            format!("{field}: expected a number, got a boolean (true)")
        );
        assert!(parse_event(&with_field(field, Some(json!(-180)))).is_ok());
    }
}

#[test]
fn event_id_when_given_must_be_a_non_nil_uuid() {
    let id = "0190f1a2-7b3c-7d4e-8f50-123456789abc";
    let wire = parse_event(&with_field("event_id", Some(json!(id)))).unwrap();
    assert_eq!(wire.event_id.unwrap().to_string(), id);
    assert_eq!(
        single_error("event_id", Some(json!("abc"))),
        r#"event_id: "abc" is not a UUID"#
    );
    assert_eq!(
        single_error("event_id", Some(json!("00000000-0000-0000-0000-000000000000"))),
        "event_id: must not be the nil UUID"
    );
    assert_eq!(
        single_error("event_id", Some(json!(5))),
        "event_id: expected a UUID string, got a number (5)"
    );
}

#[test]
fn seq_when_given_is_a_non_negative_integer() {
    assert_eq!(
        parse_event(&with_field("seq", Some(json!(42))))
            .unwrap()
            .event
            .seq,
        Some(42)
    );
    assert_eq!(
        single_error("seq", Some(json!(-1))),
        "seq: expected a non-negative integer, got a number (-1)"
    );
    assert_eq!(
        single_error("seq", Some(json!(1.5))),
        "seq: expected a non-negative integer, got a number (1.5)"
    );
}

#[test]
fn speed_when_given_is_between_0_and_1000_kmh() {
    assert_eq!(
        parse_event(&with_field("speed_kmh", Some(json!(42.5))))
            .unwrap()
            .event
            .speed_kmh,
        Some(42.5)
    );
    assert_eq!(
        single_error("speed_kmh", Some(json!(-3))),
        "speed_kmh: -3 is outside [0, 1000]"
    );
    assert_eq!(
        single_error("speed_kmh", Some(json!(1200.0))),
        "speed_kmh: 1200.0 is outside [0, 1000]"
    );
}

#[test]
fn heading_when_given_is_between_0_and_360_degrees() {
    assert_eq!(
        parse_event(&with_field("heading_deg", Some(json!(360))))
            .unwrap()
            .event
            .heading_deg,
        Some(360.0)
    );
    assert_eq!(
        single_error("heading_deg", Some(json!(361))),
        "heading_deg: 361 is outside [0, 360]"
    );
}

#[test]
fn route_name_when_given_is_a_string_of_at_most_256_characters() {
    assert_eq!(
        single_error("route_name", Some(json!("r".repeat(257)))),
        "route_name: is 257 characters long, at most 256 allowed"
    );
    assert_eq!(
        single_error("route_name", Some(json!(["a"]))),
        "route_name: expected a string, got an array"
    );
}

#[test]
fn waypoint_count_when_given_fits_32_bits() {
    assert_eq!(
        parse_event(&with_field("waypoint_count", Some(json!(88))))
            .unwrap()
            .event
            .waypoint_count,
        Some(88)
    );
    assert_eq!(
        single_error("waypoint_count", Some(json!(4_294_967_296_u64))),
        "waypoint_count: 4294967296 is larger than 4294967295"
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let wire = parse_event(&with_field("battery_pct", Some(json!(81)))).unwrap();
    assert_eq!(wire.event.device_id, "device-0007");
}

#[test]
fn optional_null_fields_are_absent() {
    for field in [
        "event_id",
        "seq",
        "speed_kmh",
        "heading_deg",
        "route_name",
        "waypoint_count",
    ] {
        assert!(
            parse_event(&with_field(field, Some(Value::Null))).is_ok(),
            "{field}"
        );
    }
}

#[test]
fn every_problem_of_one_event_is_reported_at_once() {
    let mut event = original_simulator_event();
    event["current_lat"] = json!(91.2);
    event["status"] = json!("lost");
    event.as_object_mut().unwrap().remove("order_id");
    let errors = parse_event(&event.to_string()).unwrap_err();
    assert_eq!(
        errors.errors(),
        [
            FieldError::new("order_id", "is required"),
            FieldError::new("status", r#""lost" is not one of started, en_route, completed"#),
            FieldError::new("current_lat", "91.2 is outside [-90, 90]"),
        ]
    );
    assert_eq!(
        errors.to_string(),
        r#"order_id: is required; status: "lost" is not one of started, en_route, completed; current_lat: 91.2 is outside [-90, 90]"#
    );
}

#[test]
fn a_non_object_event_is_reported_at_the_root() {
    assert_eq!(errors_of("[1]"), ["$: expected an event object, got an array"]);
    assert_eq!(
        errors_of("\"x\""),
        ["$: expected an event object, got a string (\"x\")"]
    );
    assert_eq!(
        errors_of("{"),
        ["$: not valid JSON: EOF while parsing an object at line 1 column 1"]
    );
}
