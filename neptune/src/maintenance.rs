//! `neptune expire-snapshots`: drops old snapshots from the table's metadata with iceberg's expire-snapshots
//! action. Never expires the newest snapshot holding Kafka offsets, so the sink can run meanwhile and resume after.

use std::time::Duration;

use chrono::Utc;
use iceberg::transaction::{ApplyTransactionAction, Transaction};

use crate::Error;
use crate::catalog;
use crate::config::Config;
use crate::offsets;

/// What an expiry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// Snapshots before.
    pub before: usize,
    /// Snapshots after.
    pub after: usize,
}

/// Expires snapshots older than `older_than`, keeping the newest `retain_last` and the one with the offsets.
pub async fn expire_snapshots(
    config: &Config,
    older_than: Duration,
    retain_last: usize,
) -> Result<Expired, Error> {
    if retain_last == 0 {
        return Err(Error::Config("--retain-last must be at least 1".to_owned()));
    }
    let catalog = packetpulse_lake::catalog::open(&config.lake).await?;
    let table = catalog::ensure_table(catalog.as_ref(), config).await?;
    let context = |source: iceberg::Error| Error::Table {
        table: table.identifier().to_string(),
        source: Box::new(source),
    };
    let requested = Utc::now().timestamp_millis() - i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    // The offsets snapshot and its descendants must survive: expiry is "strictly older than the cutoff".
    let cutoff = match offsets::newest_with_offsets(&table)? {
        Some((snapshot, _)) => requested.min(snapshot.timestamp_ms()),
        None => requested,
    };
    let before = table.metadata().snapshots().count();
    let transaction = Transaction::new(&table);
    let action = transaction
        .expire_snapshots()
        .expire_older_than_ms(cutoff)
        .retain_last(retain_last);
    let table = action
        .apply(transaction)
        .map_err(context)?
        .commit(catalog.as_ref())
        .await
        .map_err(context)?;
    let after = table.metadata().snapshots().count();
    tracing::info!(before, after, cutoff_ms = cutoff, "expired snapshots");
    Ok(Expired { before, after })
}
