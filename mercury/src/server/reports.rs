//! Reports: trips, stops, the daily summary per vehicle and alerts, for a vehicle (or all) over a range of UTC
//! days. The page shows the first rows as a table; the export (`Accept: text/csv`, or `format=csv` for a link)
//! streams every row as CSV straight from ClickHouse's cursor, so a year of data never sits in memory.

use std::pin::Pin;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use futures::{Stream, StreamExt, TryStreamExt};
use serde::Deserialize;

use super::api_error::ApiError;
use super::openapi::ApiErrorBody;
use super::state::AppState;
use super::warehouse::QueryError;
use super::warehouse::reports::{AlertReportRow, DailyRow, ReportRange, StopRow};
use crate::model::{REPORT_KINDS, ReportTable, SessionRow};

/// Rows the page's table (and the JSON answer) shows; the export has them all.
pub const TABLE_ROWS: u64 = 200;
/// The longest range, days.
const MAX_DAYS: i64 = 366;
/// A stand-still shorter than this is traffic, not a stop.
const DEFAULT_MIN_STOP_S: u64 = 120;

/// The filters of a report.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Exact vehicle id; empty or missing: every vehicle.
    #[serde(default)]
    pub vehicle: String,
    /// First day, `YYYY-MM-DD` (UTC); default six days before `to`.
    #[serde(default)]
    pub from: String,
    /// Last day, `YYYY-MM-DD` (UTC, included); default today. At most 366 days from `from`.
    #[serde(default)]
    pub to: String,
    /// Stops only: the shortest stand-still (under 2 km/h) that counts, seconds (default 120).
    pub min_stop_s: Option<u64>,
    /// `csv` for the export as a link can ask for it (the same as `Accept: text/csv`).
    #[serde(default)]
    pub format: String,
}

/// A stream of a report's rows as text cells.
type Rows = Pin<Box<dyn Stream<Item = Result<Vec<String>, QueryError>> + Send>>;

/// The range a query asks for, or why it is not one.
pub fn range(query: &ReportQuery, limit: Option<u64>) -> Result<ReportRange, ApiError> {
    let day = |text: &str, name: &str| {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| ApiError::BadRequest(format!("{name} must be a date YYYY-MM-DD, not {text:?}")))
    };
    let to = match query.to.trim() {
        "" => Utc::now().date_naive(),
        text => day(text, "to")?,
    };
    let from = match query.from.trim() {
        "" => to - Duration::days(6),
        text => day(text, "from")?,
    };
    if from > to {
        return Err(ApiError::BadRequest(format!("from ({from}) is after to ({to})")));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::BadRequest(format!(
            "a report covers at most {MAX_DAYS} days; {from} to {to} is {} days",
            (to - from).num_days() + 1
        )));
    }
    let ms = |date: NaiveDate| {
        let midnight = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
        u64::try_from(midnight.timestamp_millis()).unwrap_or(0)
    };
    Ok(ReportRange {
        from_ms: ms(from),
        to_ms: ms(to + Duration::days(1)),
        vehicle: query.vehicle.trim().to_owned(),
        limit,
    })
}

/// The report `kind` a request asks for: its range (at most `limit` rows), column names and rows of text cells.
/// What the page's table and the API's JSON and CSV answers share.
pub fn report(
    state: &AppState,
    kind: &str,
    query: &ReportQuery,
    limit: Option<u64>,
) -> Result<(ReportRange, &'static [&'static str], Rows), ApiError> {
    let range = range(query, limit)?;
    let (columns, rows) = rows(
        state,
        kind,
        &range,
        query.min_stop_s.unwrap_or(DEFAULT_MIN_STOP_S),
    )?;
    Ok((range, columns, rows))
}

/// The report `kind` over `range`, as rows of text cells with the column names.
fn rows(
    state: &AppState,
    kind: &str,
    range: &ReportRange,
    min_stop_s: u64,
) -> Result<(&'static [&'static str], Rows), ApiError> {
    let warehouse = &state.warehouse;
    Ok(match kind {
        "trips" => (TRIP_COLUMNS, cells(warehouse.trips_report(range)?, trip_cells)),
        "daily" => (DAILY_COLUMNS, cells(warehouse.daily_report(range)?, daily_cells)),
        "alerts" => (ALERT_COLUMNS, cells(warehouse.alerts_report(range)?, alert_cells)),
        "stops" => (
            STOP_COLUMNS,
            cells(
                warehouse.stops_report(range, min_stop_s.saturating_mul(1000))?,
                stop_cells,
            ),
        ),
        other => {
            let kinds: Vec<&str> = REPORT_KINDS.iter().map(|(kind, _)| *kind).collect();
            return Err(ApiError::BadRequest(format!(
                "report must be one of {}, not {other:?}",
                kinds.join(", ")
            )));
        }
    })
}

