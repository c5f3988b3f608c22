//! The fleet page: vehicles, searched by id and paged.

use super::{Count, ListQuery, Result, Warehouse, failed};
use crate::model::{FleetRow, Page};

impl Warehouse {
    /// Vehicles matching the filter, by id.
    pub async fn fleet(&self, filter: &ListQuery) -> Result<Page<FleetRow>> {
        let fleet = self.table("fleet_summary");
        let search = "(? = '' OR positionCaseInsensitiveUTF8(vehicle_id, ?) > 0)";
        let q = filter.q.trim();
        let rows = self
            .client
            .query(&format!(
                "SELECT vehicle_id, toUInt8(active) AS active, toUInt64(trips) AS trips, \
                   toUInt64(completed_trips) AS completed_trips, toFloat64(total_km) AS total_km, \
                   toUInt64(last_update_ms) AS last_update_ms \
                 FROM {fleet} WHERE {search} ORDER BY vehicle_id LIMIT ? OFFSET ?"
            ))
            .bind(q)
            .bind(q)
            .bind(filter.per_page())
            .bind(filter.offset())
            .fetch_all()
            .await
            .map_err(failed("fleet"))?;
        let total = match filter.total_if_last_page(rows.len()) {
            Some(total) => total,
            None => {
                let total: Count = self
                    .client
                    .query(&format!("SELECT count() AS count FROM {fleet} WHERE {search}"))
                    .bind(q)
                    .bind(q)
                    .fetch_one()
                    .await
                    .map_err(failed("fleet count"))?;
                total.count
            }
        };
        Ok(Page {
            rows,
            total,
            page: filter.page(),
            per_page: filter.per_page(),
        })
    }
}
