//! The sessions pages: the list, searched and paged, and one session with its track and status timeline.

use serde::Deserialize;

use super::{Count, ListQuery, Result, SESSION_COLUMNS, Warehouse, failed};
use crate::model::{Page, SessionDetail, SessionRow, TimelineEntry, TrackPoint};

/// The conditions of a session search: a case-insensitive substring of the session's ids and route name (gold's
/// `search_text`: them lowercased, a line each) and an exact status, each only when asked for (an always-true
/// `? = '' OR …` still costs ClickHouse a column read per row). Bound by [`bind_search`].
fn session_search(q: &str, status: &str) -> String {
    let mut conditions = Vec::new();
    if !q.is_empty() {
        conditions.push("position(search_text, lowerUTF8(?)) > 0");
    }
    if !status.is_empty() {
        conditions.push("status = ?");
    }
    if conditions.is_empty() {
        "1".to_owned()
    } else {
        conditions.join(" AND ")
    }
}

/// Binds [`session_search`]'s values.
fn bind_search(mut query: clickhouse::query::Query, q: &str, status: &str) -> clickhouse::query::Query {
    if !q.is_empty() {
        query = query.bind(q);
    }
    if !status.is_empty() {
        query = query.bind(status);
    }
    query
}

/// A point of a session's track with the session's pickup and drop-off.
#[derive(clickhouse::Row, Deserialize)]
struct TrackRow {
    event_time_ms: u64,
    lat: f64,
    lon: f64,
    speed_kmh: f64,
    status: String,
    start_lat: f64,
    start_lon: f64,
    end_lat: f64,
    end_lon: f64,
}

impl Warehouse {
    /// Sessions matching the filter, newest first.
    pub async fn sessions(&self, filter: &ListQuery) -> Result<Page<SessionRow>> {
        let summary = self.table("session_summary");
        // A control character would let a search match across `search_text`'s lines; none belongs in an id.
        let q = filter.q.trim().replace(char::is_control, " ");
        let status = filter.status.trim();
        let search = session_search(&q, status);
        let rows = bind_search(
            self.client.query(&format!(
                "SELECT {SESSION_COLUMNS} FROM {summary} WHERE {search} \
                 ORDER BY last_event_at_ms DESC, session_id LIMIT ? OFFSET ?"
            )),
            &q,
            status,
        )
        .bind(filter.per_page())
        .bind(filter.offset())
        .fetch_all()
        .await
        .map_err(failed("sessions"))?;
        let total = match filter.total_if_last_page(rows.len()) {
            Some(total) => total,
            None => {
                let total: Count = bind_search(
                    self.client
                        .query(&format!("SELECT count() AS count FROM {summary} WHERE {search}")),
                    &q,
                    status,
                )
                .fetch_one()
                .await
                .map_err(failed("sessions count"))?;
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
        // The pickup and drop-off ride along on every point (constant per session): one query, not two. An event
        // stored twice (redelivered) counts once, its newest copy: what `FINAL` gives, at half its cost for one
        // session's rows (`LIMIT 1 BY` on the table's key).
        let points: Vec<TrackRow> = self
            .client
            .query(&format!(
                "SELECT event_time_ms, lat, lon, speed_kmh, status, start_lat, start_lon, end_lat, end_lon \
                 FROM {} WHERE session_id = ? \
                 ORDER BY event_time_ms, event_id, ingested_at_ms DESC LIMIT 1 BY event_time_ms, event_id",
                self.table("session_movements")
            ))
            .bind(session_id)
            .fetch_all()
            .await
            .map_err(failed("session track"))?;
        let (pickup, dropoff) = points.last().map_or(([0.0; 2], [0.0; 2]), |last| {
            ([last.start_lat, last.start_lon], [last.end_lat, last.end_lon])
        });
        let track: Vec<TrackPoint> = points
            .into_iter()
            .map(|point| TrackPoint {
                event_time_ms: point.event_time_ms,
                lat: point.lat,
                lon: point.lon,
                speed_kmh: point.speed_kmh,
                status: point.status,
            })
            .collect();
        Ok(Some(SessionDetail {
            summary,
            timeline: timeline(&track),
            track,
            pickup,
            dropoff,
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
