//! The event types: what a vehicle sends ([`WireEvent`]) and what Venus publishes ([`PublishedEvent`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::geo::GeoPoint;
use crate::timestamp;

/// Where a delivery session is in its life: `started` → `en_route` → `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The vehicle picked up the order and left the start point.
    Started,
    /// The vehicle is driving towards the destination.
    EnRoute,
    /// The order was delivered; the session ends.
    Completed,
}

impl DeliveryStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [DeliveryStatus; 3] = [Self::Started, Self::EnRoute, Self::Completed];

    /// The wire spelling, e.g. `en_route`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::EnRoute => "en_route",
            Self::Completed => "completed",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a status that is not one of [`DeliveryStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of started, en_route, completed")]
pub struct UnknownStatus(pub String);

impl FromStr for DeliveryStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// The content of one delivery event: who, which order, where, when. Valid by construction when it comes from
/// [`crate::parse_event`]; the event id and server timestamps live in the wrappers around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryEvent {
    /// The tracking device that sent the event.
    pub device_id: String,
    /// The vehicle carrying the device.
    pub vehicle_id: String,
    /// One delivery trip; the Kafka key, so a session's events stay in order on one partition.
    pub session_id: String,
    /// The order being delivered.
    pub order_id: String,
    /// Where the session is in its life.
    pub status: DeliveryStatus,
    /// When the device took the position, in UTC, truncated to microseconds.
    #[serde(with = "timestamp::rfc3339")]
    pub timestamp: DateTime<Utc>,
    /// Pick-up latitude.
    pub start_lat: f64,
    /// Pick-up longitude.
    pub start_lon: f64,
    /// Drop-off latitude.
    pub end_lat: f64,
    /// Drop-off longitude.
    pub end_lon: f64,
    /// Latitude of the vehicle when the event was taken.
    pub current_lat: f64,
    /// Longitude of the vehicle when the event was taken.
    pub current_lon: f64,
    /// Per-session counter set by the sender, if it keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Speed reported by the device, km/h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
    /// Direction of travel, degrees clockwise from north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f64>,
    /// Name of the route the vehicle follows, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_name: Option<String>,
    /// Number of points of that route, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waypoint_count: Option<u32>,
}

impl DeliveryEvent {
    /// The pick-up point.
    pub fn start(&self) -> GeoPoint {
        GeoPoint::new(self.start_lat, self.start_lon)
    }

    /// The drop-off point.
    pub fn end(&self) -> GeoPoint {
        GeoPoint::new(self.end_lat, self.end_lon)
    }

    /// Where the vehicle was.
    pub fn current(&self) -> GeoPoint {
        GeoPoint::new(self.current_lat, self.current_lon)
    }
}

/// An event as a sender puts it on the wire: the content plus an optional sender-chosen id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireEvent {
    /// Sender-chosen id; when absent, [`WireEvent::publish`] derives one with [`derive_event_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
    /// The event itself.
    #[serde(flatten)]
    pub event: DeliveryEvent,
}

/// (`effective_event_id` is in `event_id.rs`, beside the derivation.)
impl WireEvent {
    /// Stamps the event for publication: fills in the event id and records when the server received it
    /// (kept to the millisecond).
    pub fn publish(self, received_at: DateTime<Utc>) -> PublishedEvent {
        PublishedEvent {
            event_id: self.effective_event_id(),
            received_at: timestamp::truncate_to_millis(received_at),
            event: self.event,
        }
    }
}

/// The normalised event Venus publishes to the `sessions` topic and every consumer reads: `event_id`, the
/// [`DeliveryEvent`]'s keys in their order, then `received_at`, in one flat JSON object.
///
/// `to_json`/`write_json` write it directly (`payload.rs`, the hot path); the derived `Serialize` is the
/// reference they are property-tested against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PublishedEventKeys")]
pub struct PublishedEvent {
    /// Unique id of the event; consumers deduplicate on it.
    pub event_id: Uuid,
    /// The event itself.
    #[serde(flatten)]
    pub event: DeliveryEvent,
    /// When Venus received the event, UTC, millisecond precision.
    #[serde(with = "timestamp::rfc3339")]
    pub received_at: DateTime<Utc>,
}

impl PublishedEvent {
    /// The JSON payload as published to Kafka.
    pub fn to_json(&self) -> String {
        let mut json = Vec::with_capacity(PAYLOAD_CAPACITY);
        self.write_json(&mut json);
        String::from_utf8(json).expect("serde_json writes UTF-8")
    }

    /// Reads a payload from the `sessions` topic.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// Room for a typical payload (~480 bytes), so serialising does not grow the buffer.
const PAYLOAD_CAPACITY: usize = 640;

/// [`PublishedEvent`] as it is read: the same keys without `#[serde(flatten)]`, which buffers every key and value
/// before building the inner struct and made reading the topic about twice as slow.
#[derive(Deserialize)]
struct PublishedEventKeys {
    event_id: Uuid,
    device_id: String,
    vehicle_id: String,
    session_id: String,
    order_id: String,
    status: DeliveryStatus,
    #[serde(with = "timestamp::rfc3339")]
    timestamp: DateTime<Utc>,
    start_lat: f64,
    start_lon: f64,
    end_lat: f64,
    end_lon: f64,
    current_lat: f64,
    current_lon: f64,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    speed_kmh: Option<f64>,
    #[serde(default)]
    heading_deg: Option<f64>,
    #[serde(default)]
    route_name: Option<String>,
    #[serde(default)]
    waypoint_count: Option<u32>,
    #[serde(with = "timestamp::rfc3339")]
    received_at: DateTime<Utc>,
}

impl From<PublishedEventKeys> for PublishedEvent {
    fn from(keys: PublishedEventKeys) -> Self {
        Self {
            event_id: keys.event_id,
            event: DeliveryEvent {
                device_id: keys.device_id,
                vehicle_id: keys.vehicle_id,
                session_id: keys.session_id,
                order_id: keys.order_id,
                status: keys.status,
                timestamp: keys.timestamp,
                start_lat: keys.start_lat,
                start_lon: keys.start_lon,
                end_lat: keys.end_lat,
                end_lon: keys.end_lon,
                current_lat: keys.current_lat,
                current_lon: keys.current_lon,
                seq: keys.seq,
                speed_kmh: keys.speed_kmh,
                heading_deg: keys.heading_deg,
                route_name: keys.route_name,
                waypoint_count: keys.waypoint_count,
            },
            received_at: keys.received_at,
        }
    }
}
