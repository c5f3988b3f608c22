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
        let first_day = today - Days::new(6);
        // Independent queries, run at once: the page waits for the slowest, not the sum.
        let (figures, days, recent, silver, gold) = futures::try_join!(
            self.day_figures(today),
            self.weekly_activity(first_day, today),
            self.recent_sessions(),
            self.newest(
                "SELECT max(event_time_ms) AS newest_ms FROM {t}",
                "session_movements",
            ),
            self.newest(
                "SELECT max(last_event_at_ms) AS newest_ms FROM {t}",
                "session_summary",
            ),
        )?;
        let pair = |today: f64, yesterday: f64| DayOverDay { today, yesterday };
        Ok(Overview {
            sessions: pair(figures.sessions_today, figures.sessions_yesterday),
            orders: pair(figures.orders_today, figures.orders_yesterday),
            fleet: pair(figures.fleet_today, figures.fleet_yesterday),
            distance_km: pair(finite(figures.distance_today), finite(figures.distance_yesterday)),
            week: week_from(first_day, &days),
            recent,
            freshness: vec![freshness::layer("silver", silver), freshness::layer("gold", gold)],
        })
    }

    /// Sessions started, orders completed, vehicles out and distance driven on `today` and the day before.
    async fn day_figures(&self, today: NaiveDate) -> Result<DayFigures> {
        let yesterday = today - Days::new(1);
        let (t, y) = (today.to_string(), yesterday.to_string());
        let summary = self.table("session_summary");
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
    }

    /// Distance, sessions started and completed per day from `first_day` to `last_day`; days without sessions
    /// have no row.
    async fn weekly_activity(&self, first_day: NaiveDate, last_day: NaiveDate) -> Result<Vec<DayActivity>> {
        let summary = self.table("session_summary");
        self.client
            .query(&format!(
                "SELECT toString(toDate(started_at)) AS day, toFloat64(sum(distance_km)) AS distance_km, \
                   count() AS started, countIf(status = 'completed') AS completed \
                 FROM {summary} WHERE toDate(started_at) >= toDate(?) AND toDate(started_at) <= toDate(?) \
                 GROUP BY day ORDER BY day"
            ))
            .bind(first_day.to_string())
            .bind(last_day.to_string())
            .fetch_all::<DayActivity>()
            .await
            .map_err(failed("weekly activity"))
    }

    /// The ten sessions heard from last.
    async fn recent_sessions(&self) -> Result<Vec<SessionRow>> {
        let summary = self.table("session_summary");
        self.client
            .query(&format!(
                "SELECT {SESSION_COLUMNS} FROM {summary} ORDER BY last_event_at_ms DESC, session_id LIMIT 10"
            ))
            .fetch_all::<SessionRow>()
            .await
            .map_err(failed("recent sessions"))
    }

    /// The newest time `sql` finds in `table` (`{t}` in `sql`); none while the table is empty.
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

/// The seven days from `first_day`, each with its row of `days` or zeros: the chart shows a quiet day too.
fn week_from(first_day: NaiveDate, days: &[DayActivity]) -> Vec<DayActivity> {
    first_day
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
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: &str, distance_km: f64, started: u64, completed: u64) -> DayActivity {
        DayActivity {
            day: day.to_owned(),
            distance_km,
            started,
            completed,
        }
    }

    #[test]
    fn week_keeps_the_days_with_sessions_and_fills_the_others_with_zeros() {
        let first_day = NaiveDate::from_ymd_opt(2026, 2, 26).expect("a date");
        let week = week_from(first_day, &[day("2026-03-01", 12.5, 3, 2)]);
        assert_eq!(
            week,
            [
                day("2026-02-26", 0.0, 0, 0),
                day("2026-02-27", 0.0, 0, 0),
                day("2026-02-28", 0.0, 0, 0),
                day("2026-03-01", 12.5, 3, 2),
                day("2026-03-02", 0.0, 0, 0),
                day("2026-03-03", 0.0, 0, 0),
                day("2026-03-04", 0.0, 0, 0),
            ]
        );
    }
}
