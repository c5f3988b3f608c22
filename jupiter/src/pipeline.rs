//! The pipeline: source (Kafka, in the group) → transform (enrich) → sink ([`SilverSink`]), in batches of
//! `flush_rows` or every `flush_interval`. Kafka offsets are committed only after the insert of everything before them
//! succeeded; a failed insert is retried with back-off while reading pauses, so ClickHouse trouble back-pressures
//! Kafka and skips nothing. A batch that is inserted twice (crash between insert and offset commit, retry after a
//! timeout that had in fact landed) collapses: rows are deduplicated by event id (see `migrations/`).

use std::collections::BTreeMap;

use clickhouse::Client;
use packetpulse_model::PublishedEvent;
use packetpulse_ops::Health;
use packetpulse_ops::kafka::Consumer;
use packetpulse_ops::kafka::dead_letter::DeadLetters;
use rdkafka::Message;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::alerting::{self, Alerting};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::retry::Backoff;
use crate::sink::{Batch, SilverSink, SinkOptions};
use crate::transform::{Enricher, Position};

/// How long shutdown waits for the consumer's other users (the lag and ends checks, each a few broker round
/// trips of at most 5 s) before leaving the group.
const CONSUMER_CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Events read since the last submitted batch, and the offsets that follow them.
#[derive(Default)]
struct Pending {
    events: Vec<(PublishedEvent, Position)>,
    next_offsets: BTreeMap<i32, i64>,
    started: Option<Instant>,
}

/// What turns a read batch into rows: the silver client (for sessions' lifecycles), the enricher, the
/// dead-letter producer.
struct Stages<'a> {
    config: &'a Config,
    consumer: &'a Consumer,
    client: Client,
    enricher: Enricher,
    dead_letters: DeadLetters,
    metrics: &'a Metrics,
    lookups: Backoff,
    alerting: Alerting,
}

/// Consumes the topic in the group until `shutdown`, inserting and committing what was read before returning.
pub async fn run(
    config: &Config,
    metrics: &Metrics,
    shutdown: &CancellationToken,
    health: &Health,
) -> Result<(), Error> {
    let client = config.clickhouse_client();
    crate::migrations::migrate(&client, &config.clickhouse.database).await?;
    let client = client.with_database(&config.clickhouse.database);
    let consumer = crate::source::subscribe(config)?;
    let lag_monitor = crate::source::monitor_lag(&consumer, config, metrics);
    let consumed = consume(config, &consumer, client, metrics, shutdown, health).await;
    lag_monitor.abort();
    // Cancelled, or finished on its own: either way its clone of the consumer is going.
    let _ = lag_monitor.await;
    // Out of the group before returning, also after a failed start, so a replacement started next joins a
    // group without this instance.
    consumer.close(CONSUMER_CLOSE_TIMEOUT).await;
    consumed
}

/// Everything between joining the group and leaving it: resumes the running sessions, then reads, enriches,
/// detects and writes until `shutdown`.
async fn consume(
    config: &Config,
    consumer: &Consumer,
    client: Client,
    metrics: &Metrics,
    shutdown: &CancellationToken,
    health: &Health,
) -> Result<(), Error> {
    let mut enricher = Enricher::new(config.max_speed_kmh).with_idle_timeout(config.session_idle_timeout);
    let resumed = crate::resume::restore_open_sessions(&client, &mut enricher).await?;
    tracing::info!(sessions = resumed, "resumed the history of running sessions");
    let dead_letters = DeadLetters::new(&config.kafka_bootstrap_servers, &config.dead_letter_topic)?;
    let sink_dead_letters = DeadLetters::new(&config.kafka_bootstrap_servers, &config.dead_letter_topic)?;
    let lookup_backoff =
        || crate::lifecycle::lookup_backoff(health.clone(), shutdown.clone(), config.clickhouse.timeout);
    // The last fallible step: from here on every exit stops the alerting tasks.
    let alerting = Alerting::start(config, consumer, metrics, shutdown, lookup_backoff()).await?;
    let mut stages = Stages {
        config,
        consumer,
        client: client.clone(),
        enricher,
        dead_letters,
        metrics,
        lookups: lookup_backoff(),
        alerting,
    };
    let writer = SilverSink::start(
        client,
        SinkOptions {
            dead_letters: Some(sink_dead_letters),
            health: health.clone(),
            timeout: config.clickhouse.timeout,
            ..SinkOptions::new(metrics.clone(), shutdown.clone())
        },
    );
    let mut pending = Pending::default();
    let mut ticks = tokio::time::interval(alerting::TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                () = due => stages.submit(&writer, &mut pending).await?,
                _ = ticks.tick() => stages.judge_silence(&writer, &mut pending).await?,
                message = consumer.next_message() => {
                    let revoked = consumer.take_revoked(&config.topic);
                    if !revoked.is_empty() {
                        stages.after_revocation(&writer, &mut pending, &revoked).await?;
                    }
                    let (partition, offset) = (message.partition(), message.offset());
                    stages.alerting.read(partition);
                    match PublishedEvent::from_kafka_message(message.payload(), "jupiter", partition, offset) {
                        Ok((event, _)) => pending.events.push((event, Position { partition, offset })),
                        Err(letter) => {
                            stages.dead_letters.send(&letter)?;
                            metrics.dead_lettered.inc();
                        }
                    }
                    pending.next_offsets.insert(partition, offset + 1);
                    pending.started.get_or_insert_with(Instant::now);
                    if pending.events.len() >= config.flush_rows {
                        stages.submit(&writer, &mut pending).await?;
                    }
                }
            }
        }
        if pending.started.is_some() {
            stages.submit(&writer, &mut pending).await?;
        }
        Ok(())
    }
    .await;
    // The writer's own failure (shutdown while retrying) explains a failed submit better than the submit does.
    let written = writer.finish().await;
    stages.alerting.stop().await;
    written.and(read)
}

