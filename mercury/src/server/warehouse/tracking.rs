//! The public tracking page: where one order is, how far it has to go, and when it should arrive.

use packetpulse_model::geo::{GeoPoint, haversine_m};
use serde::Deserialize;

use super::{Result, Warehouse, failed};
use crate::model::Tracking;

#[derive(clickhouse::Row, Deserialize)]
struct LatestOrderPosition {
    order_id: String,
    status: String,
    event_time_ms: u64,
    lat: f64,
    lon: f64,
    end_lat: f64,
    end_lon: f64,
}

#[derive(clickhouse::Row, Deserialize)]
struct Eta {
    status: String,
    eta_s: Option<u64>,
}

impl Warehouse {
    /// The public view of one order; none if unknown.
    pub async fn tracking(&self, order_id: &str) -> Result<Option<Tracking>> {
        let latest: Option<LatestOrderPosition> = self
            .client
            .query(&format!(
                "SELECT order_id, status, event_time_ms, lat, lon, end_lat, end_lon FROM {} FINAL \
                 WHERE order_id = ? ORDER BY event_time_ms DESC LIMIT 1",
                self.table("latest_positions")
            ))
            .bind(order_id)
            .fetch_optional()
            .await
            .map_err(failed("tracking"))?;
        let Some(latest) = latest else { return Ok(None) };
        let eta: Option<Eta> = self
            .client
            .query(&format!(
                "SELECT status, eta_s FROM {} WHERE order_id = ? LIMIT 1",
                self.table("active_sessions")
            ))
            .bind(order_id)
            .fetch_optional()
            .await
            .map_err(failed("tracking ETA"))?;
        let distance_remaining_km = haversine_m(
            GeoPoint::new(latest.lat, latest.lon),
            GeoPoint::new(latest.end_lat, latest.end_lon),
        ) / 1000.0;
        let completed = latest.status == "completed";
        Ok(Some(Tracking {
            order_id: latest.order_id,
            status: match &eta {
                Some(eta) if !completed => eta.status.clone(),
                _ => latest.status,
            },
            last_update_ms: latest.event_time_ms,
            position: [latest.lat, latest.lon],
            destination: [latest.end_lat, latest.end_lon],
            distance_remaining_km: if completed { 0.0 } else { distance_remaining_km },
            eta_s: if completed {
                None
            } else {
                eta.and_then(|eta| eta.eta_s)
            },
        }))
    }
}
