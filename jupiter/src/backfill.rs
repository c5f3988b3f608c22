//! `jupiter backfill --from-bronze`: rebuilds the silver tables from Neptune's Iceberg table, so silver can always
//! be recomputed from the lake (after a bug fix in the transformation, a lost ClickHouse, a new database).
//!
//! Enrichment depends on the order events arrived in, so the backfill replays bronze in Kafka order: per Kafka
//! partition by offset, through the same [`Enricher`] as streaming. Neptune names the data files of one commit
//! after one UUIDv7, which orders commits in time (`packetpulse_lake::data_files`); the files of a commit are read together and their rows sorted
//! by (partition, offset), so memory is bounded by one commit. Files another engine rewrote (Trino's `optimize`)
//! are read one at a time in name order. Rows go through the streaming pipeline's [`SilverSink`] into the configured
//! database; inserting them again is harmless (rows are deduplicated by event id, the newest copy wins).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use clickhouse::Client;
use futures::{StreamExt, TryStreamExt};
use iceberg::scan::FileScanTask;
use iceberg::table::Table;
use packetpulse_model::PublishedEvent;
use packetpulse_model::columns::{KAFKA_OFFSET, KAFKA_PARTITION, RAW_PAYLOAD};
use packetpulse_ops::Health;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::alerts::clock::PartitionClocks;
use crate::alerts::{AlertRow, Detector};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::retry::Backoff;
use crate::sink::{Batch, SilverSink, SinkOptions};
use crate::transform::{Enricher, Movement, Position};

/// What a backfill did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Data files read.
    pub files: usize,
    /// Rows inserted into `session_movements`.
    pub rows: u64,
    /// Bronze rows whose payload is not a valid event (should be none: Neptune dead-letters those).
    pub unreadable: u64,
    /// Events kept out of silver because they would reopen their session (streaming dead-lettered them).
    pub refused: u64,
    /// Alerts raised (into silver's `alerts`; the topic is not written again).
    pub alerts: u64,
    /// Whether every file was read (false after a shutdown request).
    pub complete: bool,
    /// How long it took.
    pub elapsed: Duration,
}

/// One bronze row as the backfill needs it.
struct BronzeMessage {
    position: Position,
    payload: String,
}

