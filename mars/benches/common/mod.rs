//! What the benches share: settings from the environment and the events they send.

use packetpulse_model::{DeliveryEvent, WireEvent};

/// `name` from the environment as a number, else `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Event `n` of a 10,000-vehicle fleet, at second `n / 10,000`.
pub fn event(n: u64) -> WireEvent {
    let session = n % 10_000;
    WireEvent {
        event_id: None,
        event: DeliveryEvent {
            device_id: format!("device-{session:05}"),
            vehicle_id: format!("vehicle-{session:05}"),
            session_id: format!("session-{session:05}"),
            order_id: format!("order-{session:05}"),
            timestamp: chrono::DateTime::from_timestamp(1_714_566_600 + (n / 10_000) as i64, 0).unwrap(),
            start_lat: 37.975678,
            start_lon: 23.767335,
            end_lat: 37.98381,
            end_lon: 23.727539,
            current_lat: 37.9 + (n % 1000) as f64 * 1e-5,
            current_lon: 23.7 + (n % 777) as f64 * 1e-5,
            seq: Some(n / 10_000),
            speed_kmh: Some(35.0),
            heading_deg: Some(270.0),
            route_name: Some("athens-01".into()),
            waypoint_count: Some(88),
            ..packetpulse_model::testing::event()
        },
    }
}
