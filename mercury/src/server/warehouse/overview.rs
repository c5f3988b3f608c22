//! The overview page: today's figures against yesterday's, the week's activity, the latest sessions, and how
//! fresh silver and gold are.

use chrono::{Days, NaiveDate};
use serde::Deserialize;

use super::{Result, SESSION_COLUMNS, Warehouse, failed, finite};
use crate::model::{DayActivity, DayOverDay, Overview, SessionRow};
use crate::server::freshness;

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

impl Warehouse {
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
            freshness: vec![freshness::layer("silver", silver), freshness::layer("gold", gold)],
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
}
