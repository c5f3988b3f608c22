//! The fast path: a typed parse that borrows strings and checks every rule, taken for the common case of a
//! valid event. Anything it does not accept goes the field-by-field way (`validate::validate_value`).

use std::borrow::Cow;

use serde::Deserialize;

use super::{limits, rules};
use crate::event::{DeliveryEvent, WireEvent};

/// The fast path: a typed parse that borrows strings and checks every rule, taken for the common case of a
/// valid event. It only ever accepts what the field-by-field path accepts, with the same result; anything it
/// does not accept (invalid, or merely unusual such as duplicate keys) goes the field-by-field way, which words
/// every problem.
pub(crate) fn validate_fast(json: &str) -> Option<WireEvent> {
    serde_json::from_str::<FastEvent<'_>>(json).ok()?.into_valid()
}

/// The fast path for a batch frame: every element parsed and checked in one pass over the text, or `None` as
/// soon as any element needs the field-by-field path (which then handles the whole frame).
pub(crate) fn validate_fast_batch(json: &str) -> Option<Vec<WireEvent>> {
    let events: Vec<FastEvent<'_>> = serde_json::from_str(json).ok()?;
    if events.is_empty() {
        return None; // refused as a whole, with its own error, by the other path
    }
    events.into_iter().map(FastEvent::into_valid).collect()
}

/// One event as the fast path reads it: typed, with strings borrowed from the frame where they need no unescaping.
#[derive(Deserialize)]
struct FastEvent<'a> {
    #[serde(borrow)]
    device_id: Cow<'a, str>,
    #[serde(borrow)]
    vehicle_id: Cow<'a, str>,
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[serde(borrow)]
    order_id: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    start_lat: f64,
    start_lon: f64,
    end_lat: f64,
    end_lon: f64,
    current_lat: f64,
    current_lon: f64,
    #[serde(default, borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    speed_kmh: Option<f64>,
    #[serde(default)]
    heading_deg: Option<f64>,
    #[serde(default, borrow)]
    route_name: Option<Cow<'a, str>>,
    #[serde(default)]
    waypoint_count: Option<u32>,
}

impl FastEvent<'_> {
    /// The event if it passes every rule, `None` otherwise (the field-by-field path then says why).
    fn into_valid(self) -> Option<WireEvent> {
        let e = self;
        let ids = [&e.device_id, &e.vehicle_id, &e.session_id, &e.order_id];
        if ids
            .iter()
            .any(|id| rules::text_problem(id, limits::MAX_ID_CHARS, false).is_some())
        {
            return None;
        }
        let latitudes = [e.start_lat, e.end_lat, e.current_lat];
        let longitudes = [e.start_lon, e.end_lon, e.current_lon];
        if !latitudes.iter().all(|&lat| rules::in_range(lat, -90.0, 90.0))
            || !longitudes.iter().all(|&lon| rules::in_range(lon, -180.0, 180.0))
            || !e
                .speed_kmh
                .is_none_or(|v| rules::in_range(v, 0.0, limits::MAX_SPEED_KMH))
            || !e.heading_deg.is_none_or(|v| rules::in_range(v, 0.0, 360.0))
            || e.route_name
                .as_deref()
                .is_some_and(|n| rules::text_problem(n, limits::MAX_ROUTE_NAME_CHARS, true).is_some())
        {
            return None;
        }
        let event_id = match &e.event_id {
            Some(text) => Some(rules::event_id(text).ok()?),
            None => None,
        };
        Some(WireEvent {
            event_id,
            event: DeliveryEvent {
                status: rules::status(&e.status).ok()?,
                timestamp: rules::timestamp(&e.timestamp).ok()?,
                device_id: e.device_id.into_owned(),
                vehicle_id: e.vehicle_id.into_owned(),
                session_id: e.session_id.into_owned(),
                order_id: e.order_id.into_owned(),
                start_lat: e.start_lat,
                start_lon: e.start_lon,
                end_lat: e.end_lat,
                end_lon: e.end_lon,
                current_lat: e.current_lat,
                current_lon: e.current_lon,
                seq: e.seq,
                speed_kmh: e.speed_kmh,
                heading_deg: e.heading_deg,
                route_name: e.route_name.map(Cow::into_owned),
                waypoint_count: e.waypoint_count,
            },
        })
    }
}

#[cfg(test)]
mod fast_path_tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::validate_fast;
    use crate::validate::validate_value;

    fn base() -> Value {
        json!({
            "device_id": "d-1", "vehicle_id": "v-1", "session_id": "s-1", "order_id": "o-1",
            "status": "en_route", "timestamp": "2024-05-01T12:30:00.5Z",
            "start_lat": 37.9, "start_lon": 23.7, "end_lat": 38.0, "end_lon": 23.8,
            "current_lat": 37.95, "current_lon": 23.75, "seq": 3, "speed_kmh": 31.5, "heading_deg": 90,
            "route_name": "athens-01", "waypoint_count": 88, "event_id": "0190f1a2-7b3c-7d4e-8f50-123456789abc"
        })
    }

    fn any_json() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (-200.0..200.0_f64).prop_map(Value::from),
            ".{0,70}".prop_map(Value::String),
            prop_oneof![
                Just("started"),
                Just("completed"),
                Just("2024-05-01 12:30:00"),
                Just("1969-12-31T23:59:59Z")
            ]
            .prop_map(|s| Value::String(s.into())),
        ]
    }

    #[test]
    fn a_plain_valid_event_takes_the_fast_path() {
        assert!(validate_fast(&base().to_string()).is_some());
    }

    proptest! {
        #[test]
        fn the_batch_fast_path_agrees_with_the_path_element_by_element(
            field in prop::sample::select(vec!["device_id", "status", "timestamp", "current_lat", "event_id",
                "speed_kmh", "route_name", "unknown_field"]),
            value in any_json(),
            position in 0usize..3,
        ) {
            let mut events = vec![base(), base(), base()];
            events[position][field] = value;
            let text = Value::Array(events.clone()).to_string();
            if let Some(fast) = super::validate_fast_batch(&text) {
                let slow: Vec<_> = events.iter().map(validate_value).collect();
                prop_assert_eq!(fast.into_iter().map(Ok).collect::<Vec<_>>(), slow);
            }
        }

        #[test]
        fn the_fast_path_only_accepts_what_the_full_validation_accepts(
            field in prop::sample::select(vec!["device_id", "vehicle_id", "status", "timestamp", "start_lat",
                "current_lon", "event_id", "seq", "speed_kmh", "heading_deg", "route_name", "waypoint_count",
                "unknown_field"]),
            value in any_json(),
            remove in any::<bool>(),
        ) {
            let mut event = base();
            if remove {
                event.as_object_mut().unwrap().remove(field);
            } else {
                event[field] = value;
            }
            let text = event.to_string();
            if let Some(fast) = validate_fast(&text) {
                prop_assert_eq!(Ok(fast), validate_value(&event));
            }
        }
    }
}