fn cursor_stream<T>(
    cursor: clickhouse::query::RowCursor<T>,
) -> impl Stream<Item = Result<T, QueryError>> + Send
where
    T: clickhouse::RowOwned + clickhouse::RowRead + Send + 'static,
{
    futures::stream::try_unfold(cursor, |mut cursor| async move {
        let row = cursor
            .next()
            .await
            .map_err(|source| QueryError::new("report rows", source))?;
        Ok(row.map(|row| (row, cursor)))
    })
}

fn cells<T>(cursor: clickhouse::query::RowCursor<T>, to_cells: fn(T) -> Vec<String>) -> Rows
where
    T: clickhouse::RowOwned + clickhouse::RowRead + Send + 'static,
{
    Box::pin(cursor_stream(cursor).map_ok(to_cells))
}

/// An instant as `2026-12-01T09:30:00Z`.
fn time(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn number(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        String::new()
    }
}

const TRIP_COLUMNS: &[&str] = &[
    "session_id",
    "vehicle_id",
    "order_id",
    "route_name",
    "status",
    "started_at",
    "last_event_at",
    "duration_s",
    "distance_km",
    "avg_speed_kmh",
    "events",
];

fn trip_cells(row: SessionRow) -> Vec<String> {
    vec![
        row.session_id,
        row.vehicle_id,
        row.order_id,
        row.route_name,
        row.status,
        time(row.started_at_ms),
        time(row.last_event_at_ms),
        number(row.duration_s, 0),
        number(row.distance_km, 3),
        number(row.avg_speed_kmh, 1),
        row.events.to_string(),
    ]
}

const DAILY_COLUMNS: &[&str] = &[
    "day",
    "vehicle_id",
    "trips",
    "completed",
    "distance_km",
    "driving_s",
    "avg_speed_kmh",
];

fn daily_cells(row: DailyRow) -> Vec<String> {
    vec![
        row.day,
        row.vehicle_id,
        row.trips.to_string(),
        row.completed.to_string(),
        number(row.distance_km, 3),
        number(row.driving_s, 0),
        number(row.avg_speed_kmh, 1),
    ]
}

const ALERT_COLUMNS: &[&str] = &[
    "at",
    "kind",
    "vehicle_id",
    "session_id",
    "geofence_id",
    "lat",
    "lon",
    "message",
    "alert_id",
];

fn alert_cells(row: AlertReportRow) -> Vec<String> {
    vec![
        time(row.at_ms),
        row.kind,
        row.vehicle_id,
        row.session_id,
        row.geofence_id,
        number(row.lat, 6),
        number(row.lon, 6),
        row.message,
        row.alert_id,
    ]
}

const STOP_COLUMNS: &[&str] = &[
    "vehicle_id",
    "session_id",
    "started_at",
    "ended_at",
    "duration_s",
    "lat",
    "lon",
];

fn stop_cells(stop: StopRow) -> Vec<String> {
    vec![
        stop.vehicle_id,
        stop.session_id,
        time(stop.started_ms),
        time(stop.ended_ms),
        (stop.ended_ms.saturating_sub(stop.started_ms) / 1000).to_string(),
        number(stop.lat, 6),
        number(stop.lon, 6),
    ]
}

/// A cell as a spreadsheet may read it: text that starts like a formula gets a leading `'` (CSV injection), a
/// negative number stays a number.
fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = match cell.chars().next() {
        Some('=' | '+' | '@' | '\t' | '\r') => true,
        Some('-') => cell.parse::<f64>().is_err(),
        _ => false,
    };
    if risky {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The CSV of `columns` and `rows`, a chunk per 500 rows.
fn csv_body(columns: &'static [&'static str], rows: Rows) -> Body {
    let header =
        futures::stream::once(async move { Ok::<_, QueryError>(csv_lines([columns.iter().copied()])) });
    let lines = rows
        .try_chunks(500)
        .map_ok(|chunk| {
            csv_lines(
                chunk
                    .iter()
                    .map(|row| row.iter().map(|cell| spreadsheet_safe(cell))),
            )
        })
        .map_err(|error| error.1);
    Body::from_stream(header.chain(lines).inspect_err(|error| {
        // The status line is gone: the client sees the body cut short.
        tracing::warn!(%error, "a report export failed midway");
    }))
}

