//! The sink: rows buffered into open data files ([`crate::writer`]) and committed with the Kafka offsets that
//! follow them ([`crate::commit`]); the pipeline ([`crate::pipeline`]) decides when.

use std::sync::Arc;

use iceberg::Catalog;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::catalog;
use crate::commit::{Batch, commit};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::offsets::Offsets;
use crate::schema::BronzeRow;
use crate::writer::{CommitWriter, TableLayout};

/// zstd level of data files: level 3 is zstd's default balance of speed and size.
pub(crate) const ZSTD_LEVEL: i32 = 3;

/// Bytes per row of a data file before the first commit tells (bronze rows measured at ~158 bytes in files of
/// 526 rows; larger files compress better, so the estimate errs towards smaller files and corrects itself).
const INITIAL_BYTES_PER_ROW: f64 = 160.0;

/// Commits with fewer rows say little about a large file's bytes per row (the Parquet footer dominates).
const MIN_ROWS_TO_ESTIMATE: usize = 1_000;

/// The table side of the sink: open data files, the offsets read so far, and the commit.
pub struct TableSink {
    catalog: Arc<dyn Catalog>,
    table: Table,
    /// The table's offsets as of the last commit (or the start): where the open batch began.
    committed: Offsets,
    offsets: Offsets,
    writer: CommitWriter,
    metrics: Metrics,
    /// File size at which a batch is full ([`Config::target_file_mib`]).
    target_file_bytes: f64,
    /// Bytes per row of the last commit large enough to tell.
    bytes_per_row: f64,
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
            committed: offsets.clone(),
            offsets,
            writer,
            metrics: metrics.clone(),
            target_file_bytes: config.target_file_mib as f64 * 1024.0 * 1024.0,
            bytes_per_row: INITIAL_BYTES_PER_ROW,
        })
    }

    /// Where reading must continue: the offsets of the last commit plus what was read since.
    pub fn offsets(&self) -> &Offsets {
        &self.offsets
    }

    /// The metrics the sink records into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Rows buffered since the last commit.
    pub fn buffered_rows(&self) -> usize {
        self.writer.rows()
    }

    /// Whether a day's open file is estimated to have reached the target size: time to commit.
    pub fn batch_is_full(&self) -> bool {
        self.writer.largest_file_rows() as f64 * self.bytes_per_row >= self.target_file_bytes
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
        let bytes: u64 = files.iter().map(DataFile::file_size_in_bytes).sum();
        let batch = Batch {
            files,
            start: self.committed.clone(),
            offsets: self.offsets.clone(),
            rows,
        };
        self.table = commit(&self.catalog, self.table.clone(), batch, &self.metrics, shutdown).await?;
        self.committed = self.offsets.clone();
        if rows >= MIN_ROWS_TO_ESTIMATE {
            self.bytes_per_row = bytes as f64 / rows as f64;
        }
        tracing::info!(rows, files = file_count, bytes, offsets = ?self.offsets.next, "committed");
        self.metrics.rows_buffered.set(0);
        // A schema change made by another engine (a new optional column) is picked up by the next batch.
        self.writer = CommitWriter::new(TableLayout::of(&self.table)?, ZSTD_LEVEL)?;
        Ok(())
    }
}
