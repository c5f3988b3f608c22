//! The alerts page and API: silver's `alerts` (Jupiter's detector; one row per alert id, read with FINAL).

use serde::Deserialize;

use super::{Result, Warehouse, failed};

/// One alert as ClickHouse returns it (acknowledgements are added from the user database).
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
pub struct StoredAlert {
    /// Id.
    pub alert_id: String,
    /// Kind.
    pub kind: String,
    /// Session.
    pub session_id: String,
    /// Vehicle.
    pub vehicle_id: String,
    /// Geofence or empty.
    pub geofence_id: String,
    /// When, epoch ms.
    pub at_ms: u64,
    /// Where.
    pub lat: f64,
    /// Where.
    pub lon: f64,
    /// Text.
    pub message: String,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Exact kind, or empty for all.
    pub kind: String,
    /// Exact vehicle id, or empty for all.
    pub vehicle: String,
    /// Earliest alert time, epoch ms.
    pub from_ms: u64,
    /// Latest alert time, epoch ms.
    pub to_ms: u64,
    /// Ids to leave out (acknowledged ones, for the open list) or to keep only (`only_ids`). Always holds `""`
    /// (no alert has that id), so the array is never empty: ClickHouse 18.16 cannot type `has([], …)`.
    pub ids: Vec<String>,
    /// Whether `ids` is the list to keep (acknowledged) rather than to leave out (open).
    pub only_ids: bool,
    /// At most this many, newest first.
    pub limit: u32,
    /// After skipping this many.
    pub offset: u64,
}

const COLUMNS: &str = "alert_id, kind, session_id, vehicle_id, geofence_id, at_ms, lat, lon, message";

impl Warehouse {
    /// Alerts matching `filter`, newest first, and how many match in all.
    pub async fn alerts(&self, filter: &AlertFilter) -> Result<(Vec<StoredAlert>, u64)> {
        let table = self.table("alerts");
        // `ids` travel as one bound array: `has` keeps the statement's text the same whatever their number.
        let condition = "(? = '' OR kind = ?) AND (? = '' OR vehicle_id = ?) AND at_ms >= ? AND at_ms <= ? \
                         AND has(?, alert_id) = ?";
        let bind = |query: clickhouse::query::Query| {
            query
                .bind(&filter.kind)
                .bind(&filter.kind)
                .bind(&filter.vehicle)
                .bind(&filter.vehicle)
                .bind(filter.from_ms)
                .bind(filter.to_ms)
                .bind(&filter.ids)
                .bind(u8::from(filter.only_ids))
        };
        let rows = bind(self.client.query(&format!(
            "SELECT {COLUMNS} FROM {table} FINAL WHERE {condition} ORDER BY at_ms DESC, alert_id LIMIT ? OFFSET ?"
        )))
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all()
        .await
        .map_err(failed("alerts"))?;
        let total: super::Count = bind(self.client.query(&format!(
            "SELECT count() AS count FROM {table} FINAL WHERE {condition}"
        )))
        .fetch_one()
        .await
        .map_err(failed("alerts count"))?;
        Ok((rows, total.count))
    }

    /// One alert; none if unknown.
    pub async fn alert(&self, alert_id: &str) -> Result<Option<StoredAlert>> {
        let table = self.table("alerts");
        self.client
            .query(&format!(
                "SELECT {COLUMNS} FROM {table} FINAL WHERE alert_id = ? LIMIT 1"
            ))
            .bind(alert_id)
            .fetch_optional()
            .await
            .map_err(failed("alert"))
    }
}
