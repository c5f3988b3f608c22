//! One run at a time per database. Two runs at once (`uranus run` while `serve` refreshes, two `serve`s) would
//! drop each other's staging tables and fail, or both append the same rows. The lock is a table in the target
//! database: `CREATE TABLE` either creates it or fails because it exists, atomically, on every ClickHouse
//! version. The holder appends a heartbeat row every few seconds and drops the table when done; a lock whose
//! newest heartbeat is older than [`STALE_AFTER`] (its run crashed) is taken over by renaming it away — a rename
//! also succeeds for one caller only.

use std::time::{Duration, Instant};

use clickhouse::Client;
use tokio::task::JoinHandle;

use crate::Error;

/// The lock table's name in the target database.
pub const LOCK_TABLE: &str = "__uranus_run_lock";

const HEARTBEAT: Duration = Duration::from_secs(5);
/// A holder silent this long crashed (or hangs); its lock is taken over.
const STALE_AFTER: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);
/// ClickHouse's TABLE_ALREADY_EXISTS.
const TABLE_ALREADY_EXISTS: u32 = 57;

/// The held lock; [`RunLock::release`] gives it back.
pub struct RunLock {
    client: Client,
    table: String,
    holder: String,
    heartbeat: JoinHandle<()>,
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct Holder {
    holder: String,
    silent_s: u32,
}

impl RunLock {
    /// Waits until no other run holds `database`'s lock, then takes it.
    pub async fn acquire(client: &Client, database: &str) -> Result<Self, Error> {
        let table = format!("{database}.{LOCK_TABLE}");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let holder = format!("{}:{}:{nanos:09}", hostname(), std::process::id());
        let mut waiting_since: Option<Instant> = None;
        let mut last_report = Instant::now();
        loop {
            let created = client
                .query(&format!(
                    "CREATE TABLE {table} (holder String, at DateTime) ENGINE = Log"
                ))
                .execute()
                .await;
            match created {
                Ok(()) => {
                    beat(client, &table, &holder).await?;
                    if let Some(since) = waiting_since {
                        tracing::info!(waited_s = since.elapsed().as_secs(), "took the run lock");
                    }
                    let heartbeat = tokio::spawn(heartbeats(client.clone(), table.clone(), holder.clone()));
                    return Ok(Self {
                        client: client.clone(),
                        table,
                        holder,
                        heartbeat,
                    });
                }
                Err(error)
                    if packetpulse_ops::clickhouse::error_code(&error) == Some(TABLE_ALREADY_EXISTS) => {}
                Err(source) => return Err(lock_error("taking the run lock", source)),
            }
            let current = current_holder(client, &table).await?;
            match current {
                Some(current) if u64::from(current.silent_s) >= STALE_AFTER.as_secs() => {
                    tracing::warn!(holder = %current.holder, silent_s = current.silent_s, "taking over a stale run lock");
                    take_over(client, &table, &holder).await;
                    continue;
                }
                // No heartbeat yet: the holder is between creating the table and its first row.
                None | Some(_) => {}
            }
            let since = *waiting_since.get_or_insert_with(Instant::now);
            if last_report.elapsed() >= Duration::from_secs(10) {
                last_report = Instant::now();
                let other = current_holder(client, &table).await?.map(|h| h.holder);
                tracing::info!(
                    holder = other.unwrap_or_default(),
                    waiting_s = since.elapsed().as_secs(),
                    "waiting for another Uranus run on this database to finish"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Gives the lock back (drops the table), unless another run took it over meanwhile.
    pub async fn release(self) -> Result<(), Error> {
        self.heartbeat.abort();
        let current = current_holder(&self.client, &self.table).await?;
        if current.is_some_and(|current| current.holder != self.holder) {
            tracing::warn!(
                "the run lock was taken over while this run held it: leaving it to its new holder"
            );
            return Ok(());
        }
        self.client
            .query(&format!("DROP TABLE IF EXISTS {}", self.table))
            .execute()
            .await
            .map_err(|source| lock_error("releasing the run lock", source))
    }
}

/// Moves a stale lock out of the way; only one caller's rename succeeds, the others find no table to rename.
async fn take_over(client: &Client, table: &str, holder: &str) {
    let suffix: String = holder.chars().filter(char::is_ascii_alphanumeric).collect();
    let stale = format!("{table}_stale_{suffix}");
    if client
        .query(&format!("RENAME TABLE {table} TO {stale}"))
        .execute()
        .await
        .is_ok()
    {
        let _ = client
            .query(&format!("DROP TABLE IF EXISTS {stale}"))
            .execute()
            .await;
    }
}

/// The newest heartbeat's holder and how long ago it was (by the server's clock); `None` before the first one,
/// or when the lock is gone.
async fn current_holder(client: &Client, table: &str) -> Result<Option<Holder>, Error> {
    let rows: Result<Vec<Holder>, _> = client
        .query(&format!(
            "SELECT holder, silent_s FROM (SELECT argMax(holder, at) AS holder, \
             toUInt32(greatest(toInt64(now()) - toInt64(max(at)), 0)) AS silent_s, count() AS beats FROM {table}) WHERE beats > 0"
        ))
        .fetch_all()
        .await;
    match rows {
        Ok(rows) => Ok(rows.into_iter().next()),
        // Released between our attempt and this read: nobody holds it.
        Err(error) if packetpulse_ops::clickhouse::error_code(&error) == Some(UNKNOWN_TABLE) => Ok(None),
        Err(source) => Err(lock_error("reading the run lock", source)),
    }
}

/// ClickHouse's UNKNOWN_TABLE.
const UNKNOWN_TABLE: u32 = 60;

async fn beat(client: &Client, table: &str, holder: &str) -> Result<(), Error> {
    client
        .query(&format!("INSERT INTO {table} SELECT ?, now()"))
        .bind(holder)
        .execute()
        .await
        .map_err(|source| lock_error("renewing the run lock", source))
}

async fn heartbeats(client: Client, table: String, holder: String) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        if let Err(error) = beat(&client, &table, &holder).await {
            tracing::warn!(%error, "could not renew the run lock");
        }
    }
}

fn lock_error(what: &str, source: clickhouse::error::Error) -> Error {
    Error::ClickHouse {
        model: "(run lock)".to_owned(),
        what: what.to_owned(),
        source,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned())
}
