//! Reading the silver and gold tables in ClickHouse for the pages and the API, one module per page: each adds the
//! [`Warehouse`] methods its page needs. Every value from a request is a bound parameter; the only text put into
//! SQL is the configured database name.
//!
//! The silver tables are Jupiter's (`jupiter/migrations` owns their schema) and the gold tables Uranus' (the
//! models in `uranus/dbt`): a column read here is a contract with them (docs/ARCHITECTURE.md, Silver and Gold).

mod active;
pub mod alerts;
mod analytics;
mod fleet;
mod overview;
pub mod periods;
pub mod reports;
mod sessions;
mod tracking;

use clickhouse::Client;
use serde::Deserialize;

/// A ClickHouse query failed.
#[derive(Debug, thiserror::Error)]
#[error("ClickHouse ({what}): {source}")]
pub struct QueryError {
    what: &'static str,
    source: clickhouse::error::Error,
}

type Result<T> = std::result::Result<T, QueryError>;

impl QueryError {
    /// `source` failed while reading `what`.
    pub fn new(what: &'static str, source: clickhouse::error::Error) -> Self {
        Self { what, source }
    }
}

fn failed(what: &'static str) -> impl FnOnce(clickhouse::error::Error) -> QueryError {
    move |source| QueryError { what, source }
}

/// The columns of [`SessionRow`](crate::model::SessionRow), from `session_summary`.
const SESSION_COLUMNS: &str = "session_id, vehicle_id, order_id, route_name, status, \
    toUInt64(started_at_ms) AS started_at_ms, toUInt64(last_event_at_ms) AS last_event_at_ms, \
    toFloat64(duration_s) AS duration_s, toFloat64(distance_km) AS distance_km, \
    toFloat64(avg_speed_kmh) AS avg_speed_kmh, toUInt64(events) AS events";

/// A session silent for this long counts as stale (the same as the gold models' `stale_after_seconds`).
pub const STALE_AFTER_MS: u64 = 300_000;

/// Filters of a list page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

    /// The total a page of `rows` rows proves by itself: when it is the last page (fewer rows than a page, and
    /// some, or none on the first page) the total is what came before it plus them, and no count query is
    /// needed. `None` when more may follow or the page is past the end.
    fn total_if_last_page(&self, rows: usize) -> Option<u64> {
        let rows = u64::try_from(rows).unwrap_or(u64::MAX);
        (rows < u64::from(self.per_page()) && (rows > 0 || self.offset() == 0)).then(|| self.offset() + rows)
    }
}

/// The dashboard's view of ClickHouse.
#[derive(Clone)]
pub struct Warehouse {
    client: Client,
    database: String,
}

#[derive(clickhouse::Row, Deserialize)]
struct Count {
    count: u64,
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
}

#[cfg(test)]
mod tests {
    use super::ListQuery;

    fn page(page: u32, per_page: u32) -> ListQuery {
        ListQuery {
            page: Some(page),
            per_page: Some(per_page),
            ..ListQuery::default()
        }
    }

    #[test]
    fn only_a_last_page_proves_the_total() {
        assert_eq!(page(1, 25).total_if_last_page(0), Some(0), "nothing at all");
        assert_eq!(page(1, 25).total_if_last_page(7), Some(7));
        assert_eq!(page(3, 25).total_if_last_page(7), Some(57));
        assert_eq!(
            page(1, 25).total_if_last_page(25),
            None,
            "a full page: more may follow"
        );
        assert_eq!(page(3, 25).total_if_last_page(0), None, "past the end: count");
    }
}
