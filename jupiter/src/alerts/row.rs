//! An alert as a row of silver's `alerts` table (column order as in `migrations/0002_alerts.sql`).

use packetpulse_model::Alert;
use serde::Serialize;

/// One row of `alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, clickhouse::Row)]
pub struct AlertRow {
    /// Hyphenated alert id.
    pub alert_id: String,
    /// snake_case kind.
    pub kind: &'static str,
    /// Session.
    pub session_id: String,
    /// Vehicle.
    pub vehicle_id: String,
    /// Geofence, empty when none.
    pub geofence_id: String,
    /// Hyphenated id of the triggering event.
    pub trigger_event_id: String,
    /// When, seconds since the epoch.
    pub at: u32,
    /// When, epoch ms.
    pub at_ms: u64,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// What a person reads.
    pub message: String,
    /// When Jupiter detected it, epoch ms (the newest detection is kept).
    pub detected_at_ms: u64,
}

impl AlertRow {
    /// The row of `alert`, detected at `detected_at_ms`.
    pub fn new(alert: &Alert, detected_at_ms: u64) -> Self {
        let at_ms = u64::try_from(alert.at.timestamp_millis()).unwrap_or(0);
        Self {
            alert_id: alert.alert_id.hyphenated().to_string(),
            kind: alert.kind.as_str(),
            session_id: alert.session_id.clone(),
            vehicle_id: alert.vehicle_id.clone(),
            geofence_id: alert.geofence_id.clone().unwrap_or_default(),
            trigger_event_id: alert.trigger_event_id.hyphenated().to_string(),
            at: u32::try_from(at_ms / 1_000).unwrap_or(u32::MAX),
            at_ms,
            lat: alert.position.lat,
            lon: alert.position.lon,
            message: alert.message.clone(),
            detected_at_ms,
        }
    }
}
