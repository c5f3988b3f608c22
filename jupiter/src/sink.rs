//! The sink: inserts batches into `session_movements` on a task of its own, so the next batch is read and
//! enriched while the previous one is inserted (reading and inserting overlap instead of taking turns). One batch
//! may wait while another is inserted; beyond that [`SilverSink::submit`] waits, so a slow or unreachable
//! ClickHouse pauses reading (back-pressure) instead of buffering without bound. Only once a batch is in does its
//! `after_insert` run (the pipeline commits Kafka offsets there), and batches land in the order they were
//! submitted.
//!
//! Failures come in two kinds. Passing trouble (ClickHouse down, hung past `CLICKHOUSE_TIMEOUT`, busy) is retried
//! with back-off until the insert lands or shutdown; after a few failures in a row `/health` reports it. An insert
//! ClickHouse refuses for the rows it carries (`packetpulse_ops::clickhouse::refused_the_data`) is split in
//! halves until the refused rows stand alone: the rest is inserted, and each refused row goes to the dead-letter
//! topic with the server's message before the offsets are committed.

use std::time::Duration;

use chrono::{Datelike, Utc};
use clickhouse::Client;
use packetpulse_model::DeadLetter;
use packetpulse_ops::Health;
use packetpulse_ops::kafka::dead_letter::DeadLetters;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::alerts::AlertRow;
use crate::metrics::Metrics;
use crate::retry::Backoff;
use crate::transform::Movement;

/// Modern ClickHouse refuses an insert that touches more partitions (`session_movements` has one per month of
/// event time) than its `max_partitions_per_insert_block`, 100 by default; 18.16 has no such limit. A batch can
/// span that many months when a device's clock is wrong, so such a batch is inserted in parts.
const MAX_PARTITIONS_PER_INSERT: usize = 100;

/// What runs once a batch is in ClickHouse.
pub type AfterInsert = Box<dyn FnOnce() + Send>;

/// Rows to insert, with what the metrics need and what to do once they landed.
pub struct Batch {
    /// The rows.
    pub rows: Vec<Movement>,
    /// The alerts the rows (or a tick) raised, already in Kafka; inserted before the rows.
    pub alerts: Vec<AlertRow>,
    /// Newest event time among the rows (epoch ms), for the freshness gauge; 0 when unknown.
    pub newest_event_ms: u64,
    /// When the batch's first row was read, for the batch latency histogram.
    pub started: Instant,
    /// Run after the insert succeeded.
    pub after_insert: Option<AfterInsert>,
}

/// How the sink behaves around its inserts.
pub struct SinkOptions {
    /// Where the counts go.
    pub metrics: Metrics,
    /// Stops retrying.
    pub shutdown: CancellationToken,
    /// Where rows ClickHouse refuses go; without it (backfill, seeding) they are logged and counted only.
    pub dead_letters: Option<DeadLetters>,
    /// Told while inserts keep failing.
    pub health: Health,
    /// How long one insert may take before ClickHouse is treated as hung and the insert retried.
    pub timeout: Duration,
}

impl SinkOptions {
    /// No dead-letter topic, a health nobody reads, the default `CLICKHOUSE_TIMEOUT`.
    pub fn new(metrics: Metrics, shutdown: CancellationToken) -> Self {
        Self {
            metrics,
            shutdown,
            dead_letters: None,
            health: Health::default(),
            timeout: Duration::from_secs(120),
        }
    }
}

/// The insert task and the queue in front of it.
pub struct SilverSink {
    queue: mpsc::Sender<Batch>,
    task: JoinHandle<Result<(), Error>>,
}

impl SilverSink {
    /// Starts the insert task writing to `client`'s database.
    pub fn start(client: Client, options: SinkOptions) -> Self {
        let (queue, mut batches) = mpsc::channel::<Batch>(1);
        let backoff = Backoff::new(
            "insert",
            "inserting into ClickHouse",
            options.health.clone(),
            options.shutdown.clone(),
            options.timeout,
        );
        let mut writer = Writer {
            client,
            options,
            backoff,
        };
        let task = tokio::spawn(async move {
            while let Some(batch) = batches.recv().await {
                writer.write(batch).await?;
            }
            Ok(())
        });
        Self { queue, task }
    }

    /// Queues `batch`, waiting while the task is busy with an earlier one. Fails when the task has stopped
    /// (shutdown during a retry); [`SilverSink::finish`] then returns why.
    pub async fn submit(&self, batch: Batch) -> Result<(), Error> {
        self.queue
            .send(batch)
            .await
            .map_err(|_| Error::ShutdownBeforeInsert { rows: 0 })
    }

    /// Waits until every submitted batch is inserted (or the task failed) and returns the task's result.
    pub async fn finish(self) -> Result<(), Error> {
        drop(self.queue);
        match self.task.await {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        }
    }
}

