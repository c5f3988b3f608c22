//! Properties over generated input: valid events survive the wire unchanged, and no input makes parsing panic.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

use chrono::{DateTime, TimeZone, Utc};
use packetpulse_model::{DeliveryEvent, DeliveryStatus, PublishedEvent, WireEvent, parse_event, parse_frame};
use proptest::prelude::*;
use uuid::Uuid;

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:-]{1,64}"
}

fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970-01-01 .. 2099-12-31, microsecond precision, as the contract keeps it.
    (0_i64..4_102_444_800_000_000).prop_map(|micros| Utc.timestamp_micros(micros).unwrap())
}

fn optional_f64(range: std::ops::RangeInclusive<f64>) -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(range)
}

fn delivery_event() -> impl Strategy<Value = DeliveryEvent> {
    let ids = (id(), id(), id(), id());
    let status = prop_oneof![
        Just(DeliveryStatus::Started),
        Just(DeliveryStatus::EnRoute),
        Just(DeliveryStatus::Completed)
    ];
    let lat = || -90.0..=90.0_f64;
    let lon = || -180.0..=180.0_f64;
    let coordinates = (lat(), lon(), lat(), lon(), lat(), lon());
    let optional = (
        any::<Option<u64>>(),
        optional_f64(0.0..=1000.0),
        optional_f64(0.0..=360.0),
        proptest::option::of(".{0,256}"),
        any::<Option<u32>>(),
    );
    (ids, status, timestamp(), coordinates, optional).prop_map(
        |(
            (device_id, vehicle_id, session_id, order_id),
            status,
            timestamp,
            (start_lat, start_lon, end_lat, end_lon, current_lat, current_lon),
            (seq, speed_kmh, heading_deg, route_name, waypoint_count),
        )| DeliveryEvent {
            device_id,
            vehicle_id,
            session_id,
            order_id,
            status,
            timestamp,
            start_lat,
            start_lon,
            end_lat,
            end_lon,
            current_lat,
            current_lon,
            seq,
            speed_kmh,
            heading_deg,
            // Control characters are rejected by validation: keep generated names clear of them.
            route_name: route_name.map(|name| name.chars().filter(|c| !c.is_control()).collect()),
            waypoint_count,
        },
    )
}

fn wire_event() -> impl Strategy<Value = WireEvent> {
    (
        proptest::option::of(any::<u128>().prop_filter("nil", |n| *n != 0)),
        delivery_event(),
    )
        .prop_map(|(id, event)| WireEvent {
            event_id: id.map(Uuid::from_u128),
            event,
        })
}

proptest! {
    #[test]
    fn a_valid_event_round_trips_through_the_wire_format(wire in wire_event()) {
        let json = serde_json::to_string(&wire).unwrap();
        let parsed = parse_event(&json);
        prop_assert_eq!(parsed, Ok(wire));
    }

    #[test]
    fn a_published_event_round_trips_through_kafka_json(wire in wire_event(), received in timestamp()) {
        let published = wire.publish(received);
        let back = PublishedEvent::from_json(published.to_json().as_bytes()).unwrap();
        prop_assert_eq!(back, published);
    }

    #[test]
    fn a_batch_of_valid_events_parses_into_the_same_events(events in proptest::collection::vec(wire_event(), 1..8)) {
        let json = serde_json::to_string(&events).unwrap();
        let parsed: Vec<WireEvent> = parse_frame(&json).unwrap().into_iter().map(|e| e.result.unwrap()).collect();
        prop_assert_eq!(parsed, events);
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_frame(&text);
        let _ = parse_event(&text);
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_json_shaped_text(text in r#"[\[\]{}",:0-9a-z_.eE+\- ]{0,200}"#) {
        let _ = parse_frame(&text);
    }

    #[test]
    fn parsing_never_panics_on_events_with_arbitrary_field_values(
        field in prop::sample::select(vec!["device_id", "status", "timestamp", "current_lat", "seq", "event_id",
                                           "speed_kmh", "heading_deg", "route_name", "waypoint_count"]),
        value in any_json_value(),
    ) {
        let mut event: serde_json::Value = serde_json::to_value(
            WireEvent { event_id: None, event: packetpulse_model::testing::event() }).unwrap();
        event[field] = value;
        let _ = parse_event(&event.to_string());
    }
}

fn any_json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,80}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::hash_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
