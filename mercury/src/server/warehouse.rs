//! Reading the silver and gold tables in ClickHouse for the pages and the API. Every value from a request is a
//! bound parameter; the only text put into SQL is the configured database name.

use chrono::{Days, NaiveDate, Utc};
use clickhouse::Client;
use packetpulse_model::geo::{GeoPoint, haversine_m};
use serde::Deserialize;

use crate::model::{
    ActiveSession, Analytics, Bucket, DayActivity, DayOverDay, FleetRow, LivePosition, Overview, Page,
    SessionDetail, SessionRow, TimelineEntry, TopVehicle, TrackPoint, Tracking,
};

/// A ClickHouse query failed.
#[derive(Debug, thiserror::Error)]
#[error("ClickHouse ({what}): {source}")]
pub struct QueryError {
    what: &'static str,
    source: clickhouse::error::Error,
}

type Result<T> = std::result::Result<T, QueryError>;

fn failed(what: &'static str) -> impl FnOnce(clickhouse::error::Error) -> QueryError {
    move |source| QueryError { what, source }
}

/// The columns of [`SessionRow`], from `session_summary`.
const SESSION_COLUMNS: &str = "session_id, vehicle_id, order_id, route_name, status, \
    toUInt64(started_at_ms) AS started_at_ms, toUInt64(last_event_at_ms) AS last_event_at_ms, \
    toFloat64(duration_s) AS duration_s, toFloat64(distance_km) AS distance_km, \
    toFloat64(avg_speed_kmh) AS avg_speed_kmh, toUInt64(events) AS events";

/// Case-insensitive substring match on the session's ids and route name; an empty search matches all.
const SESSION_SEARCH: &str = "(? = '' OR positionCaseInsensitiveUTF8(session_id, ?) > 0 \
    OR positionCaseInsensitiveUTF8(vehicle_id, ?) > 0 OR positionCaseInsensitiveUTF8(order_id, ?) > 0 \
    OR positionCaseInsensitiveUTF8(route_name, ?) > 0) AND (? = '' OR status = ?)";

/// A session silent for this long counts as stale (the same as the gold models' `stale_after_seconds`).
pub const STALE_AFTER_MS: u64 = 300_000;

/// Filters of a list page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    /// Substring of an id (or route name, for sessions).
    #[serde(default)]
    pub q: String,
    /// Exact status (sessions) or empty.
    #[serde(default)]
    pub status: String,
    /// 1-based page.
    pub page: Option<u32>,
    /// Rows per page (1–200, default 25).
    pub per_page: Option<u32>,
}

impl ListQuery {
    fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }

    fn per_page(&self) -> u32 {
        self.per_page.unwrap_or(25).clamp(1, 200)
    }

    fn offset(&self) -> u64 {
        u64::from(self.page() - 1) * u64::from(self.per_page())
    }
}

/// The dashboard's view of ClickHouse.
#[derive(Clone)]
pub struct Warehouse {
    client: Client,
    database: String,
}

#[derive(clickhouse::Row, Deserialize)]
struct DayFigures {
    sessions_today: f64,
    sessions_yesterday: f64,
    orders_today: f64,
    orders_yesterday: f64,
    fleet_today: f64,
    fleet_yesterday: f64,
    distance_today: f64,
    distance_yesterday: f64,
}