/// `rows` as CSV lines (RFC 4180, CRLF), through one writer: its buffer is allocated once per chunk, not per row.
fn csv_lines<S: AsRef<str>>(rows: impl IntoIterator<Item = impl IntoIterator<Item = S>>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(row.into_iter().map(|cell| CsvCell(cell)));
    }
    writer.into_inner().unwrap_or_default()
}

/// A cell as the bytes the CSV writer takes.
struct CsvCell<S>(S);

impl<S: AsRef<str>> AsRef<[u8]> for CsvCell<S> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref().as_bytes()
    }
}

/// The first [`TABLE_ROWS`] rows of a report, for the page and the JSON answer.
pub async fn table(state: &AppState, kind: &str, query: &ReportQuery) -> Result<ReportTable, ApiError> {
    let (range, columns, rows) = report(state, kind, query, Some(TABLE_ROWS + 1))?;
    let mut rows: Vec<Vec<String>> = rows.try_collect().await?;
    let truncated = rows.len() as u64 > TABLE_ROWS;
    rows.truncate(usize::try_from(TABLE_ROWS).unwrap_or(usize::MAX));
    Ok(ReportTable {
        kind: kind.to_owned(),
        columns: columns.iter().map(|column| (*column).to_owned()).collect(),
        rows,
        truncated,
        from_ms: range.from_ms,
        to_ms: range.to_ms,
    })
}

fn wants_csv(headers: &HeaderMap, query: &ReportQuery) -> bool {
    query.format == "csv"
        || headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with("text/csv")))
}

/// `GET /api/v1/reports/{kind}`: the first rows as JSON, or every row as CSV.
#[utoipa::path(get, path = "/reports/{kind}", tag = "reports", summary = "A report, as a table or a CSV export",
    params(("kind" = String, Path, description = "`trips`, `stops`, `daily` or `alerts`"), ReportQuery),
    responses(
        (status = 200, description = "JSON: the columns and the first 200 rows (`truncated` when there are more). \
            With `Accept: text/csv` or `format=csv`: every row as CSV (RFC 4180, a header line), streamed", body = ReportTable),
        (status = 400, description = "An unknown report, a bad date, or a range over 366 days", body = ApiErrorBody),
        (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody),
    ))]
pub async fn get_report(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !wants_csv(&headers, &query) {
        return Ok(Json(table(&state, &kind, &query).await?).into_response());
    }
    let (range, columns, rows) = report(&state, &kind, &query, None)?;
    let last_day = time(range.to_ms - 1);
    let name = format!(
        "packetpulse-{kind}-{}-to-{}.csv",
        time(range.from_ms).get(..10).unwrap_or_default(),
        last_day.get(..10).unwrap_or_default()
    );
    let mut response = csv_body(columns, rows).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_negative_numbers_kept() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("-12.5"), "-12.5");
        assert_eq!(spreadsheet_safe("-cmd"), "'-cmd");
        assert_eq!(spreadsheet_safe("veh-1"), "veh-1");
        assert_eq!(
            String::from_utf8(csv_lines([["a,b", "say \"hi\"", "plain"]])).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",plain\r\n"
        );
    }

    #[test]
    fn ranges_are_whole_utc_days_and_bounded() {
        let query = |from: &str, to: &str| ReportQuery {
            from: from.into(),
            to: to.into(),
            ..ReportQuery::default()
        };
        let range = range(&query("2026-11-01", "2026-11-30"), None).unwrap();
        assert_eq!(range.from_ms, 1_793_491_200_000);
        assert_eq!(range.to_ms - range.from_ms, 30 * 86_400_000);
        assert!(super::range(&query("2026-12-01", "2026-11-30"), None).is_err());
        assert!(super::range(&query("2025-01-01", "2026-11-30"), None).is_err());
        assert!(super::range(&query("yesterday", ""), None).is_err());
    }
}
