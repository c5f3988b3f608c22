//! From a sender's event to the record on the `sessions` topic: ids, timestamps and the JSON consumers read.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use chrono::{TimeZone, Utc};
use common::{original_simulator_event, with_field};
use packetpulse_model::{DeadLetter, FieldError, PublishedEvent, derive_event_id, parse_event, topics};
use serde_json::{Value, json};

#[test]
fn a_retransmitted_event_gets_the_same_derived_id() {
    let first = parse_event(&original_simulator_event().to_string()).unwrap();
    let again = parse_event(&original_simulator_event().to_string()).unwrap();
    assert_eq!(first.effective_event_id(), again.effective_event_id());
    assert_eq!(first.effective_event_id().get_version_num(), 5);
}

#[test]
fn the_derived_id_is_stable_across_releases() {
    // Changing the derivation would split stored duplicates into distinct events: this value is frozen. It was
    // cross-checked with Python: uuid.uuid5(NAMESPACE, "session-3f2a\nen_route\n1714566600123456\n37.979178\n23.765297").
    let wire = parse_event(&original_simulator_event().to_string()).unwrap();
    assert_eq!(
        derive_event_id(&wire.event).to_string(),
        "920082eb-b5c8-567a-8058-dfda1d5cc887"
    );
}

#[test]
fn the_derived_id_changes_with_status_time_or_position() {
    let base = parse_event(&original_simulator_event().to_string())
        .unwrap()
        .effective_event_id();
    for (field, value) in [
        ("status", json!("completed")),
        ("timestamp", json!("2024-05-01T12:30:00.123457")),
        ("current_lat", json!(37.979179)),
        ("current_lon", json!(23.765298)),
        ("session_id", json!("session-other")),
    ] {
        let changed = parse_event(&with_field(field, Some(value)))
            .unwrap()
            .effective_event_id();
        assert_ne!(changed, base, "{field}");
    }
    // Fields outside the derivation do not change it.
    let same = parse_event(&with_field("speed_kmh", Some(json!(30))))
        .unwrap()
        .effective_event_id();
    assert_eq!(same, base);
}

#[test]
fn the_same_instant_in_another_offset_or_zero_sign_gives_the_same_id() {
    let base = parse_event(&original_simulator_event().to_string())
        .unwrap()
        .effective_event_id();
    let offset = parse_event(&with_field(
        "timestamp",
        Some(json!("2024-05-01T15:30:00.123456+03:00")),
    ))
    .unwrap();
    assert_eq!(offset.effective_event_id(), base);

    let zero = parse_event(&with_field("current_lon", Some(json!(0.0))))
        .unwrap()
        .effective_event_id();
    let minus_zero = parse_event(&with_field("current_lon", Some(json!(-0.0))))
        .unwrap()
        .effective_event_id();
    assert_eq!(zero, minus_zero);
}

#[test]
fn a_senders_event_id_is_kept() {
    let id = "0190f1a2-7b3c-7d4e-8f50-123456789abc";
    let wire = parse_event(&with_field("event_id", Some(json!(id)))).unwrap();
    assert_eq!(wire.effective_event_id().to_string(), id);
}

#[test]
fn the_published_json_is_the_normalised_event_plus_id_and_received_at() {
    let wire = parse_event(&original_simulator_event().to_string()).unwrap();
    let received_at = Utc.timestamp_micros(1_714_566_601_987_654).unwrap();
    let published = wire.publish(received_at);
    let json: Value = serde_json::from_str(&published.to_json()).unwrap();
    assert_eq!(json["event_id"], "920082eb-b5c8-567a-8058-dfda1d5cc887");
    assert_eq!(
        json["timestamp"], "2024-05-01T12:30:00.123456Z",
        "normalised to UTC with Z"
    );
    assert_eq!(
        json["received_at"], "2024-05-01T12:30:01.987Z",
        "server time, kept to the millisecond"
    );
    assert_eq!(json["status"], "en_route");
    assert_eq!(json["route_name"], "athens-01");
    assert!(
        json.get("speed_kmh").is_none(),
        "absent optional fields stay absent"
    );

    let back = PublishedEvent::from_json(published.to_json().as_bytes()).unwrap();
    assert_eq!(back, published);
}

#[test]
fn published_json_is_the_event_json_between_id_and_received_at() {
    let received_at = Utc.timestamp_micros(1_714_566_601_987_654).unwrap();
    let mut full = original_simulator_event();
    full["seq"] = 7.into();
    full["speed_kmh"] = 31.5.into();
    full["heading_deg"] = 270.0.into();
    full["waypoint_count"] = 88.into();
    full["route_name"] = "a \"quoted\" \\ route".into();
    let mut bare = original_simulator_event();
    for optional in ["seq", "speed_kmh", "heading_deg", "route_name", "waypoint_count"] {
        bare.as_object_mut().unwrap().remove(optional);
    }
    for event in [full, bare] {
        let published = parse_event(&event.to_string()).unwrap().publish(received_at);
        let event_json = serde_json::to_string(&published.event).unwrap();
        let expected = format!(
            r#"{{"event_id":"{}",{},"received_at":"2024-05-01T12:30:01.987Z"}}"#,
            published.event_id,
            &event_json[1..event_json.len() - 1]
        );
        assert_eq!(published.to_json(), expected);
        let mut buffer = b"kept".to_vec();
        published.write_json(&mut buffer);
        assert_eq!(buffer, [b"kept".as_slice(), expected.as_bytes()].concat());
    }
}

#[test]
fn a_published_event_without_id_or_received_at_does_not_parse() {
    let mut event = original_simulator_event();
    event["timestamp"] = json!("2024-05-01T12:30:00Z");
    let error = PublishedEvent::from_json(event.to_string().as_bytes()).unwrap_err();
    assert!(error.to_string().contains("event_id"), "{error}");
}

#[test]
fn dead_letters_carry_the_raw_payload_reason_and_client() {
    let letter = DeadLetter {
        raw_payload: "{\"current_lat\": 91.2}".into(),
        reason: "event failed validation".into(),
        errors: vec![FieldError::new("current_lat", "91.2 is outside [-90, 90]")],
        client: Some("fleet-simulator".into()),
        source: "venus".into(),
        kafka_partition: None,
        kafka_offset: None,
        refused_at: Utc.timestamp_millis_opt(1_714_566_601_987).unwrap(),
    };
    let json: Value = serde_json::from_str(&letter.to_json()).unwrap();
    assert_eq!(
        json,
        json!({
            "raw_payload": "{\"current_lat\": 91.2}",
            "reason": "event failed validation",
            "errors": [{"field": "current_lat", "message": "91.2 is outside [-90, 90]"}],
            "client": "fleet-simulator",
            "source": "venus",
            "refused_at": "2024-05-01T12:30:01.987Z"
        })
    );
    assert_eq!(serde_json::from_value::<DeadLetter>(json).unwrap(), letter);
    assert_eq!(
        (topics::SESSIONS, topics::DEAD_LETTER),
        ("sessions", "sessions.dlq")
    );
}
