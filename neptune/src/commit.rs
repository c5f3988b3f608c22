//! Commits one batch: a fast-append snapshot with the batch's data files and, in its summary, the Kafka offsets
//! that follow them. Iceberg retries commit conflicts itself (re-applying on the refreshed table, behind the
//! writers' fence of [`crate::fence`]); this module retries everything else with back-off, and never commits twice
//! when an earlier attempt landed unseen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iceberg::Catalog;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::fence::{self, FencedCatalog};
use crate::metrics::Metrics;
use crate::offsets::Offsets;

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

/// One batch ready to commit.
pub struct Batch {
    /// The batch's data files (empty when every message of the batch was dead-lettered).
    pub files: Vec<DataFile>,
    /// Offsets before the batch: the table's when the batch started (the fence, see [`crate::fence`]).
    pub start: Offsets,
    /// Offsets after the batch, for every partition ever read (not only those in this batch).
    pub offsets: Offsets,
    /// Rows in `files`.
    pub rows: usize,
}

impl Batch {
    /// Counts the batch as committed, `took` after its first attempt.
    fn record(&self, metrics: &Metrics, took: Duration) {
        let bytes = self.files.iter().map(DataFile::file_size_in_bytes).sum();
        metrics.record_commit(self.rows, self.files.len(), bytes, took);
    }
}

/// Commits `batch` on top of `table`, retrying until it lands or `shutdown` is cancelled. Returns the table as
/// committed, or [`Error::Fenced`] when another writer moved the table's offsets (the batch is dropped).
pub async fn commit(
    catalog: &Arc<dyn Catalog>,
    table: Table,
    batch: Batch,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Result<Table, Error> {
    let started = Instant::now();
    let mut base = table;
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        let fenced = FencedCatalog::new(catalog.as_ref(), &batch.start);
        match try_commit(&fenced, &base, &batch).await {
            Ok(committed) => {
                batch.record(metrics, started.elapsed());
                return Ok(committed);
            }
            Err(error) if fence::is_fenced(&error) => {
                metrics.commits_fenced.inc();
                return Err(Error::Fenced(error.message().to_owned()));
            }
            Err(error) => {
                metrics.commit_failures.inc();
                tracing::warn!(%error, retry_in = ?delay, "commit failed; retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled() => return Err(Error::ShutdownBeforeCommit { rows: batch.rows }),
        }
        delay = (delay * 2).min(MAX_RETRY_DELAY);
        // An attempt that failed on the way back (catalog timeout after the update) may still have landed.
        match catalog.load_table(base.identifier()).await {
            Ok(reloaded) => {
                if Offsets::from_table(&reloaded, &batch.offsets.topic)?.covers(&batch.offsets) {
                    tracing::info!("an earlier attempt of this commit landed; not committing again");
                    batch.record(metrics, started.elapsed());
                    return Ok(reloaded);
                }
                base = reloaded;
            }
            Err(error) => tracing::warn!(%error, "reloading the table failed"),
        }
    }
}

async fn try_commit(catalog: &dyn Catalog, base: &Table, batch: &Batch) -> Result<Table, iceberg::Error> {
    let transaction = Transaction::new(base);
    let append = transaction
        .fast_append()
        .add_data_files(batch.files.clone())
        .set_snapshot_properties(batch.offsets.to_summary());
    let (key, value) = batch.offsets.to_property();
    let property = transaction.update_table_properties().set(key, value);
    let transaction = property.apply(append.apply(transaction)?)?;
    transaction.commit(catalog).await
}
