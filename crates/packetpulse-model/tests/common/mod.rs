//! A valid event to mutate in tests.

use serde_json::{Value, json};

/// A valid event in the original simulator's shape (naive timestamp, extra `route_name`).
pub fn original_simulator_event() -> Value {
    json!({
        "device_id": "device-0007",
        "vehicle_id": "vehicle-0007",
        "session_id": "session-3f2a",
        "order_id": "order-99812",
        "status": "en_route",
        "timestamp": "2024-05-01T12:30:00.123456",
        "start_lat": 37.975678, "start_lon": 23.767335,
        "end_lat": 37.983810, "end_lon": 23.727539,
        "current_lat": 37.979178, "current_lon": 23.765297,
        "route_name": "athens-01"
    })
}

/// The same event with one field replaced (or removed when `value` is `None`), as JSON text.
pub fn with_field(field: &str, value: Option<Value>) -> String {
    let mut event = original_simulator_event();
    let object = event.as_object_mut().unwrap();
    match value {
        Some(value) => object.insert(field.to_owned(), value),
        None => object.remove(field),
    };
    event.to_string()
}