fn record(metrics: &Metrics, rows: &[Movement], newest_event_ms: u64, started: Instant) {
    metrics.record_rows(rows);
    metrics.batches.inc();
    metrics.batch_latency.observe(started.elapsed().as_secs_f64());
    if newest_event_ms > 0 {
        metrics
            .freshness
            .set(now_ms().saturating_sub(newest_event_ms) as f64 / 1_000.0);
    }
    tracing::debug!(rows = rows.len(), "inserted");
}

/// The insert task's state.
struct Writer {
    client: Client,
    options: SinkOptions,
    backoff: Backoff,
}

/// How one insert attempt ended, failures aside.
enum Outcome {
    Landed,
    /// ClickHouse refused the rows themselves, with its message.
    Refused(String),
}

impl Writer {
    /// Inserts a batch (splitting around refused rows), dead-letters what was refused, then runs `after_insert`.
    async fn write(&mut self, batch: Batch) -> Result<(), Error> {
        self.insert_alerts(&batch.alerts).await?;
        let mut refused = Vec::new();
        let mut start = 0;
        for rows in by_partition_limit(&batch.rows) {
            for (index, message) in self.insert_accepting(rows).await? {
                refused.push((start + index, message));
            }
            start += rows.len();
        }
        self.dead_letter(&batch.rows, &refused).await?;
        if let Some(after_insert) = batch.after_insert {
            after_insert();
        }
        let metrics = &self.options.metrics;
        if refused.is_empty() {
            record(metrics, &batch.rows, batch.newest_event_ms, batch.started);
        } else {
            let mut landed = batch.rows;
            for (index, _) in refused.iter().rev() {
                landed.remove(*index);
            }
            record(metrics, &landed, batch.newest_event_ms, batch.started);
        }
        Ok(())
    }

    /// Inserts `rows`, halving any part ClickHouse refuses until the refused rows stand alone; returns their
    /// indexes in `rows` with the server's message. Passing trouble is retried inside.
    async fn insert_accepting(&mut self, rows: &[Movement]) -> Result<Vec<(usize, String)>, Error> {
        let mut refused = Vec::new();
        let mut parts = vec![(0, rows.len())];
        while let Some((start, end)) = parts.pop() {
            let part = &rows[start..end];
            match self
                .insert_with_retry(packetpulse_model::clickhouse::SESSION_MOVEMENTS, part)
                .await?
            {
                Outcome::Landed => {}
                Outcome::Refused(message) if end - start == 1 => refused.push((start, message)),
                Outcome::Refused(_) => {
                    let middle = start + (end - start) / 2;
                    // Popped first half first, so rows land in order.
                    parts.push((middle, end));
                    parts.push((start, middle));
                }
            }
        }
        Ok(refused)
    }

