//! The live map: the sessions under way, and the newest position of each to start the map from.

use super::{Result, Warehouse, failed};
use crate::model::{ActiveSession, LivePosition};

impl Warehouse {
    /// Sessions under way (optionally of one status), up to `limit`.
    pub async fn active_sessions(&self, status: &str, limit: u32) -> Result<Vec<ActiveSession>> {
        self.client
            .query(&format!(
                "SELECT session_id, vehicle_id, order_id, status, lat, lon, end_lat, end_lon, \
                   toFloat64(distance_to_destination_km) AS distance_to_destination_km, \
                   toFloat64(elapsed_s) AS elapsed_s, toFloat64(avg_speed_kmh) AS avg_speed_kmh, eta_s, \
                   toUInt64(last_update_ms) AS last_update_ms, toUInt64(started_at_ms) AS started_at_ms \
                 FROM {} WHERE (? = '' OR status = ?) ORDER BY session_id LIMIT ?",
                self.table("active_sessions")
            ))
            .bind(status)
            .bind(status)
            .bind(limit)
            .fetch_all()
            .await
            .map_err(failed("active sessions"))
    }

    /// Newest position of every session heard from since `since_ms` and not completed: the live map's
    /// starting point after Mercury starts.
    pub async fn live_positions(&self, since_ms: u64) -> Result<Vec<LivePosition>> {
        self.client
            .query(&format!(
                "SELECT session_id, vehicle_id, order_id, status, lat, lon, end_lat, end_lon, \
                   toNullable(speed_kmh) AS speed_kmh, heading_deg, event_time_ms \
                 FROM {} FINAL WHERE status != 'completed' AND event_time_ms >= ?",
                self.table("latest_positions")
            ))
            .bind(since_ms)
            .fetch_all()
            .await
            .map_err(failed("live positions"))
    }
}
