//! Compaction of closed days: a small fleet fills no file before the commit interval ends, so each day would keep
//! up to 288 small files (one per 5-minute commit) for every query engine to open. Once a day is closed (older than
//! yesterday: no commit adds to it any more), its files are rewritten into files of the target size.
//!
//! [`plan`] picks the groups (consecutive single-file commits of one day, so Jupiter's backfill still replays in
//! Kafka order), [`rewrite`] writes a group's rows into one file, [`replace`] commits the swap. The sink keeps
//! writing meanwhile: a sink commit between the rewrite and the swap makes the swap conflict, and it is built again
//! on the new table with the same compacted file.

pub mod plan;
pub mod replace;
pub mod rewrite;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use iceberg::Catalog;
use iceberg::table::Table;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::sink::ZSTD_LEVEL;
use replace::Outcome;

/// Swaps that conflicted with another writer's commit before a round gives up (the next round starts over).
const SWAP_ATTEMPTS: u32 = 8;
/// Wait after the first conflict, doubled after each further one up to [`MAX_CONFLICT_BACKOFF`]: a swap that takes
/// longer to build than the sink takes between commits (a busy machine, a short commit interval) would otherwise
/// lose every race; waiting lets it start right after a commit. ~10 s in all before a round gives up.
const FIRST_CONFLICT_BACKOFF: Duration = Duration::from_millis(100);
const MAX_CONFLICT_BACKOFF: Duration = Duration::from_millis(3_200);

/// What one compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compacted {
    /// The day partition, days since 1970-01-01.
    pub day: i32,
    /// Files replaced.
    pub files: usize,
    /// Rows in them (and in the new file).
    pub rows: u64,
    /// Bytes of the replaced files.
    pub bytes_before: u64,
    /// Bytes of the new file.
    pub bytes_after: u64,
    /// Swaps that conflicted with another writer's commit and were built again before this one went in.
    pub conflicts: u32,
}

impl std::fmt::Display for Compacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let day = DateTime::UNIX_EPOCH
            .date_naive()
            .checked_add_signed(chrono::Duration::days(i64::from(self.day)))
            .map_or_else(|| self.day.to_string(), |date| date.to_string());
        write!(
            f,
            "{day}: {} files ({:.1} MB) → 1 file ({:.1} MB), {} rows, {} swap conflicts",
            self.files,
            megabytes(self.bytes_before),
            megabytes(self.bytes_after),
            self.rows,
            self.conflicts
        )
    }
}

#[allow(clippy::cast_precision_loss)] // a size for people to read
fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The first day that is not closed at `now`: yesterday (days since 1970-01-01). Days before it are compacted.
pub fn closed_before(now: DateTime<Utc>) -> i32 {
    let today = (now.date_naive() - DateTime::UNIX_EPOCH.date_naive()).num_days();
    i32::try_from(today - 1).unwrap_or(i32::MAX)
}