#[derive(clickhouse::Row, Deserialize)]
struct Newest {
    newest_ms: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct Count {
    count: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct Ends {
    start_lat: f64,
    start_lon: f64,
    end_lat: f64,
    end_lon: f64,
}

#[derive(clickhouse::Row, Deserialize)]
struct PeriodFigures {
    sessions: u64,
    completed: u64,
    avg_duration_s: f64,
    avg_distance_km: f64,
    latency: Vec<f64>,
}

#[derive(clickhouse::Row, Deserialize)]
struct HourCount {
    hour_of_day: u8,
    sessions: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct BucketCount {
    bucket: u32,
    count: u64,
}

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

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// NaN (an average over nothing) as zero.
fn finite(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

impl Warehouse {
    /// Reads `database` through `client`.
    pub fn new(client: Client, database: &str) -> Self {
        Self {
            client,
            database: format!("`{}`", database.replace('`', "")),
        }
    }

    fn table(&self, name: &str) -> String {
        format!("{}.{name}", self.database)
    }

    /// KPIs of `today` vs the day before, the week up to `today`, recent sessions, silver and gold freshness
    /// (the live feed's is added by the caller).
    pub async fn overview(&self, today: NaiveDate) -> Result<Overview> {
        let yesterday = today - Days::new(1);
        let (t, y) = (today.to_string(), yesterday.to_string());
        let summary = self.table("session_summary");
        let first_day = today - Days::new(6);
        // Independent queries, run at once: the page waits for the slowest, not the sum.
        let figures = async {
            self.client
                .query(&format!(
                    "SELECT \
                       toFloat64(countIf(toDate(started_at) = toDate(?))) AS sessions_today, \
                       toFloat64(countIf(toDate(started_at) = toDate(?))) AS sessions_yesterday, \
                       toFloat64(countIf(status = 'completed' AND toDate(last_event_at) = toDate(?))) AS orders_today, \
                       toFloat64(countIf(status = 'completed' AND toDate(last_event_at) = toDate(?))) AS orders_yesterday, \
                       toFloat64(uniqExactIf(vehicle_id, toDate(started_at) <= toDate(?) AND toDate(last_event_at) >= toDate(?))) AS fleet_today, \
                       toFloat64(uniqExactIf(vehicle_id, toDate(started_at) <= toDate(?) AND toDate(last_event_at) >= toDate(?))) AS fleet_yesterday, \
                       toFloat64(sumIf(distance_km, toDate(started_at) = toDate(?))) AS distance_today, \
                       toFloat64(sumIf(distance_km, toDate(started_at) = toDate(?))) AS distance_yesterday \
                     FROM {summary}"
                ))
                .bind(&t).bind(&y).bind(&t).bind(&y).bind(&t).bind(&t).bind(&y).bind(&y).bind(&t).bind(&y)
                .fetch_one::<DayFigures>()
                .await
                .map_err(failed("overview figures"))
        };
        let days = async {
            self.client
                .query(&format!(
                    "SELECT toString(toDate(started_at)) AS day, toFloat64(sum(distance_km)) AS distance_km, \
                       count() AS started, countIf(status = 'completed') AS completed \
                     FROM {summary} WHERE toDate(started_at) >= toDate(?) AND toDate(started_at) <= toDate(?) \
                     GROUP BY day ORDER BY day"
                ))
                .bind(first_day.to_string())
                .bind(&t)
                .fetch_all::<DayActivity>()
                .await
                .map_err(failed("weekly activity"))
        };
        let recent = async {
            self.client
                .query(&format!(
                    "SELECT {SESSION_COLUMNS} FROM {summary} ORDER BY last_event_at_ms DESC, session_id LIMIT 10"
                ))
                .fetch_all::<SessionRow>()
                .await
                .map_err(failed("recent sessions"))
        };
        let silver = self.newest(
            "SELECT max(event_time_ms) AS newest_ms FROM {t}",
            "session_movements",
        );
        let gold = self.newest(
            "SELECT max(last_event_at_ms) AS newest_ms FROM {t}",
            "session_summary",
        );
        let (figures, days, recent, silver, gold) = futures::try_join!(figures, days, recent, silver, gold)?;
        let week = first_day
            .iter_days()
            .take(7)
            .map(|day| {
                let day = day.to_string();
                days.iter()
                    .find(|row| row.day == day)
                    .cloned()
                    .unwrap_or(DayActivity {
                        day,
                        distance_km: 0.0,
                        started: 0,
                        completed: 0,
                    })
            })
            .collect();
        let pair = |today: f64, yesterday: f64| DayOverDay { today, yesterday };
        Ok(Overview {
            sessions: pair(figures.sessions_today, figures.sessions_yesterday),
            orders: pair(figures.orders_today, figures.orders_yesterday),
            fleet: pair(figures.fleet_today, figures.fleet_yesterday),
            distance_km: pair(finite(figures.distance_today), finite(figures.distance_yesterday)),
            week,
            recent,
            freshness: vec![
                super::freshness::layer("silver", silver),
                super::freshness::layer("gold", gold),
            ],
        })
    }

    async fn newest(&self, sql: &str, table: &str) -> Result<Option<u64>> {
        let row: Newest = self
            .client
            .query(&sql.replace("{t}", &self.table(table)))
            .fetch_one()
            .await
            .map_err(failed("freshness"))?;
        Ok((row.newest_ms > 0).then_some(row.newest_ms))
    }

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
        let mut timeline: Vec<TimelineEntry> = Vec::new();
        for point in &track {
            if !timeline.iter().any(|entry| entry.status == point.status) {
                timeline.push(TimelineEntry {
                    status: point.status.clone(),
                    at_ms: point.event_time_ms,
                });
            }
        }
        let ends = ends.unwrap_or(Ends {
            start_lat: 0.0,
            start_lon: 0.0,
            end_lat: 0.0,
            end_lon: 0.0,
        });
        Ok(Some(SessionDetail {
            summary,
            track,
            timeline,
            pickup: [ends.start_lat, ends.start_lon],
            dropoff: [ends.end_lat, ends.end_lon],
        }))
    }

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
        let total: Count = self
            .client
            .query(&format!("SELECT count() AS count FROM {fleet} WHERE {search}"))
            .bind(q)
            .bind(q)
            .fetch_one()
            .await
            .map_err(failed("fleet count"))?;
        Ok(Page {
            rows,
            total: total.count,
            page: filter.page(),
            per_page: filter.per_page(),
        })
    }

    /// Sessions under way (optionally of one status), up to `limit`.
    pub async fn active_sessions(&self, status: &str, limit: u32) -> Result<Vec<ActiveSession>> {
        self.client
            .query(&format!(
                "SELECT session_id, vehicle_id, order_id, status, lat, lon, end_lat, end_lon, \
                   toFloat64(distance_to_destination_km) AS distance_to_destination_km, \
                   toFloat64(elapsed_s) AS elapsed_s, toFloat64(avg_speed_kmh) AS avg_speed_kmh, eta_s, \
                   toUInt64(last_update_ms) AS last_update_ms \
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

    /// Analytics of the last `period` (`day`, `week`, `month`, `year`); none for another period name.
    pub async fn analytics(&self, period: &str) -> Result<Option<Analytics>> {
        let days: u64 = match period {
            "day" => 1,
            "week" => 7,
            "month" => 30,
            "year" => 365,
            _ => return Ok(None),
        };
        let since_ms = now_ms().saturating_sub(days * 86_400_000);
        let summary = self.table("session_summary");
        let figures: PeriodFigures = self
            .client
            .query(&format!(
                "SELECT count() AS sessions, countIf(status = 'completed') AS completed, \
                   toFloat64(avgIf(duration_s, status = 'completed')) AS avg_duration_s, \
                   toFloat64(avgIf(distance_km, status = 'completed')) AS avg_distance_km, \
                   quantilesExactIf(0.5, 0.9, 0.99)(toFloat64(duration_s), status = 'completed') AS latency \
                 FROM {summary} WHERE started_at_ms >= ?"
            ))
            .bind(since_ms)
            .fetch_one()
            .await
            .map_err(failed("analytics figures"))?;
        let hours: Vec<HourCount> = self
            .client
            .query(&format!(
                "SELECT hour_of_day, toUInt64(sum(sessions)) AS sessions FROM {} \
                 WHERE hour >= toDateTime(?) GROUP BY hour_of_day ORDER BY hour_of_day",
                self.table("hourly_activity")
            ))
            .bind(since_ms / 1000 / 3600 * 3600)
            .fetch_all()
            .await
            .map_err(failed("peak hours"))?;
        let buckets: Vec<BucketCount> = self
            .client
            .query(&format!(
                "SELECT toUInt32(least(intDiv(toUInt64(duration_s), 600), 6)) AS bucket, count() AS count \
                 FROM {summary} WHERE status = 'completed' AND started_at_ms >= ? GROUP BY bucket ORDER BY bucket"
            ))
            .bind(since_ms)
            .fetch_all()
            .await
            .map_err(failed("duration distribution"))?;
        let top_vehicles: Vec<TopVehicle> = self
            .client
            .query(&format!(
                "SELECT vehicle_id, countIf(status = 'completed') AS completed, \
                   toFloat64(sum(distance_km)) AS distance_km \
                 FROM {summary} WHERE started_at_ms >= ? GROUP BY vehicle_id \
                 ORDER BY completed DESC, distance_km DESC, vehicle_id LIMIT 10"
            ))
            .bind(since_ms)
            .fetch_all()
            .await
            .map_err(failed("top vehicles"))?;
        let peak_hours = (0..24u8)
            .map(|hour| Bucket {
                label: format!("{hour:02}:00"),
                count: hours
                    .iter()
                    .find(|row| row.hour_of_day == hour)
                    .map_or(0, |row| row.sessions),
            })
            .collect();
        let duration_distribution = (0..7u32)
            .map(|bucket| Bucket {
                label: if bucket == 6 {
                    "60+ min".to_owned()
                } else {
                    format!("{}–{} min", bucket * 10, bucket * 10 + 10)
                },
                count: buckets
                    .iter()
                    .find(|row| row.bucket == bucket)
                    .map_or(0, |row| row.count),
            })
            .collect();
        let latency = |i: usize| finite(figures.latency.get(i).copied().unwrap_or(0.0));
        Ok(Some(Analytics {
            period: period.to_owned(),
            sessions: figures.sessions,
            completed: figures.completed,
            completion_rate: if figures.sessions > 0 {
                figures.completed as f64 / figures.sessions as f64
            } else {
                0.0
            },
            avg_duration_s: finite(figures.avg_duration_s),
            avg_distance_km: finite(figures.avg_distance_km),
            peak_hours,
            duration_distribution,
            order_latency_s: [latency(0), latency(1), latency(2)],
            top_vehicles,
        }))
    }

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