/// Reads the bronze table named by `config.lake` and inserts the enriched rows into `config`'s database (created
/// and migrated if missing). Stops between commits when `shutdown` is cancelled.
pub async fn backfill(config: &Config, shutdown: &CancellationToken) -> Result<Report, Error> {
    let started = Instant::now();
    let table = packetpulse_lake::catalog::load_table(&config.lake).await?;
    let client = config.clickhouse_client();
    crate::migrations::migrate(&client, &config.clickhouse.database).await?;
    let client = client.with_database(&config.clickhouse.database);
    let mut lookups =
        crate::lifecycle::lookup_backoff(Health::default(), shutdown.clone(), config.clickhouse.timeout);
    let writer = SilverSink::start(
        client.clone(),
        SinkOptions {
            timeout: config.clickhouse.timeout,
            ..SinkOptions::new(Metrics::new(), shutdown.clone())
        },
    );
    let commits = planned_commits(&table).await?;
    let total_files: usize = commits.values().map(Vec::len).sum();
    tracing::info!(table = %table.identifier(), files = total_files, commits = commits.len(), "backfill: reading bronze");
    let mut enricher = Enricher::new(config.max_speed_kmh).with_idle_timeout(config.session_idle_timeout);
    let mut detection = Detection::start(config, shutdown).await?;
    let mut report = Report {
        files: 0,
        rows: 0,
        unreadable: 0,
        refused: 0,
        alerts: 0,
        complete: true,
        elapsed: Duration::ZERO,
    };
    let replay = async {
        for tasks in commits.into_values() {
            if shutdown.is_cancelled() {
                report.complete = false;
                break;
            }
            report.files += tasks.len();
            let mut messages = read_messages(&table, tasks).await?;
            messages.sort_unstable_by_key(|message| (message.position.partition, message.position.offset));
            let mut events = Vec::with_capacity(config.flush_rows.min(messages.len()));
            for message in messages {
                let Position { partition, offset } = message.position;
                match PublishedEvent::from_kafka_message(Some(message.payload.as_bytes()), "jupiter", partition, offset) {
                    Ok((event, _)) => events.push((event, message.position)),
                    Err(letter) => {
                        report.unreadable += 1;
                        tracing::warn!(partition, offset, reason = %letter.reason, "bronze row is not a valid event; skipped");
                    }
                }
                if events.len() >= config.flush_rows {
                    let batch = admitted(&client, &mut enricher, &mut events, &mut report, &mut lookups).await?;
                    writer.submit(detection.alerts_of(batch, &enricher, &mut report)).await?;
                }
            }
            let batch = admitted(&client, &mut enricher, &mut events, &mut report, &mut lookups).await?;
            writer.submit(detection.alerts_of(batch, &enricher, &mut report)).await?;
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(
                files = report.files,
                of = total_files,
                rows = report.rows,
                rows_per_s = (report.rows as f64 / seconds.max(1e-3)).round(),
                "backfill: progress"
            );
        }
        Ok::<_, Error>(())
    }
    .await;
    writer.finish().await.and(replay)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Alert detection over the replay: the same detector and rules as streaming, starting empty like the enricher
/// (nothing is read back from silver, which may already hold the rows being replayed), with the geofences in
/// force now and the thresholds in force now (overrides included). Silence is judged after every batch by event time, so the same events give the same alert ids.
/// Sessions still silent where bronze ends are not judged: streaming judges those by the real time that passes
/// after it has read everything, which a replay does not have.
struct Detection {
    detector: Detector,
    clocks: PartitionClocks,
}

impl Detection {
    async fn start(config: &Config, shutdown: &CancellationToken) -> Result<Self, Error> {
        let settings = crate::alerting::read_settings(config, shutdown).await?;
        let thresholds = settings.rules.thresholds(&config.alerts.thresholds());
        let mut detector = Detector::new(thresholds.clone());
        let fences = settings.book.fences();
        tracing::info!(
            geofences = fences.len(),
            ?thresholds,
            "backfill: detecting alerts with the geofences and thresholds in force now"
        );
        detector.set_geofences(fences);
        Ok(Self {
            detector,
            clocks: PartitionClocks::default(),
        })
    }

    /// `batch` with the alerts its rows raise, and the silences its events reveal.
    fn alerts_of(&mut self, mut batch: Batch, enricher: &Enricher, report: &mut Report) -> Batch {
        let mut alerts =
            crate::alerting::observe_rows(&mut self.detector, &mut self.clocks, enricher, &batch.rows);
        // Never caught up: event time alone judges silence (see `alerts::clock`).
        let clocks = &self.clocks;
        alerts.extend(
            self.detector
                .tick(|partition| clocks.now(partition, Instant::now(), 0)),
        );
        batch.alerts = rows(&alerts, report);
        batch
    }
}

fn rows(alerts: &[packetpulse_model::Alert], report: &mut Report) -> Vec<AlertRow> {
    report.alerts += alerts.len() as u64;
    let detected_at_ms = crate::sink::now_ms();
    alerts
        .iter()
        .map(|alert| AlertRow::new(alert, detected_at_ms))
        .collect()
}

/// The batch of `events` that silver takes: the same lifecycle rule as streaming, so the backfill computes what
/// streaming computed (events refused there are counted here; streaming dead-lettered them already).
async fn admitted(
    client: &Client,
    enricher: &mut Enricher,
    events: &mut Vec<(PublishedEvent, Position)>,
    report: &mut Report,
    lookups: &mut Backoff,
) -> Result<Batch, Error> {
    let (rows, refused) = crate::lifecycle::admit(client, enricher, std::mem::take(events), lookups).await?;
    report.rows += rows.len() as u64;
    report.refused += refused.len() as u64;
    Ok(batch(rows))
}

fn batch(rows: Vec<Movement>) -> Batch {
    Batch {
        newest_event_ms: rows.iter().map(|row| row.event_time_ms).max().unwrap_or(0),
        rows,
        alerts: Vec::new(),
        started: tokio::time::Instant::now(),
        after_insert: None,
    }
}

/// The current snapshot's data files, grouped by the commit that wrote them, oldest commit first.
async fn planned_commits(table: &Table) -> Result<BTreeMap<String, Vec<FileScanTask>>, Error> {
    let bronze = |source: iceberg::Error| Error::Bronze {
        table: table.identifier().to_string(),
        source: Box::new(source),
    };
    let mut commits: BTreeMap<String, Vec<FileScanTask>> = BTreeMap::new();
    if table.metadata().current_snapshot().is_none() {
        return Ok(commits);
    }
    let scan = table
        .scan()
        .select([RAW_PAYLOAD, KAFKA_PARTITION, KAFKA_OFFSET])
        .build()
        .map_err(bronze)?;
    let mut tasks = scan.plan_files().await.map_err(bronze)?;
    while let Some(task) = tasks.try_next().await.map_err(bronze)? {
        commits
            .entry(packetpulse_lake::data_files::commit_key(&task.data_file_path))
            .or_default()
            .push(task);
    }
    Ok(commits)
}

async fn read_messages(table: &Table, tasks: Vec<FileScanTask>) -> Result<Vec<BronzeMessage>, Error> {
    let bronze = |source: iceberg::Error| Error::Bronze {
        table: table.identifier().to_string(),
        source: Box::new(source),
    };
    let tasks = futures::stream::iter(tasks.into_iter().map(Ok)).boxed();
    let batches: Vec<RecordBatch> = table
        .reader_builder()
        .build()
        .read(tasks)
        .map_err(bronze)?
        .stream()
        .try_collect()
        .await
        .map_err(bronze)?;
    let mut messages = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in &batches {
        let unexpected = |name: &str| {
            Error::Config(format!(
                "bronze table {}: column {name} is missing or not of Neptune's type",
                table.identifier()
            ))
        };
        let column = |name: &str| batch.column_by_name(name).ok_or_else(|| unexpected(name));
        let payloads = column(RAW_PAYLOAD)?
            .as_string_opt::<i32>()
            .ok_or_else(|| unexpected(RAW_PAYLOAD))?;
        let partitions = column(KAFKA_PARTITION)?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| unexpected(KAFKA_PARTITION))?;
        let offsets = column(KAFKA_OFFSET)?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| unexpected(KAFKA_OFFSET))?;
        for row in 0..batch.num_rows() {
            messages.push(BronzeMessage {
                position: Position {
                    partition: partitions.value(row),
                    offset: offsets.value(row),
                },
                payload: if payloads.is_null(row) {
                    String::new()
                } else {
                    payloads.value(row).to_owned()
                },
            });
        }
    }
    Ok(messages)
}
