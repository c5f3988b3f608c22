//! The analytics page: a period's sessions, completion, durations and order latency, its busiest hours of the
//! day, and its busiest vehicles.

use chrono::Utc;
use serde::Deserialize;

use super::{Result, Warehouse, failed, finite};
use crate::model::{Analytics, Bucket, TopVehicle};

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

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Days in `period` (`day`, `week`, `month`, `year`); none for another name.
fn period_days(period: &str) -> Option<u64> {
    match period {
        "day" => Some(1),
        "week" => Some(7),
        "month" => Some(30),
        "year" => Some(365),
        _ => None,
    }
}

impl Warehouse {
    /// Analytics of the last `period` (`day`, `week`, `month`, `year`); none for another period name.
    pub async fn analytics(&self, period: &str) -> Result<Option<Analytics>> {
        let Some(days) = period_days(period) else {
            return Ok(None);
        };
        let since_ms = now_ms().saturating_sub(days * 86_400_000);
        let figures = self.period_figures(since_ms).await?;
        let hours = self.peak_hours(since_ms).await?;
        let buckets = self.duration_buckets(since_ms).await?;
        let top_vehicles = self.top_vehicles(since_ms).await?;
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
            peak_hours: hours_of_day(&hours),
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
    fn only_the_four_periods_have_a_length() {
        assert_eq!(period_days("day"), Some(1));
        assert_eq!(period_days("week"), Some(7));
        assert_eq!(period_days("month"), Some(30));
        assert_eq!(period_days("year"), Some(365));
        assert_eq!(period_days("decade"), None);
    }
}