impl Stages<'_> {
    /// The group took `revoked` from this instance. What was read before is enriched with what is held (it was
    /// read under the old assignment), then the sessions of those partitions are forgotten: another instance
    /// goes on with them, and if they come back here they are read back from silver instead of measured
    /// against a stale track.
    async fn after_revocation(
        &mut self,
        writer: &SilverSink,
        pending: &mut Pending,
        revoked: &[i32],
    ) -> Result<(), Error> {
        if pending.started.is_some() {
            self.submit(writer, pending).await?;
        }
        let forgotten = self.enricher.forget_partitions(revoked);
        self.alerting.forget(revoked);
        self.metrics.sessions_held.set(self.enricher.sessions() as i64);
        tracing::info!(
            ?revoked,
            forgotten,
            "forgot the sessions of the partitions revoked"
        );
        Ok(())
    }

    /// Admits what was read (refusing events that would reopen a session), enriches it and hands it to the
    /// writer, to be inserted and then have its offsets committed. Dead letters of the batch are delivered
    /// first: the committed offsets pass them.
    async fn submit(&mut self, writer: &SilverSink, pending: &mut Pending) -> Result<(), Error> {
        let current = std::mem::take(pending);
        let (rows, refused) = crate::lifecycle::admit(
            &self.client,
            &mut self.enricher,
            current.events,
            &mut self.lookups,
        )
        .await?;
        let alerts = self.alerting.detect(&self.client, &self.enricher, &rows).await?;
        self.metrics.sessions_held.set(self.enricher.sessions() as i64);
        self.metrics
            .copies_dropped
            .set(i64::try_from(self.enricher.copies_dropped()).unwrap_or(i64::MAX));
        self.metrics
            .sessions_evicted_idle
            .set(i64::try_from(self.enricher.evicted_idle()).unwrap_or(i64::MAX));
        for letter in &refused {
            self.dead_letters.send(letter)?;
            self.metrics.dead_lettered.inc();
        }
        self.dead_letters.acknowledged().await?;
        let alerts = self.alerting.publish(&alerts).await?;
        let (consumer, topic, offsets) = (
            self.consumer.clone(),
            self.config.topic.clone(),
            current.next_offsets,
        );
        // A failed commit only means the batch is read and inserted again after a restart, where it collapses.
        let commit = move || consumer.commit(&topic, &offsets);
        writer
            .submit(Batch {
                newest_event_ms: rows.iter().map(|row| row.event_time_ms).max().unwrap_or(0),
                rows,
                alerts,
                started: current.started.unwrap_or_else(Instant::now),
                after_insert: Some(Box::new(commit)),
            })
            .await
    }

    /// Once a second: what was read goes through detection first, then silence is judged and what it raises is
    /// published and inserted (no offsets to commit: a crash before finds the same silence again).
    async fn judge_silence(&mut self, writer: &SilverSink, pending: &mut Pending) -> Result<(), Error> {
        if pending.started.is_some() {
            self.submit(writer, pending).await?;
        }
        let alerts = self.alerting.tick(&self.client, self.consumer).await?;
        if alerts.is_empty() {
            return Ok(());
        }
        let alerts = self.alerting.publish(&alerts).await?;
        writer
            .submit(Batch {
                rows: Vec::new(),
                alerts,
                newest_event_ms: 0,
                started: Instant::now(),
                after_insert: None,
            })
            .await
    }
}
