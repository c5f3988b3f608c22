//! The sink: inserts batches into `session_movements` on a task of its own, so the next batch is read and
//! enriched while the previous one is inserted (reading and inserting overlap instead of taking turns). One batch
//! may wait while another is inserted; beyond that [`SilverSink::submit`] waits, so a slow or unreachable
//! ClickHouse pauses reading (back-pressure) instead of buffering without bound. A failed insert is retried with
//! back-off until it lands or shutdown; only then does the batch's `after_insert` run (the pipeline commits Kafka
//! offsets there), and batches land in the order they were submitted.

use std::time::Duration;

use chrono::{Datelike, Utc};
use clickhouse::Client;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::metrics::Metrics;
use crate::transform::Movement;

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Modern ClickHouse refuses an insert that touches more partitions (`session_movements` has one per month of
/// event time) than its `max_partitions_per_insert_block`, 100 by default; 18.16 has no such limit. A batch can
/// span that many months when a device's clock is wrong, so such a batch is inserted in parts.
const MAX_PARTITIONS_PER_INSERT: usize = 100;
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// What runs once a batch is in ClickHouse.
pub type AfterInsert = Box<dyn FnOnce() + Send>;

/// Rows to insert, with what the metrics need and what to do once they landed.
pub struct Batch {
    /// The rows.
    pub rows: Vec<Movement>,
    /// Newest event time among the rows (epoch ms), for the freshness gauge; 0 when unknown.
    pub newest_event_ms: u64,
    /// When the batch's first row was read, for the batch latency histogram.
    pub started: Instant,
    /// Run after the insert succeeded.
    pub after_insert: Option<AfterInsert>,
}

/// The insert task and the queue in front of it.
pub struct SilverSink {
    queue: mpsc::Sender<Batch>,
    task: JoinHandle<Result<(), Error>>,
}

impl SilverSink {
    /// Starts the insert task writing to `client`'s database.
    pub fn start(client: Client, metrics: Metrics, shutdown: CancellationToken) -> Self {
        let (queue, mut batches) = mpsc::channel::<Batch>(1);
        let task = tokio::spawn(async move {
            while let Some(batch) = batches.recv().await {
                for rows in by_partition_limit(&batch.rows) {
                    insert_with_retry(&client, rows, &metrics, &shutdown).await?;
                }
                if let Some(after_insert) = batch.after_insert {
                    after_insert();
                }
                record(&metrics, &batch.rows, batch.newest_event_ms, batch.started);
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

async fn insert_with_retry(
    client: &Client,
    rows: &[Movement],
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Result<(), Error> {
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        match insert(client, rows).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                metrics.insert_failures.inc();
                tracing::warn!(%error, rows = rows.len(), retry_in = ?delay, "insert failed; retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled() => return Err(Error::ShutdownBeforeInsert { rows: rows.len() }),
        }
        delay = (delay * 2).min(MAX_RETRY_DELAY);
    }
}

async fn insert(client: &Client, rows: &[Movement]) -> Result<(), clickhouse::error::Error> {
    let mut insert = client
        .insert::<Movement>(packetpulse_model::clickhouse::SESSION_MOVEMENTS)
        .await?;
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
