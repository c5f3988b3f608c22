//! The reports' rows, read as cursors so an export streams: a year of trips never sits in Mercury's memory.
//! Trips and stops come from gold's `session_summary` (stops from its per-session arrays), the daily summary from
//! gold's `vehicle_daily`, alerts from silver's `alerts`.

use clickhouse::query::RowCursor;
use serde::Deserialize;

use super::{Result, SESSION_COLUMNS, Warehouse, failed};
use crate::model::SessionRow;

/// A time range and an optional vehicle: `[from_ms, to_ms)`, `vehicle` exact or empty for all.
#[derive(Debug, Clone)]
pub struct ReportRange {
    /// First instant, epoch ms.
    pub from_ms: u64,
    /// First instant after the range, epoch ms.
    pub to_ms: u64,
    /// Exact vehicle id, or empty for every vehicle.
    pub vehicle: String,
    /// At most this many rows (the page's table); `None` for all (an export).
    pub limit: Option<u64>,
}

/// One vehicle's day: its trips (by start, UTC), distance and time on the road.
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
pub struct DailyRow {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Vehicle.
    pub vehicle_id: String,
    /// Trips started that day.
    pub trips: u64,
    /// Of which completed.
    pub completed: u64,
    /// Distance of those trips, km.
    pub distance_km: f64,
    /// Their summed duration, seconds.
    pub driving_s: f64,
    /// Distance over driving time, km/h.
    pub avg_speed_kmh: f64,
}

/// One alert of the alerts report.
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
pub struct AlertReportRow {
    /// When, epoch ms.
    pub at_ms: u64,
    /// Kind.
    pub kind: String,
    /// Vehicle.
    pub vehicle_id: String,
    /// Session.
    pub session_id: String,
    /// Geofence, or empty.
    pub geofence_id: String,
    /// Where.
    pub lat: f64,
    /// Where.
    pub lon: f64,
    /// Text.
    pub message: String,
    /// Id.
    pub alert_id: String,
}

/// A vehicle standing still during a session, from its first slow point until it moved again (or the session's
/// last point): gold's `session_summary` finds them.
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
pub struct StopRow {
    /// Vehicle.
    pub vehicle_id: String,
    /// Session.
    pub session_id: String,
    /// First still point, epoch ms.
    pub started_ms: u64,
    /// The point it moved again at (or the session's last), epoch ms.
    pub ended_ms: u64,
    /// Where it stood.
    pub lat: f64,
    /// Where it stood.
    pub lon: f64,
}

/// The conditions of a report's range and vehicle on a table whose time is `ms` (epoch ms) and `datetime` (the
/// same, in seconds, a column of the partition key): the (inclusive) second pair lets ClickHouse skip the
/// partitions outside the range instead of opening every part. The vehicle only when one is asked for (an
/// always-true `? = '' OR …` still costs a column read per row). Bound by [`Warehouse::ranged`].
fn in_range(ms: &str, datetime: &str, range: &ReportRange) -> String {
    format!(
        "{datetime} >= toDateTime(intDiv(?, 1000)) AND {datetime} <= toDateTime(intDiv(?, 1000)) \
         AND {ms} >= ? AND {ms} < ?{}",
        vehicle_condition(range)
    )
}

/// `range.limit` as SQL, or nothing for all rows.
fn limit_clause(range: &ReportRange) -> String {
    range
        .limit
        .map(|limit| format!(" LIMIT {limit}"))
        .unwrap_or_default()
}

/// The UTC day (`YYYY-MM-DD`) of an instant, epoch ms; the range's ends are midnights.
fn utc_day(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .unwrap_or_default()
        .date_naive()
        .to_string()
}

/// The vehicle condition, only when one is asked for (bound last, by [`bind_vehicle`]).
fn vehicle_condition(range: &ReportRange) -> &'static str {
    if range.vehicle.is_empty() {
        ""
    } else {
        " AND vehicle_id = ?"
    }
}

/// Binds [`vehicle_condition`]'s value, if it has one.
fn bind_vehicle(query: clickhouse::query::Query, range: &ReportRange) -> clickhouse::query::Query {
    if range.vehicle.is_empty() {
        query
    } else {
        query.bind(&range.vehicle)
    }
}

