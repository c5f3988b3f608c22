//! The Kafka loop: read events, enrich them, and hand them to the [`SilverWriter`] in batches of `flush_rows` or
//! every `flush_interval`. Kafka offsets are committed only after the insert of everything before them
//! succeeded; a failed insert is retried with back-off while reading pauses, so ClickHouse trouble back-pressures
//! Kafka and skips nothing. A batch that is inserted twice (crash between insert and offset commit, retry after a
//! timeout that had in fact landed) collapses: rows are deduplicated by event id (see `migrations/`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use packetpulse_model::PublishedEvent;
use packetpulse_ops::dead_letter::DeadLetters;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::transform::{Enricher, Movement, Position};
use crate::writer::{Batch, SilverWriter, now_ms};

const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// Rows read since the last submitted batch, and the offsets that follow them.
#[derive(Default)]
struct Pending {
    rows: Vec<Movement>,
    next_offsets: BTreeMap<i32, i64>,
    newest_event_ms: u64,
    started: Option<Instant>,
}

/// Consumes the topic in the group until `shutdown`, inserting and committing what was read before returning.
pub async fn run_sink(config: &Config, metrics: &Metrics, shutdown: &CancellationToken) -> Result<(), Error> {
    let client = config.clickhouse_client();
    crate::migrations::migrate(&client, &config.clickhouse.database).await?;
    let client = client.with_database(&config.clickhouse.database);
    let consumer = Arc::new(subscribe(config)?);
    let lag_monitor = tokio::spawn(monitor_lag(
        consumer.clone(),
        config.topic.clone(),
        metrics.clone(),
    ));
    let mut dead_letters = DeadLetters::new(&config.kafka_bootstrap_servers, &config.dead_letter_topic)?;
    let mut enricher = Enricher::new(config.max_speed_kmh);
    let resumed = crate::resume::restore_open_sessions(&client, &mut enricher).await?;
    tracing::info!(sessions = resumed, "resumed the history of running sessions");
    let writer = SilverWriter::start(client, metrics.clone(), shutdown.clone());
    let mut pending = Pending::default();
    let read = async {
        loop {
            let due = async {
                match pending.started {
                    Some(started) => tokio::time::sleep_until(started + config.flush_interval).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = due => submit(config, &consumer, &mut dead_letters, &writer, &mut pending).await?,
                message = packetpulse_ops::next_message(&consumer) => {
                    let (partition, offset) = (message.partition(), message.offset());
                    match PublishedEvent::from_kafka_message(message.payload(), "jupiter", partition, offset) {
                        Ok((event, _)) => {
                            let row = enricher.enrich(event, Position { partition, offset }, now_ms());
                            pending.newest_event_ms = pending.newest_event_ms.max(row.event_time_ms);
                            pending.rows.push(row);
                        }
                        Err(letter) => {
                            dead_letters.send(&letter)?;
                            metrics.dead_lettered.inc();
                        }
                    }
                    pending.next_offsets.insert(partition, offset + 1);
                    pending.started.get_or_insert_with(Instant::now);
                    if pending.rows.len() >= config.flush_rows {
                        submit(config, &consumer, &mut dead_letters, &writer, &mut pending).await?;
                    }
                }
            }
        }
        if pending.started.is_some() {
            submit(config, &consumer, &mut dead_letters, &writer, &mut pending).await?;
        }
        Ok(())
    }
    .await;
    // The writer's own failure (shutdown while retrying) explains a failed submit better than the submit does.
    let written = writer.finish().await;
    lag_monitor.abort();
    written.and(read)
}

fn subscribe(config: &Config) -> Result<StreamConsumer, Error> {
    let kafka_error = |source| Error::Kafka {
        servers: config.kafka_bootstrap_servers.clone(),
        source,
    };
    let mut client_config = ClientConfig::new();
    if let Some(instance_id) = &config.instance_id {
        client_config.set("group.instance.id", instance_id);
    }
    let consumer: StreamConsumer = client_config
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
        .map_err(kafka_error)?;
    consumer.subscribe(&[&config.topic]).map_err(kafka_error)?;
    Ok(consumer)
}

/// Hands what was read to the writer, to be inserted and then have its offsets committed. Dead letters of the
/// batch are delivered first: the committed offsets pass them.
async fn submit(
    config: &Config,
    consumer: &Arc<StreamConsumer>,
    dead_letters: &mut DeadLetters,
    writer: &SilverWriter,
    pending: &mut Pending,
) -> Result<(), Error> {
    let current = std::mem::take(pending);
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
    let consumer = consumer.clone();
    let commit = move || {
        // A failed commit only means the batch is read and inserted again after a restart, where it collapses.
        if let Err(error) = consumer.commit(&offsets, CommitMode::Async) {
            tracing::warn!(%error, "committing offsets failed; the batch may be read again");
        }
    };
    writer
        .submit(Batch {
            rows: current.rows,
            newest_event_ms: current.newest_event_ms,
            started: current.started.unwrap_or_else(Instant::now),
            after_insert: Some(Box::new(commit)),
        })
        .await
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
