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

impl Warehouse {
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
}
