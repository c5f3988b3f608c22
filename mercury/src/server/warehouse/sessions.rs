//! The sessions pages: the list, searched and paged, and one session with its track and status timeline.

use serde::Deserialize;

use super::{Count, ListQuery, Result, SESSION_COLUMNS, Warehouse, failed};
use crate::model::{Page, SessionDetail, SessionRow, TimelineEntry, TrackPoint};

/// Case-insensitive substring match on the session's ids and route name; an empty search matches all.
const SESSION_SEARCH: &str = "(? = '' OR positionCaseInsensitiveUTF8(session_id, ?) > 0 \
    OR positionCaseInsensitiveUTF8(vehicle_id, ?) > 0 OR positionCaseInsensitiveUTF8(order_id, ?) > 0 \
    OR positionCaseInsensitiveUTF8(route_name, ?) > 0) AND (? = '' OR status = ?)";

#[derive(clickhouse::Row, Deserialize)]
struct Ends {
    start_lat: f64,
    start_lon: f64,
    end_lat: f64,
    end_lon: f64,
}

impl Warehouse {
    /// Sessions matching the filter, newest first.
    pub async fn sessions(&self, filter: &ListQuery) -> Result<Page<SessionRow>> {
        let summary = self.table("session_summary");
        let bind = |query: clickhouse::query::Query| {
            let q = filter.q.trim();
            query
                .bind(q)
                .bind(q)
                .bind(q)
                .bind(q)
                .bind(q)
                .bind(&filter.status)
                .bind(&filter.status)
        };
        let rows = bind(self.client.query(&format!(
            "SELECT {SESSION_COLUMNS} FROM {summary} WHERE {SESSION_SEARCH} \
             ORDER BY last_event_at_ms DESC, session_id LIMIT ? OFFSET ?"
        )))
        .bind(filter.per_page())
        .bind(filter.offset())
        .fetch_all()
        .await
        .map_err(failed("sessions"))?;
        let total: Count = bind(self.client.query(&format!(
            "SELECT count() AS count FROM {summary} WHERE {SESSION_SEARCH}"
        )))
        .fetch_one()
        .await
        .map_err(failed("sessions count"))?;
        Ok(Page {
            rows,
            total: total.count,
            page: filter.page(),
            per_page: filter.per_page(),
        })
    }

    /// One session with its whole track and status timeline; none if unknown.
    pub async fn session(&self, session_id: &str) -> Result<Option<SessionDetail>> {
        let summary: Option<SessionRow> = self
            .client
            .query(&format!(
                "SELECT {SESSION_COLUMNS} FROM {} WHERE session_id = ? LIMIT 1",
                self.table("session_summary")
            ))
            .bind(session_id)
            .fetch_optional()
            .await
            .map_err(failed("session"))?;
        let Some(summary) = summary else { return Ok(None) };
        let movements = self.table("session_movements");
        let track: Vec<TrackPoint> = self
            .client
            .query(&format!(
                "SELECT event_time_ms, lat, lon, speed_kmh, status FROM {movements} FINAL \
                 WHERE session_id = ? ORDER BY event_time_ms, event_id"
            ))
            .bind(session_id)
            .fetch_all()
            .await
            .map_err(failed("session track"))?;
        let ends: Option<Ends> = self
            .client
            .query(&format!(
                "SELECT start_lat, start_lon, end_lat, end_lon FROM {movements} WHERE session_id = ? LIMIT 1"
            ))
            .bind(session_id)
            .fetch_optional()
            .await
            .map_err(failed("session ends"))?;
        let ends = ends.unwrap_or(Ends {
            start_lat: 0.0,
            start_lon: 0.0,
            end_lat: 0.0,
            end_lon: 0.0,
        });
        Ok(Some(SessionDetail {
            summary,
            timeline: timeline(&track),
            track,
            pickup: [ends.start_lat, ends.start_lon],
            dropoff: [ends.end_lat, ends.end_lon],
        }))
    }
}

/// Each status of `track` once, at the first point that has it.
fn timeline(track: &[TrackPoint]) -> Vec<TimelineEntry> {
    let mut timeline: Vec<TimelineEntry> = Vec::new();
    for point in track {
        if !timeline.iter().any(|entry| entry.status == point.status) {
            timeline.push(TimelineEntry {
                status: point.status.clone(),
                at_ms: point.event_time_ms,
            });
        }
    }
    timeline
}
