//! The sink: rows buffered into open data files and committed with the Kafka offsets that follow them every
//! `commit_interval` or `commit_rows`, whichever comes first ([`TableSink`]), fed by the Kafka loop
//! ([`run_sink`]). Any failure ends the loop; the caller starts it again from the table's offsets, which is how a
//! failure is retried without losing or repeating a row.

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
use crate::metrics::Metrics;
use crate::offsets::Offsets;
use crate::schema::BronzeRow;
use crate::source::{Decoded, Source, decode};
use crate::writer::{CommitWriter, TableLayout};
use packetpulse_ops::dead_letter::DeadLetters;

/// zstd level of data files: level 3 is zstd's default balance of speed and size.
const ZSTD_LEVEL: i32 = 3;

/// How often consumer lag is measured.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// The table side of the sink: open data files, the offsets read so far, and the commit.
pub struct TableSink {
    catalog: Arc<dyn Catalog>,
    table: Table,
    offsets: Offsets,
    writer: CommitWriter,
    metrics: Metrics,
}

impl TableSink {
    /// Checks the warehouse, opens the catalog, creates the table if needed and reads its offsets for the topic.
    pub async fn open(config: &Config, metrics: &Metrics) -> Result<Self, Error> {
        packetpulse_lake::catalog::check_warehouse(&config.lake).await?;
        let catalog = packetpulse_lake::catalog::open(&config.lake).await?;
        let table = catalog::ensure_table(catalog.as_ref(), config).await?;
        let offsets = Offsets::from_table(&table, &config.topic)?;
        let writer = CommitWriter::new(TableLayout::of(&table)?, ZSTD_LEVEL)?;
        Ok(Self {
            catalog,
            table,
            offsets,
            writer,
            metrics: metrics.clone(),
        })
    }

    /// Where reading must continue: the offsets of the last commit plus what was read since.
    pub fn offsets(&self) -> &Offsets {
        &self.offsets
    }

    /// Rows buffered since the last commit.
    pub fn buffered_rows(&self) -> usize {
        self.writer.rows()
    }

    /// Adds a row read at `row.kafka_partition`/`row.kafka_offset`.
    pub async fn push(&mut self, row: BronzeRow) -> Result<(), Error> {
        let (partition, offset) = (row.kafka_partition, row.kafka_offset);
        self.writer.push(row).await?;
        self.offsets.advance(partition, offset);
        self.metrics.rows_buffered.set(self.writer.rows() as i64);
        Ok(())
    }

    /// Moves past a message that is not a row (dead-lettered).
    pub fn skip(&mut self, partition: i32, offset: i64) {
        self.offsets.advance(partition, offset);
    }

    /// Closes the open data files and commits them with the offsets; the next rows go to new files.
    pub async fn commit(&mut self, shutdown: &CancellationToken) -> Result<(), Error> {
        let next = CommitWriter::new(TableLayout::of(&self.table)?, ZSTD_LEVEL)?;
        let writer = std::mem::replace(&mut self.writer, next);
        let rows = writer.rows();
        let files = writer.finish().await?;
        let file_count = files.len();
        let batch = Batch {
            files,
            offsets: self.offsets.clone(),
            rows,
        };
        self.table = commit(&self.catalog, self.table.clone(), batch, &self.metrics, shutdown).await?;
        tracing::info!(rows, files = file_count, offsets = ?self.offsets.next, "committed");
        self.metrics.rows_buffered.set(0);
        // A schema change made by another engine (a new optional column) is picked up by the next batch.
        self.writer = CommitWriter::new(TableLayout::of(&self.table)?, ZSTD_LEVEL)?;
        Ok(())
    }
}

/// Opens the table and the topic and runs the Kafka loop until `shutdown`, committing what was read before
/// returning.
pub async fn run_sink(config: &Config, metrics: &Metrics, shutdown: &CancellationToken) -> Result<(), Error> {
    let mut sink = TableSink::open(config, metrics).await?;
    let source = Arc::new(Source::assign(config, sink.offsets(), shutdown).await?);
    let (committed, committed_rx) = watch::channel(sink.offsets().clone());
    let lag_monitor = tokio::spawn(monitor_lag(source.clone(), committed_rx, metrics.clone()));
    let mut dead_letters = DeadLetters::new(&config.kafka_bootstrap_servers, &config.dead_letter_topic)?;
    let result = read_loop(
        config,
        &mut sink,
        &source,
        &mut dead_letters,
        &committed,
        shutdown,
    )
    .await;
    lag_monitor.abort();
    result
}

async fn read_loop(
    config: &Config,
    sink: &mut TableSink,
    source: &Source,
    dead_letters: &mut DeadLetters,
    committed: &watch::Sender<Offsets>,
    shutdown: &CancellationToken,
) -> Result<(), Error> {
    let metrics = sink.metrics.clone();
    let commit = async |sink: &mut TableSink, dead_letters: &mut DeadLetters| {
        dead_letters.acknowledged().await?;
        sink.commit(shutdown).await?;
        source.report_committed(sink.offsets());
        committed.send_replace(sink.offsets().clone());
        Ok::<_, Error>(())
    };
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
                commit(sink, dead_letters).await?;
                deadline = None;
            }
            message = packetpulse_ops::next_message(source.consumer()) => {
                let (partition, offset) = (message.partition(), message.offset());
                match decode(message.payload(), partition, offset) {
                    Decoded::Row(row) => sink.push(row).await?,
                    Decoded::Invalid(letter) => {
                        dead_letters.send(&letter)?;
                        metrics.dead_lettered.inc();
                        sink.skip(partition, offset);
                    }
                }
                deadline.get_or_insert_with(|| Instant::now() + config.commit_interval);
                if sink.buffered_rows() >= config.commit_rows {
                    commit(sink, dead_letters).await?;
                    deadline = None;
                }
            }
        }
    }
    if deadline.is_some() {
        tracing::info!(
            rows = sink.buffered_rows(),
            "shutting down: committing what was read"
        );
        commit(sink, dead_letters).await?;
    }
    Ok(())
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