    /// Inserts `rows` into `table`, retrying passing trouble; says whether ClickHouse refused the rows themselves.
    async fn insert_with_retry<T: clickhouse::RowOwned + clickhouse::RowWrite>(
        &mut self,
        table: &str,
        rows: &[T],
    ) -> Result<Outcome, Error> {
        loop {
            let attempt = insert_rows(&self.client, table, rows);
            let problem = match tokio::time::timeout(self.backoff.timeout, attempt).await {
                Ok(Ok(())) => {
                    self.backoff.succeeded();
                    return Ok(Outcome::Landed);
                }
                Ok(Err(error)) if packetpulse_ops::clickhouse::refused_the_data(&error) => {
                    self.options.metrics.insert_failures.inc();
                    tracing::warn!(%error, table, rows = rows.len(), "ClickHouse refused the rows");
                    return Ok(Outcome::Refused(error.to_string()));
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => self.backoff.no_answer(),
            };
            self.options.metrics.insert_failures.inc();
            let on_shutdown = Error::ShutdownBeforeInsert { rows: rows.len() };
            self.backoff.failed(&problem, on_shutdown).await?;
        }
    }

    /// Inserts alert rows, retrying passing trouble. Rows Jupiter built from valid events and its own rules;
    /// should ClickHouse refuse them anyway, they are dead-lettered with its message (they are in the alerts
    /// topic already).
    async fn insert_alerts(&mut self, alerts: &[AlertRow]) -> Result<(), Error> {
        if alerts.is_empty() {
            return Ok(());
        }
        match self
            .insert_with_retry(packetpulse_model::clickhouse::ALERTS, alerts)
            .await?
        {
            Outcome::Landed => {
                self.options
                    .metrics
                    .rows_inserted_by_table
                    .with_label_values(&[packetpulse_model::clickhouse::ALERTS])
                    .inc_by(alerts.len() as u64);
                Ok(())
            }
            Outcome::Refused(message) => self.dead_letter_all(alerts, &message).await,
        }
    }

    async fn dead_letter_all<T: serde::Serialize>(&mut self, rows: &[T], message: &str) -> Result<(), Error> {
        let letters = rows.iter().map(|row| refused_row(row, message));
        self.send_dead_letters(letters).await
    }

    async fn send_dead_letters(&mut self, letters: impl Iterator<Item = DeadLetter>) -> Result<(), Error> {
        let Some(dead_letters) = &mut self.options.dead_letters else {
            for letter in letters {
                tracing::warn!(row = %letter.raw_payload, reason = %letter.reason, "ClickHouse refused a row; skipped");
            }
            return Ok(());
        };
        for letter in letters {
            dead_letters.send(&letter)?;
            self.options.metrics.dead_lettered.inc();
        }
        dead_letters.acknowledged().await?;
        Ok(())
    }

    /// Sends each refused row to the dead-letter topic and waits until Kafka has them all (the offsets are
    /// committed right after). Without a topic, logs them.
    async fn dead_letter(&mut self, rows: &[Movement], refused: &[(usize, String)]) -> Result<(), Error> {
        if refused.is_empty() {
            return Ok(());
        }
        let letters = refused
            .iter()
            .map(|(index, message)| refused_row(&rows[*index], message));
        self.send_dead_letters(letters).await
    }
}

/// The dead letter of a silver row ClickHouse refused with `message`.
fn refused_row<T: serde::Serialize>(row: &T, message: &str) -> DeadLetter {
    DeadLetter {
        raw_payload: serde_json::to_string(row).expect("a silver row always serialises"),
        reason: format!("ClickHouse refused the silver row: {message}"),
        errors: Vec::new(),
        client: None,
        source: "jupiter".into(),
        kafka_partition: None,
        kafka_offset: None,
        refused_at: Utc::now(),
    }
}

/// Now, epoch milliseconds.
pub fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// `rows` in consecutive parts that each span at most [`MAX_PARTITIONS_PER_INSERT`] months; one part (all of
/// them) for any ordinary batch. Each part is retried on its own, so a part that landed is not inserted again.
fn by_partition_limit(rows: &[Movement]) -> Vec<&[Movement]> {
    let mut parts = Vec::new();
    let mut months = std::collections::HashSet::new();
    let mut start = 0;
    for (index, row) in rows.iter().enumerate() {
        if months.insert(month(row)) && months.len() > MAX_PARTITIONS_PER_INSERT {
            parts.push(&rows[start..index]);
            start = index;
            months.clear();
            months.insert(month(row));
        }
    }
    if start < rows.len() {
        parts.push(&rows[start..]);
    }
    parts
}

/// The row's partition: its event time's month (`toYYYYMM(event_time)`, UTC), as months since 1970.
fn month(row: &Movement) -> i64 {
    let time = chrono::DateTime::from_timestamp(i64::from(row.event_time), 0).unwrap_or_default();
    i64::from(time.year()) * 12 + i64::from(time.month0())
}

async fn insert_rows<T: clickhouse::RowOwned + clickhouse::RowWrite>(
    client: &Client,
    table: &str,
    rows: &[T],
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<T>(table).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use packetpulse_model::{DeliveryEvent, testing};

    use super::*;
    use crate::transform::{Enricher, Position};

    /// One row per month, from January 2016 on.
    fn rows_in_months(months: u32) -> Vec<Movement> {
        let mut enricher = Enricher::new(120.0);
        (0..months)
            .map(|month| {
                let timestamp = Utc
                    .with_ymd_and_hms(2016 + (month / 12) as i32, month % 12 + 1, 15, 12, 0, 0)
                    .unwrap();
                let event = DeliveryEvent {
                    timestamp,
                    ..testing::event()
                };
                enricher.enrich(testing::published(event), Position::default(), 0)
            })
            .collect()
    }

    #[test]
    fn an_ordinary_batch_is_one_insert() {
        let mut rows = rows_in_months(2);
        let next_minute = DeliveryEvent {
            timestamp: testing::time() + Duration::minutes(1),
            ..testing::event()
        };
        rows.push(Enricher::new(120.0).enrich(testing::published(next_minute), Position::default(), 0));
        assert_eq!(by_partition_limit(&rows), vec![&rows[..]]);
        assert!(by_partition_limit(&[]).is_empty());
    }

    #[test]
    fn a_batch_over_more_months_than_modern_clickhouse_takes_is_split() {
        let rows = rows_in_months(250);
        let parts = by_partition_limit(&rows);
        let sizes: Vec<usize> = parts.iter().map(|part| part.len()).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        // A month seen again does not count twice.
        let mut repeated = rows_in_months(100);
        repeated.extend(rows_in_months(100));
        assert_eq!(by_partition_limit(&repeated).len(), 1);
    }
}