/// Compacts groups until none is left or `shutdown` is cancelled; returns what was done.
pub async fn compact_all(
    config: &Config,
    catalog: &dyn Catalog,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Result<Vec<Compacted>, Error> {
    let mut done = Vec::new();
    loop {
        // A shutdown drops the group in progress: its file stays an orphan, the table unchanged (the swap is one
        // statement, done or not).
        let step = tokio::select! {
            step = compact_next(config, catalog) => step?,
            () = shutdown.cancelled() => break,
        };
        let Some(compacted) = step else {
            break;
        };
        metrics.compactions.inc();
        metrics.files_compacted.inc_by(compacted.files as u64);
        tracing::info!(
            day = compacted.day,
            files = compacted.files,
            rows = compacted.rows,
            bytes_before = compacted.bytes_before,
            bytes_after = compacted.bytes_after,
            "compacted {compacted}"
        );
        done.push(compacted);
    }
    Ok(done)
}

/// Compacts the oldest group the table has, if any (`Ok(None)`: nothing to compact, or no table yet).
pub async fn compact_next(config: &Config, catalog: &dyn Catalog) -> Result<Option<Compacted>, Error> {
    let ident = config.lake.table_ident();
    let context = |source: iceberg::Error| Error::Table {
        table: ident.to_string(),
        source: Box::new(source),
    };
    if !catalog.table_exists(&ident).await.map_err(context)? {
        return Ok(None);
    }
    let mut table = catalog.load_table(&ident).await.map_err(context)?;
    let files = packetpulse_lake::table_files::live_files(&table).await?;
    let target = config.target_file_mib.saturating_mul(1024 * 1024);
    let Some(group) = plan::plan(&files, closed_before(Utc::now()), target)
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let compacted = rewrite::rewrite(&table, &group, ZSTD_LEVEL).await?;
    let removed: Vec<String> = group.files.iter().map(|file| file.path.clone()).collect();
    for conflicts in 0..SWAP_ATTEMPTS {
        if conflicts > 0 {
            tokio::time::sleep(conflict_backoff(conflicts)).await;
            table = catalog.load_table(&ident).await.map_err(context)?;
        }
        match replace::commit(&config.lake, &table, &removed, &compacted).await {
            Ok(Outcome::Committed) => {
                return Ok(Some(Compacted {
                    day: group.day,
                    files: group.files.len(),
                    rows: group.rows(),
                    bytes_before: group.bytes(),
                    bytes_after: compacted.file_size_in_bytes(),
                    conflicts,
                }));
            }
            Ok(Outcome::Conflict) => {
                tracing::debug!(
                    day = group.day,
                    conflicts = conflicts + 1,
                    "compaction swap conflicted"
                );
            }
            Ok(Outcome::Stale) => {
                discard(&table, compacted.file_path()).await;
                return Err(Error::Compaction(format!(
                    "another writer replaced files of day {} meanwhile; planning again next round",
                    group.day
                )));
            }
            Err(error) => {
                discard(&table, compacted.file_path()).await;
                return Err(error);
            }
        }
    }
    discard(&table, compacted.file_path()).await;
    Err(Error::Compaction(format!(
        "{SWAP_ATTEMPTS} swaps in a row conflicted with other writers' commits"
    )))
}

/// The wait before the swap that follows the `conflicts`-th conflict in a row.
fn conflict_backoff(conflicts: u32) -> Duration {
    FIRST_CONFLICT_BACKOFF
        .saturating_mul(1 << conflicts.saturating_sub(1).min(16))
        .min(MAX_CONFLICT_BACKOFF)
}

/// Deletes a compacted file that was not committed (best effort: an orphan is harmless).
async fn discard(table: &Table, path: &str) {
    if let Err(error) = table.file_io().delete(path).await {
        tracing::warn!(%path, %error, "could not delete an uncommitted compacted file");
    }
}

/// Compacts every `interval` until `shutdown` (nothing when the interval is zero). Failures are logged and
/// counted; the next round tries again.
pub async fn run_periodically(config: Config, metrics: Metrics, shutdown: CancellationToken) {
    let interval = config.compaction_interval;
    if interval.is_zero() {
        return;
    }
    let mut catalog: Option<Arc<dyn Catalog>> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.cancelled() => return,
        }
        let opened = match catalog.clone() {
            Some(opened) => opened,
            None => match packetpulse_lake::catalog::open(&config.lake).await {
                Ok(opened) => {
                    catalog = Some(opened.clone());
                    opened
                }
                Err(error) => {
                    metrics.compaction_failures.inc();
                    tracing::warn!(%error, retry_in = ?interval, "compaction: opening the catalog failed");
                    continue;
                }
            },
        };
        if let Err(error) = compact_all(&config, opened.as_ref(), &metrics, &shutdown).await {
            metrics.compaction_failures.inc();
            catalog = None;
            tracing::warn!(%error, retry_in = ?interval, "compaction round failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn days_before_yesterday_are_closed() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 2, 0, 5, 0)
            .single()
            .expect("valid time");
        let yesterday = NaiveDate::from_ymd_opt(2026, 12, 1).expect("valid date");
        let days = (yesterday - DateTime::UNIX_EPOCH.date_naive()).num_days();
        assert_eq!(i64::from(closed_before(now)), days);
    }

    #[test]
    fn a_compaction_reads_as_a_line_for_people() {
        let compacted = Compacted {
            day: 20_412,
            files: 33,
            rows: 480_000,
            bytes_before: 62_100_000,
            bytes_after: 61_800_000,
            conflicts: 2,
        };
        assert_eq!(
            compacted.to_string(),
            "2025-11-20: 33 files (62.1 MB) → 1 file (61.8 MB), 480000 rows, 2 swap conflicts"
        );
    }

    #[test]
    fn conflicts_back_off_doubling_up_to_the_cap() {
        let waits: Vec<u128> = (1..SWAP_ATTEMPTS)
            .map(|n| conflict_backoff(n).as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1_600, 3_200, 3_200]);
        assert_eq!(conflict_backoff(u32::MAX), MAX_CONFLICT_BACKOFF);
    }
}