impl Warehouse {
    /// `sql` with its [`in_range`] conditions (or any four placeholders taking from, to, from, to, then
    /// [`vehicle_condition`]'s) bound to `range`, limited to `range.limit` rows.
    fn ranged(&self, sql: &str, range: &ReportRange) -> clickhouse::query::Query {
        let query = self
            .client
            .query(&format!("{sql}{}", limit_clause(range)))
            .bind(range.from_ms)
            .bind(range.to_ms)
            .bind(range.from_ms)
            .bind(range.to_ms);
        bind_vehicle(query, range)
    }

    /// Trips started in the range, oldest first.
    pub fn trips_report(&self, range: &ReportRange) -> Result<RowCursor<SessionRow>> {
        let summary = self.table("session_summary");
        self.ranged(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM {summary} WHERE {} ORDER BY started_at_ms, session_id",
                in_range("started_at_ms", "started_at", range)
            ),
            range,
        )
        .fetch()
        .map_err(failed("trips report"))
    }

    /// Per day (UTC, by trip start) and vehicle, in that order: gold's `vehicle_daily` rows of the range's days
    /// (its rows without trips only mark a regrouped day).
    pub fn daily_report(&self, range: &ReportRange) -> Result<RowCursor<DailyRow>> {
        let daily = self.table("vehicle_daily");
        let limit = limit_clause(range);
        // Renamed in the subquery: ClickHouse 18.16 substitutes an output alias equal to a column name into the
        // expressions that use the column.
        let query = self
            .client
            .query(&format!(
                "SELECT toString(trip_day) AS day, vehicle AS vehicle_id, trips, completed, distance_km, driving_s, \
                 if(driving_s > 0, distance_km / (driving_s / 3600), 0) AS avg_speed_kmh \
                 FROM (SELECT day AS trip_day, vehicle_id AS vehicle, trips, completed, distance_km, driving_s \
                       FROM {daily} WHERE day >= toDate(?) AND day < toDate(?) AND trips > 0{}) \
                 ORDER BY trip_day, vehicle{limit}",
                vehicle_condition(range)
            ))
            .bind(utc_day(range.from_ms))
            .bind(utc_day(range.to_ms));
        bind_vehicle(query, range).fetch().map_err(failed("daily report"))
    }

    /// Alerts in the range, oldest first.
    pub fn alerts_report(&self, range: &ReportRange) -> Result<RowCursor<AlertReportRow>> {
        let alerts = self.table("alerts");
        self.ranged(
            &format!(
                "SELECT toUInt64(at_ms) AS at_ms, kind, vehicle_id, session_id, geofence_id, lat, lon, message, \
                 alert_id FROM {alerts} FINAL WHERE {} ORDER BY at_ms, alert_id",
                in_range("at_ms", "at", range)
            ),
            range,
        )
        .fetch()
        .map_err(failed("alerts report"))
    }

    /// The stops that began in the range and lasted at least `min_ms`, by vehicle and time. Each session's stops
    /// are arrays in its `session_summary` row (at most one refresh behind), so this reads the sessions that
    /// overlap the range, not their movements: those started by the range's end (the partition key's column,
    /// so later weeks are skipped) and still reporting at its start.
    pub fn stops_report(&self, range: &ReportRange, min_ms: u64) -> Result<RowCursor<StopRow>> {
        let summary = self.table("session_summary");
        self.ranged(
            &format!(
                "SELECT vehicle_id, session_id, started_ms, ended_ms, lat, lon FROM {summary} \
                 ARRAY JOIN stop_started_at_ms AS started_ms, stop_ended_at_ms AS ended_ms, stop_lat AS lat, \
                   stop_lon AS lon \
                 WHERE last_event_at_ms >= ? AND started_at <= toDateTime(intDiv(?, 1000)) \
                   AND started_ms >= ? AND started_ms < ?{} AND ended_ms - started_ms >= ? \
                 ORDER BY vehicle_id, started_ms, session_id",
                vehicle_condition(range)
            ),
            range,
        )
        .bind(min_ms)
        .fetch()
        .map_err(failed("stops report"))
    }
}
