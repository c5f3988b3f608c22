//! The sink loop: read messages, buffer rows into the open data files, and commit files plus offsets every
//! `commit_interval` or `commit_rows`, whichever comes first. Any failure ends the loop; the caller starts it
//! again from the table's offsets, which is how a failure is retried without losing or repeating a row.

use std::sync::Arc;
use std::time::Duration;

use iceberg::Catalog;
use iceberg::table::Table;
use rdkafka::Message;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::catalog;
use crate::commit::{Batch, commit};
use crate::config::Config;
use crate::dead_letter::DeadLetters;
use crate::metrics::Metrics;
use crate::offsets::Offsets;
use crate::source::{Decoded, Source, decode};
use crate::writer::{CommitWriter, TableLayout};

/// zstd level of data files: level 3 is zstd's default balance of speed and size.
const ZSTD_LEVEL: i32 = 3;

/// How often consumer lag is measured.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// Everything the loop needs between commits.
struct Sink {
    catalog: Arc<dyn Catalog>,
    table: Table,
    source: Arc<Source>,
    dead_letters: DeadLetters,
    offsets: Offsets,
    committed: watch::Sender<Offsets>,
    writer: CommitWriter,
    metrics: Metrics,
}

/// Opens the table and the topic and runs the loop until `shutdown`, committing what was read before returning.
pub async fn run_sink(config: &Config, metrics: &Metrics, shutdown: &CancellationToken) -> Result<(), Error> {
    catalog::check_warehouse(config).await?;
    let catalog = catalog::open(config).await?;
    let table = catalog::ensure_table(catalog.as_ref(), config).await?;
    let offsets = Offsets::from_table(&table, &config.topic)?;
    let source = Arc::new(Source::assign(config, &offsets, shutdown).await?);
    let (committed, committed_rx) = watch::channel(offsets.clone());
    let lag_monitor = tokio::spawn(monitor_lag(source.clone(), committed_rx, metrics.clone()));
    let writer = CommitWriter::new(TableLayout::of(&table)?, ZSTD_LEVEL)?;
    let mut sink = Sink {
        catalog,
        table,
        source,
        dead_letters: DeadLetters::new(config)?,
        offsets,
        committed,
        writer,
        metrics: metrics.clone(),
    };
    let result = sink.run(config, shutdown).await;
    lag_monitor.abort();
    result
}

impl Sink {
    async fn run(&mut self, config: &Config, shutdown: &CancellationToken) -> Result<(), Error> {
        // Set when the first message after a commit arrives: the batch is committed by then at the latest.
        let mut deadline: Option<Instant> = None;
        loop {
            let due = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = due => {
                    self.commit(shutdown).await?;
                    deadline = None;
                }
                message = self.source.consumer().recv() => {
                    let message = match message {
                        Ok(message) => message,
                        Err(error) => {
                            // Broker unreachable and the like: librdkafka keeps retrying underneath.
                            tracing::warn!(%error, "reading from Kafka");
                            continue;
                        }
                    };
                    let (partition, offset) = (message.partition(), message.offset());
                    match decode(message.payload(), partition, offset) {
                        Decoded::Row(row) => self.writer.push(row).await?,
                        Decoded::Invalid(letter) => {
                            self.dead_letters.send(&letter)?;
                            self.metrics.dead_lettered.inc();
                        }
                    }
                    self.offsets.advance(partition, offset);
                    self.metrics.rows_buffered.set(self.writer.rows() as i64);
                    deadline.get_or_insert_with(|| Instant::now() + config.commit_interval);
                    if self.writer.rows() >= config.commit_rows {
                        self.commit(shutdown).await?;
                        deadline = None;
                    }
                }
            }
        }
        if deadline.is_some() {
            tracing::info!(
                rows = self.writer.rows(),
                "shutting down: committing what was read"
            );
            self.commit(shutdown).await?;
        }
        Ok(())
    }

    /// Closes the open data files and commits them with the offsets; opens the next batch's files.
    async fn commit(&mut self, shutdown: &CancellationToken) -> Result<(), Error> {
        let layout = TableLayout::of(&self.table)?;
        let writer = std::mem::replace(&mut self.writer, CommitWriter::new(layout, ZSTD_LEVEL)?);
        let rows = writer.rows();
        let files = writer.finish().await?;
        self.dead_letters.acknowledged().await?;
        let batch = Batch {
            files,
            offsets: self.offsets.clone(),
            rows,
        };
        let file_count = batch.files.len();
        self.table = commit(&self.catalog, self.table.clone(), batch, &self.metrics, shutdown).await?;
        tracing::info!(rows, files = file_count, offsets = ?self.offsets.next, "committed");
        self.metrics.rows_buffered.set(0);
        self.source.report_committed(&self.offsets);
        self.committed.send_replace(self.offsets.clone());
        // A schema change made by someone else (new optional column) is picked up by the next batch.
        self.writer = CommitWriter::new(TableLayout::of(&self.table)?, ZSTD_LEVEL)?;
        Ok(())
    }
}

/// Publishes consumer lag per partition every [`LAG_INTERVAL`], measured against the committed offsets.
async fn monitor_lag(source: Arc<Source>, committed: watch::Receiver<Offsets>, metrics: Metrics) {
    let mut ticks = tokio::time::interval(LAG_INTERVAL);
    loop {
        ticks.tick().await;
        let offsets = committed.borrow().clone();
        let source = source.clone();
        // fetch_watermarks blocks on a broker round trip.
        let Ok(lag) = tokio::task::spawn_blocking(move || source.lag(&offsets)).await else {
            return;
        };
        for (partition, lag) in lag {
            metrics
                .consumer_lag
                .with_label_values(&[&partition.to_string()])
                .set(lag);
        }
    }
}
