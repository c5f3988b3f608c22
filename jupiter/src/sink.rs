//! The Kafka loop: read events, enrich them, and insert them in batches of `flush_rows` or every `flush_interval`.
//! Kafka offsets are committed only after the insert of everything before them succeeded; a failed insert is
//! retried with back-off while reading pauses, so ClickHouse trouble back-pressures Kafka and skips nothing. A
//! batch that is inserted twice (crash between insert and offset commit, retry after a timeout that had in fact
//! landed) collapses: rows are deduplicated by event id (see `migrations/`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use clickhouse::Client;
use packetpulse_model::PublishedEvent;
use packetpulse_ops::dead_letter::DeadLetters;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::transform::{Enricher, Movement};

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// Rows read since the last insert, and the offsets that follow them.
#[derive(Default)]
struct Batch {
    rows: Vec<Movement>,
    next_offsets: BTreeMap<i32, i64>,
    completed_sessions: Vec<String>,
    newest_event_ms: u64,
    started: Option<Instant>,
}

/// Consumes the topic in the group until `shutdown`, inserting and committing what was read before returning.
pub async fn run_sink(config: &Config, metrics: &Metrics, shutdown: &CancellationToken) -> Result<(), Error> {
    let client = config.clickhouse_client();
    crate::migrations::migrate(&client, &config.clickhouse_database).await?;
    let client = client.with_database(&config.clickhouse_database);
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.kafka_bootstrap_servers)
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set(
            "session.timeout.ms",
            config.session_timeout.as_millis().to_string(),
        )
        .set(
            "heartbeat.interval.ms",
            (config.session_timeout / 3).as_millis().to_string(),
        )
        .create()
        .map_err(|source| Error::Kafka {
            servers: config.kafka_bootstrap_servers.clone(),
            source,
        })?;
    consumer
        .subscribe(&[&config.topic])
        .map_err(|source| Error::Kafka {
            servers: config.kafka_bootstrap_servers.clone(),
            source,
        })?;
    let consumer = Arc::new(consumer);
    let lag_monitor = tokio::spawn(monitor_lag(
        consumer.clone(),
        config.topic.clone(),
        metrics.clone(),
    ));
    let mut dead_letters = DeadLetters::new(&config.kafka_bootstrap_servers, &config.dead_letter_topic)?;
    let mut enricher = Enricher::new(config.max_speed_kmh);
    let mut batch = Batch::default();
    let result = async {
        loop {
            let due = async {
                match batch.started {
                    Some(started) => tokio::time::sleep_until(started + config.flush_interval).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = due => {
                    flush(config, &client, &consumer, &mut dead_letters, &mut enricher, &mut batch, metrics, shutdown).await?;
                }
                message = packetpulse_ops::next_message(&consumer) => {
                    let (partition, offset) = (message.partition(), message.offset());
                    match PublishedEvent::from_kafka_message(message.payload(), "jupiter", partition, offset) {
                        Ok((event, _)) => {
                            let row = enricher.enrich(&event, now_ms());
                            batch.newest_event_ms = batch.newest_event_ms.max(row.event_time_ms);
                            if Enricher::is_final(event.event.status) {
                                batch.completed_sessions.push(event.event.session_id);
                            }
                            batch.rows.push(row);
                        }
                        Err(letter) => {
                            dead_letters.send(&letter)?;
                            metrics.dead_lettered.inc();
                        }
                    }
                    batch.next_offsets.insert(partition, offset + 1);
                    batch.started.get_or_insert_with(Instant::now);
                    if batch.rows.len() >= config.flush_rows {
                        flush(config, &client, &consumer, &mut dead_letters, &mut enricher, &mut batch, metrics, shutdown).await?;
                    }
                }
            }
        }
        if batch.started.is_some() {
            flush(config, &client, &consumer, &mut dead_letters, &mut enricher, &mut batch, metrics, shutdown).await?;
        }
        Ok(())
    }
    .await;
    lag_monitor.abort();
    result
}

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Inserts the batch (retrying until it lands or shutdown), then commits the offsets that follow it.
#[allow(clippy::too_many_arguments)] // The loop's state, passed explicitly rather than bundled for one call site.
async fn flush(
    config: &Config,
    client: &Client,
    consumer: &StreamConsumer,
    dead_letters: &mut DeadLetters,
    enricher: &mut Enricher,
    batch: &mut Batch,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Result<(), Error> {
    let current = std::mem::take(batch);
    if !current.rows.is_empty() {
        insert_with_retry(client, &current.rows, metrics, shutdown).await?;
    }
    dead_letters.acknowledged().await?;
    let mut offsets = TopicPartitionList::new();
    for (&partition, &next) in &current.next_offsets {
        offsets
            .add_partition_offset(&config.topic, partition, Offset::Offset(next))
            .map_err(|source| Error::Kafka {
                servers: config.kafka_bootstrap_servers.clone(),
                source,
            })?;
    }
    // A failed commit only means the batch is read and inserted again after a restart, where it collapses.
    if let Err(error) = consumer.commit(&offsets, CommitMode::Async) {
        tracing::warn!(%error, "committing offsets failed; the batch may be read again");
    }
    for session in &current.completed_sessions {
        enricher.forget(session);
    }
    metrics.rows_inserted.inc_by(current.rows.len() as u64);
    metrics.batches.inc();
    if let Some(started) = current.started {
        metrics.batch_latency.observe(started.elapsed().as_secs_f64());
    }
    if current.newest_event_ms > 0 {
        metrics
            .freshness
            .set(now_ms().saturating_sub(current.newest_event_ms) as f64 / 1_000.0);
    }
    tracing::debug!(rows = current.rows.len(), "inserted");
    Ok(())
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

/// Publishes lag per assigned partition every [`LAG_INTERVAL`].
async fn monitor_lag(consumer: Arc<StreamConsumer>, topic: String, metrics: Metrics) {
    let mut ticks = tokio::time::interval(LAG_INTERVAL);
    loop {
        ticks.tick().await;
        let consumer = consumer.clone();
        let topic = topic.clone();
        // Watermarks are a broker round trip each.
        let lag = tokio::task::spawn_blocking(move || {
            let Ok(positions) = consumer.position() else {
                return Vec::new();
            };
            positions
                .elements_for_topic(&topic)
                .iter()
                .filter_map(|element| {
                    let Offset::Offset(position) = element.offset() else {
                        return None;
                    };
                    let (_, high) = consumer
                        .fetch_watermarks(&topic, element.partition(), Duration::from_secs(5))
                        .ok()?;
                    Some((element.partition(), (high - position).max(0)))
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(lag) = lag else {
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
