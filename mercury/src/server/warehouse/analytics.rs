//! The analytics page: a period's sessions, completion, durations and order latency, completion time step by
//! step, its busiest hours of the day, its busiest vehicles, and the fleet's status now.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::periods::{self, Step};
use super::{Result, Warehouse, failed, finite};
use crate::model::{Analytics, Bucket, CompletionStep, FleetStatus, TopVehicle};

/// A vehicle not heard from for this long is offline (the overview's red freshness light).
const OFFLINE_AFTER_MS: u64 = 600_000;

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
struct StepFigures {
    step: u64,
    completed: u64,
    avg_duration_s: f64,
}

#[derive(clickhouse::Row, Deserialize)]
struct BucketCount {
    bucket: u32,
    count: u64,
}

fn epoch_ms(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

impl Warehouse {
    /// Analytics of `period` (see [`crate::model::ANALYTICS_PERIODS`]); none for another period name.
    pub async fn analytics(&self, period: &str) -> Result<Option<Analytics>> {
        let now = Utc::now();
        let Some((start, step)) = periods::resolve(period, now) else {
            return Ok(None);
        };
        let since_ms = epoch_ms(start);
        let figures = self.period_figures(since_ms).await?;
        let hours = self.peak_hours(since_ms).await?;
        let buckets = self.duration_buckets(since_ms).await?;
        let top_vehicles = self.top_vehicles(since_ms).await?;
        let steps = self.completion_steps(since_ms, step).await?;
        let fleet_status = self.fleet_status(epoch_ms(now)).await?;
        let latency = |i: usize| finite(figures.latency.get(i).copied().unwrap_or(0.0));
        let peak_hours = hours_of_day(&hours);
        Ok(Some(Analytics {
            period: period.to_owned(),
            since_ms,
            completion_time: completion_series(&steps, step, start, now),
            peak_hour: busiest(&peak_hours),
            fleet_status,
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
            duration_distribution: duration_distribution(&buckets),
            order_latency_s: [latency(0), latency(1), latency(2)],
            top_vehicles,
        }))
    }

    /// Sessions and completed ones since `since_ms`, the completed ones' average duration and distance, and the
    /// 50th, 90th and 99th percentiles of their duration.
    async fn period_figures(&self, since_ms: u64) -> Result<PeriodFigures> {
        let summary = self.table("session_summary");
        self.client
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
            .map_err(failed("analytics figures"))
    }

    /// Per `step` since `since_ms`: the sessions completed and their average duration; steps without any have
    /// no row.
    async fn completion_steps(&self, since_ms: u64, step: Step) -> Result<Vec<StepFigures>> {
        let summary = self.table("session_summary");
        self.client
            .query(&format!(
                "SELECT toUInt64({key}) AS step, count() AS completed, toFloat64(avg(duration_s)) AS avg_duration_s \
                 FROM {summary} WHERE status = 'completed' AND started_at_ms >= ? GROUP BY step ORDER BY step",
                key = step.sql_key()
            ))
            .bind(since_ms)
            .fetch_all()
            .await
            .map_err(failed("completion time"))
    }

    /// The fleet now, from gold's vehicles: active (gold's flag: a delivery under way that spoke within its
    /// `stale_after_seconds`, 5 min), idle (heard from within [`OFFLINE_AFTER_MS`] otherwise, which includes a
    /// delivery silent for 5–10 minutes), offline (silent longer).
    async fn fleet_status(&self, now_ms: u64) -> Result<FleetStatus> {
        let cutoff = now_ms.saturating_sub(OFFLINE_AFTER_MS);
        self.client
            .query(&format!(
                // The columns renamed first: ClickHouse would read `active` in the conditions as the alias.
                "SELECT countIf(on_delivery = 1 AND heard_ms >= ?) AS active, \
                   countIf(on_delivery = 0 AND heard_ms >= ?) AS idle, countIf(heard_ms < ?) AS offline \
                 FROM (SELECT active AS on_delivery, last_update_ms AS heard_ms FROM {})",
                self.table("fleet_summary")
            ))
            .bind(cutoff)
            .bind(cutoff)
            .bind(cutoff)
            .fetch_one()
            .await
            .map_err(failed("fleet status"))
    }

    /// Sessions per hour of the day since the hour of `since_ms`; hours without sessions have no row.
    async fn peak_hours(&self, since_ms: u64) -> Result<Vec<HourCount>> {
        self.client
            .query(&format!(
                "SELECT hour_of_day, toUInt64(sum(sessions)) AS sessions FROM {} \
                 WHERE hour >= toDateTime(?) GROUP BY hour_of_day ORDER BY hour_of_day",
                self.table("hourly_activity")
            ))
            .bind(since_ms / 1000 / 3600 * 3600)
            .fetch_all()
            .await
            .map_err(failed("peak hours"))
    }

    /// Sessions completed since `since_ms` per ten minutes of duration, the last bucket an hour and more;
    /// buckets without sessions have no row.
    async fn duration_buckets(&self, since_ms: u64) -> Result<Vec<BucketCount>> {
        let summary = self.table("session_summary");
        self.client
            .query(&format!(
                "SELECT toUInt32(least(intDiv(toUInt64(duration_s), 600), 6)) AS bucket, count() AS count \
                 FROM {summary} WHERE status = 'completed' AND started_at_ms >= ? GROUP BY bucket ORDER BY bucket"
            ))
            .bind(since_ms)
            .fetch_all()
            .await
            .map_err(failed("duration distribution"))
    }

    /// The ten vehicles with the most sessions completed since `since_ms` (then the longest distance).
    async fn top_vehicles(&self, since_ms: u64) -> Result<Vec<TopVehicle>> {
        let summary = self.table("session_summary");
        self.client
            .query(&format!(
                "SELECT vehicle_id, countIf(status = 'completed') AS completed, \
                   toFloat64(sum(distance_km)) AS distance_km \
                 FROM {summary} WHERE started_at_ms >= ? GROUP BY vehicle_id \
                 ORDER BY completed DESC, distance_km DESC, vehicle_id LIMIT 10"
            ))
            .bind(since_ms)
            .fetch_all()
            .await
            .map_err(failed("top vehicles"))
    }
}

/// All 24 hours of the day, `00:00` to `23:00`, an hour without a row as zero: the chart keeps its axis.
fn hours_of_day(rows: &[HourCount]) -> Vec<Bucket> {
    (0..24u8)
        .map(|hour| Bucket {
            label: format!("{hour:02}:00"),
            count: rows
                .iter()
                .find(|row| row.hour_of_day == hour)
                .map_or(0, |row| row.sessions),
        })
        .collect()
}

/// Every step of the period from `start` to `now`, a step without completed sessions with none (a gap in
/// the chart, not a zero duration).
fn completion_series(
    rows: &[StepFigures],
    step: Step,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<CompletionStep> {
    step.keys(start, now)
        .into_iter()
        .map(|(key, label)| {
            let row = rows.iter().find(|row| row.step == key);
            CompletionStep {
                label,
                completed: row.map_or(0, |row| row.completed),
                avg_duration_s: row.map(|row| finite(row.avg_duration_s)),
            }
        })
        .collect()
}

/// The busiest hour of the day (the earliest of equals); none without sessions.
fn busiest(hours: &[Bucket]) -> Option<Bucket> {
    let top = hours.iter().map(|hour| hour.count).max()?;
    (top > 0)
        .then(|| hours.iter().find(|hour| hour.count == top).cloned())
        .flatten()
}

/// All seven duration buckets, `0–10 min` to `60+ min`, a bucket without a row as zero.
fn duration_distribution(rows: &[BucketCount]) -> Vec<Bucket> {
    (0..7u32)
        .map(|bucket| Bucket {
            label: if bucket == 6 {
                "60+ min".to_owned()
            } else {
                format!("{}–{} min", bucket * 10, bucket * 10 + 10)
            },
            count: rows
                .iter()
                .find(|row| row.bucket == bucket)
                .map_or(0, |row| row.count),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(label: &str, count: u64) -> Bucket {
        Bucket {
            label: label.to_owned(),
            count,
        }
    }

    #[test]
    fn every_hour_of_the_day_is_listed_and_quiet_hours_count_zero() {
        let hours = hours_of_day(&[
            HourCount {
                hour_of_day: 0,
                sessions: 4,
            },
            HourCount {
                hour_of_day: 14,
                sessions: 9,
            },
        ]);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[0], bucket("00:00", 4));
        assert_eq!(hours[14], bucket("14:00", 9));
        assert_eq!(hours[23], bucket("23:00", 0));
        assert_eq!(hours.iter().map(|hour| hour.count).sum::<u64>(), 13);
    }

    #[test]
    fn durations_fall_in_seven_buckets_of_ten_minutes_the_last_open_ended() {
        let buckets = duration_distribution(&[
            BucketCount { bucket: 1, count: 5 },
            BucketCount { bucket: 6, count: 2 },
        ]);
        assert_eq!(
            buckets,
            [
                bucket("0–10 min", 0),
                bucket("10–20 min", 5),
                bucket("20–30 min", 0),
                bucket("30–40 min", 0),
                bucket("40–50 min", 0),
                bucket("50–60 min", 0),
                bucket("60+ min", 2),
            ]
        );
    }

    #[test]
    fn the_peak_hour_is_the_busiest_and_the_earliest_of_equals() {
        let hours = [bucket("08:00", 3), bucket("09:00", 7), bucket("17:00", 7)];
        assert_eq!(busiest(&hours), Some(bucket("09:00", 7)));
        assert_eq!(busiest(&[bucket("00:00", 0)]), None);
    }

    #[test]
    fn the_completion_series_has_a_gap_where_nothing_completed() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        let start = at("2026-12-02T10:30:00Z");
        let rows = [StepFigures {
            step: Step::Hour.key(at("2026-12-02T11:15:00Z")),
            completed: 2,
            avg_duration_s: 900.0,
        }];
        let series = completion_series(&rows, Step::Hour, start, at("2026-12-02T12:05:00Z"));
        assert_eq!(
            series,
            [
                CompletionStep {
                    label: "10:00".into(),
                    completed: 0,
                    avg_duration_s: None
                },
                CompletionStep {
                    label: "11:00".into(),
                    completed: 2,
                    avg_duration_s: Some(900.0)
                },
                CompletionStep {
                    label: "12:00".into(),
                    completed: 0,
                    avg_duration_s: None
                },
            ]
        );
    }
}
