//! Test fixtures (feature `testing`): one valid event that tests build theirs from, so each test states only the
//! fields that matter to it — `DeliveryEvent { session_id: "s-7".into(), ..testing::event() }` — and a change to
//! the event type is made here once instead of in every test.

use chrono::{DateTime, TimeZone, Utc};

use crate::event::{DeliveryEvent, DeliveryStatus, PublishedEvent};
use crate::event_id::derive_event_id;

/// The fixture's time: 2026-11-20T08:00:00Z.
pub fn time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0)
        .single()
        .expect("a valid fixed date")
}

/// A valid `en_route` event in Athens at [`time`]: the vehicle at its pick-up point (37.98, 23.72), drop-off at
/// (38.0, 23.8), ids `device-1`, `vehicle-1`, `session-1`, `order-1`, no optional field set.
pub fn event() -> DeliveryEvent {
    DeliveryEvent {
        device_id: "device-1".into(),
        vehicle_id: "vehicle-1".into(),
        session_id: "session-1".into(),
        order_id: "order-1".into(),
        status: DeliveryStatus::EnRoute,
        timestamp: time(),
        start_lat: 37.98,
        start_lon: 23.72,
        end_lat: 38.0,
        end_lon: 23.8,
        current_lat: 37.98,
        current_lon: 23.72,
        seq: None,
        speed_kmh: None,
        heading_deg: None,
        route_name: None,
        waypoint_count: None,
    }
}

/// `event` as Venus would publish it: the id derived from its content (as for a sender that sends none) and
/// received at its own timestamp. Override either with `PublishedEvent { event_id: …, ..published(event) }`.
pub fn published(event: DeliveryEvent) -> PublishedEvent {
    PublishedEvent {
        event_id: derive_event_id(&event),
        received_at: event.timestamp,
        event,
    }
}
