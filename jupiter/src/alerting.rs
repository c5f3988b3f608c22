//! The pipeline's alert stage (issue 19): every admitted row goes through the [`Detector`], silence is judged
//! once a second, and what they raise is published to the `alerts` topic and awaited before the batch's rows
//! are inserted — so silver holding an event's row means its alerts are in Kafka, and a restart that finds the
//! row needs no detection of it again ([`crate::alerts::restore`]). The alerts' silver rows go in with the
//! batch, before its movements.
//!
//! The geofences and the per-rule threshold overrides are the compacted `geofences` and `alert-rules` topics,
//! read to their end before the first message and followed after; a change is in force at the next batch or
//! tick (well within 5 s).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use clickhouse::Client;
use packetpulse_model::{Alert, DeliveryStatus, GeoPoint};
use packetpulse_ops::kafka::acked::AckedProducer;
use packetpulse_ops::kafka::admin::TopicSpec;
use packetpulse_ops::kafka::{Consumer, compacted, partition_of};
use rdkafka::consumer::Consumer as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::alerts::clock::PartitionClocks;
use crate::alerts::{AlertRow, Detector, GeofenceBook, Observation, RuleBook, Thresholds, restore};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::retry::Backoff;
use crate::transform::{Enricher, Movement};

/// How often silence is judged.
pub const TICK: Duration = Duration::from_secs(1);

/// Open sessions older than the abandonment time by more than this are not restored: they were abandoned (or
/// should have been) long ago.
const RESTORE_BEYOND_ABANDONMENT: Duration = Duration::from_secs(24 * 60 * 60);

/// The detector and what feeds it.
pub struct Alerting {
    detector: Detector,
    book: GeofenceBook,
    fences_version: u64,
    rules: RuleBook,
    rules_version: u64,
    /// Jupiter's own thresholds, under the overrides.
    defaults: Thresholds,
    followers: Vec<JoinHandle<()>>,
    producer: AckedProducer,
    clocks: PartitionClocks,
    /// The newest answer to "which partitions are read to their end".
    ends: watch::Receiver<Option<EndsReport>>,
    ends_task: JoinHandle<()>,
    /// Partitions whose open sessions were restored since they were assigned.
    restored: BTreeSet<i32>,
    topic: String,
    metrics: Metrics,
    lookups: Backoff,
}

impl Alerting {
    /// Reads the geofences to their end, starts following them, and connects the alerts producer.
    pub async fn start(
        config: &Config,
        consumer_of_events: &Consumer,
        metrics: &Metrics,
        shutdown: &CancellationToken,
        lookups: Backoff,
    ) -> Result<Self, Error> {
        let settings = read_settings(config, shutdown).await?;
        let followers = vec![
            tokio::spawn(compacted::follow(
                settings.geofences_consumer,
                {
                    let book = settings.book.clone();
                    move |record| book.apply(record)
                },
                shutdown.clone(),
            )),
            tokio::spawn(compacted::follow(
                settings.rules_consumer,
                {
                    let rules = settings.rules.clone();
                    move |record| rules.apply(record)
                },
                shutdown.clone(),
            )),
        ];
        let producer = AckedProducer::new(&config.kafka_bootstrap_servers, &config.alerts.alerts_topic)
            .map_err(|error| Error::Alerts(error.to_string()))?;
        let (ends, ends_task) = watch_ends(consumer_of_events.clone(), config.topic.clone());
        let mut alerting = Self {
            detector: Detector::new(config.alerts.thresholds()),
            book: settings.book,
            fences_version: u64::MAX,
            rules: settings.rules,
            rules_version: u64::MAX,
            defaults: config.alerts.thresholds(),
            followers,
            producer,
            clocks: PartitionClocks::default(),
            ends,
            ends_task,
            restored: BTreeSet::new(),
            topic: config.topic.clone(),
            metrics: metrics.clone(),
            lookups,
        };
        alerting.refresh_settings();
        Ok(alerting)
    }

    /// A message was read from `partition`.
    pub fn read(&mut self, partition: i32) {
        self.clocks.read(partition, Instant::now());
    }

    /// The group took `partitions` away: their sessions are another instance's now.
    pub fn forget(&mut self, partitions: &[i32]) {
        self.detector.forget_partitions(partitions);
        self.clocks.forget(partitions);
        for partition in partitions {
            self.restored.remove(partition);
        }
        self.metrics.alert_sessions.set(self.detector.sessions() as i64);
    }

    /// The alerts `rows` (just admitted and enriched, in read order) raise. Sessions the detector does not
    /// follow are first read back from silver.
    pub async fn detect(
        &mut self,
        client: &Client,
        enricher: &Enricher,
        rows: &[Movement],
    ) -> Result<Vec<Alert>, Error> {
        self.refresh_settings();
        let mut unknown: Vec<(&str, i32)> = rows
            .iter()
            .filter(|row| !self.detector.knows(&row.session_id))
            .filter_map(|row| Some((row.session_id.as_str(), enricher.partition_of(&row.session_id)?)))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if !unknown.is_empty() {
            let thresholds = self.detector.thresholds().clone();
            let found = self
                .lookups
                .retry(|| restore::sessions(client, &unknown, &thresholds))
                .await?;
            for (session_id, state) in found {
                match state {
                    Some(state) => self.detector.restore(&session_id, state),
                    None => self.detector.close(&session_id),
                }
            }
        }
        let alerts = observe_rows(&mut self.detector, &mut self.clocks, enricher, rows);
        self.metrics.alert_sessions.set(self.detector.sessions() as i64);
        Ok(alerts)
    }

    /// Judges silence (call with nothing read waiting for detection): restores the open sessions of partitions
    /// assigned since the last tick, takes the newest check of which partitions are read to their end, and
    /// returns the offline and abandonment alerts of every partition's clock.
    pub async fn tick(&mut self, client: &Client, consumer: &Consumer) -> Result<Vec<Alert>, Error> {
        self.refresh_settings();
        let assigned = consumer.assigned(&self.topic);
        let gained: Vec<i32> = assigned
            .iter()
            .copied()
            .filter(|partition| !self.restored.contains(partition))
            .collect();
        if !gained.is_empty() {
            self.restore_partitions(client, consumer, &gained).await?;
        }
        let report = self.ends.borrow().clone();
        if let Some(report) = report {
            self.clocks.settle(report.checked_at, &report.caught_up);
        }
        let (clocks, now, wall_ms) = (&self.clocks, Instant::now(), crate::sink::now_ms());
        let alerts = self
            .detector
            .tick(|partition| clocks.now(partition, now, wall_ms));
        self.metrics.alert_sessions.set(self.detector.sessions() as i64);
        Ok(alerts)
    }

    /// Publishes `alerts` to the alerts topic and waits until Kafka has them; returns their silver rows.
    pub async fn publish(&mut self, alerts: &[Alert]) -> Result<Vec<AlertRow>, Error> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        for alert in alerts {
            let payload = serde_json::to_vec(alert).expect("an alert always serialises");
            self.producer
                .send(Some(alert.session_id.as_bytes()), &payload)
                .map_err(|error| Error::Alerts(error.to_string()))?;
            tracing::info!(alert_id = %alert.alert_id, kind = alert.kind.as_str(), session = %alert.session_id,
                message = %alert.message, "alert");
        }
        self.producer
            .acknowledged()
            .await
            .map_err(|error| Error::Alerts(error.to_string()))?;
        let detected_at_ms = crate::sink::now_ms();
        for alert in alerts {
            self.metrics
                .alerts_raised
                .with_label_values(&[alert.kind.as_str()])
                .inc();
        }
        Ok(alerts
            .iter()
            .map(|alert| AlertRow::new(alert, detected_at_ms))
            .collect())
    }

    /// Stops following the geofences and checking the partitions' ends, and waits until those tasks are gone
    /// (the ends check holds a clone of the events consumer, which closes only after the last clone).
    pub async fn stop(self) {
        let tasks = self.followers.into_iter().chain([self.ends_task]);
        for task in tasks {
            task.abort();
            // Cancelled, or finished on its own: either way it is gone.
            let _ = task.await;
        }
    }

    fn refresh_settings(&mut self) {
        let version = self.book.version();
        if version != self.fences_version {
            self.fences_version = version;
            self.detector.set_geofences(self.book.fences());
            self.metrics.geofences.set(self.detector.geofences() as i64);
        }
        let version = self.rules.version();
        if version != self.rules_version {
            self.rules_version = version;
            let thresholds = self.rules.thresholds(&self.defaults);
            if &thresholds != self.detector.thresholds() {
                tracing::info!(?thresholds, "alert thresholds in force");
            }
            self.detector.set_thresholds(thresholds);
            self.metrics.alert_rule_overrides.set(self.rules.len() as i64);
        }
    }

    /// Follows the open sessions of `partitions` (just assigned) from silver, so one that went silent before it
    /// came here is still judged.
    async fn restore_partitions(
        &mut self,
        client: &Client,
        consumer: &Consumer,
        partitions: &[i32],
    ) -> Result<(), Error> {
        let Some(count) = partition_count(consumer, &self.topic).await else {
            return Ok(()); // metadata not available yet: the next tick tries again
        };
        let thresholds = self.detector.thresholds().clone();
        let lookback = thresholds.abandoned_after + RESTORE_BEYOND_ABANDONMENT;
        let found = self
            .lookups
            .retry(|| {
                restore::open_sessions_of(
                    client,
                    partitions,
                    |session| partition_of(session.as_bytes(), count),
                    &thresholds,
                    lookback,
                )
            })
            .await?;
        let restored = found.len();
        for (session_id, state) in found {
            self.detector.restore(&session_id, state);
        }
        self.restored.extend(partitions);
        tracing::info!(
            ?partitions,
            restored,
            "alert detection restored the open sessions of assigned partitions"
        );
        Ok(())
    }
}

/// The alerts `rows` (enriched by `enricher`, in read order) raise, advancing their partitions' clocks.
pub fn observe_rows(
    detector: &mut Detector,
    clocks: &mut PartitionClocks,
    enricher: &Enricher,
    rows: &[Movement],
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for row in rows {
        let Some(partition) = enricher.partition_of(&row.session_id) else {
            continue;
        };
        let status = match row.status {
            "started" => DeliveryStatus::Started,
            "completed" => DeliveryStatus::Completed,
            _ => DeliveryStatus::EnRoute,
        };
        alerts.extend(detector.observe(&Observation {
            event_id: uuid::Uuid::parse_str(&row.event_id).unwrap_or_default(),
            session_id: &row.session_id,
            vehicle_id: &row.vehicle_id,
            status,
            time_ms: row.event_time_ms,
            point: GeoPoint::new(row.lat, row.lon),
            speed_kmh: row.speed_kmh,
            partition,
        }));
        clocks.detected(partition, row.event_time_ms);
    }
    alerts
}

/// The detector's settings from Kafka, read to the topics' ends, and the consumers ready to follow the rest.
pub struct AlertSettings {
    /// The geofences.
    pub book: GeofenceBook,
    /// The per-rule threshold overrides.
    pub rules: RuleBook,
    /// Follows `geofences`.
    pub geofences_consumer: Consumer,
    /// Follows `alert-rules`.
    pub rules_consumer: Consumer,
}

/// Makes sure the geofences, alert rules and alerts topics exist, then reads the geofences and the overrides to
/// their topics' ends.
pub async fn read_settings(config: &Config, shutdown: &CancellationToken) -> Result<AlertSettings, Error> {
    let compacted_topic = |name| TopicSpec {
        name,
        partitions: 1,
        compacted: true,
    };
    packetpulse_ops::kafka::admin::ensure_topics(
        &config.kafka_bootstrap_servers,
        &[
            compacted_topic(&config.alerts.geofences_topic),
            compacted_topic(&config.alerts.rules_topic),
            TopicSpec {
                name: &config.alerts.alerts_topic,
                partitions: 1,
                compacted: false,
            },
        ],
    )
    .await?;
    let (book, rules) = (GeofenceBook::default(), RuleBook::default());
    let geofences_consumer = compacted::catch_up(
        &config.kafka_bootstrap_servers,
        &config.alerts.geofences_topic,
        "jupiter-geofences",
        &mut |record| book.apply(record),
        shutdown,
    )
    .await?;
    let rules_consumer = compacted::catch_up(
        &config.kafka_bootstrap_servers,
        &config.alerts.rules_topic,
        "jupiter-alert-rules",
        &mut |record| rules.apply(record),
        shutdown,
    )
    .await?;
    Ok(AlertSettings {
        book,
        rules,
        geofences_consumer,
        rules_consumer,
    })
}

/// Which partitions were read to their end at one check.
#[derive(Debug, Clone)]
struct EndsReport {
    checked_at: Instant,
    caught_up: Vec<i32>,
}

/// Checks every [`TICK`], off the read loop (the broker's answers take a while), which assigned partitions the
/// consumer has read to the high watermark: its position, or for a partition it has returned nothing from yet
/// the group's committed offset (an empty partition counts).
fn watch_ends(consumer: Consumer, topic: String) -> (watch::Receiver<Option<EndsReport>>, JoinHandle<()>) {
    let (sender, receiver) = watch::channel(None);
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let checked_at = Instant::now();
            let (consumer, topic) = (consumer.clone(), topic.clone());
            let checked = tokio::task::spawn_blocking(move || caught_up(&consumer, &topic)).await;
            let Ok(caught_up) = checked else { return };
            if sender
                .send(Some(EndsReport {
                    checked_at,
                    caught_up,
                }))
                .is_err()
            {
                return;
            }
        }
    });
    (receiver, task)
}

/// The assigned partitions of `topic` read to their high watermark (blocking: broker round trips).
fn caught_up(consumer: &Consumer, topic: &str) -> Vec<i32> {
    let raw = consumer.raw();
    let positions = consumer.positions(topic);
    let assigned = consumer.assigned(topic);
    let committed = if assigned.iter().all(|p| positions.contains_key(p)) {
        None
    } else {
        raw.committed(Duration::from_secs(5)).ok()
    };
    assigned
        .into_iter()
        .filter(|&partition| {
            let Ok((low, high)) = raw.fetch_watermarks(topic, partition, Duration::from_secs(5)) else {
                return false;
            };
            let position = positions.get(&partition).copied().or_else(|| {
                committed
                    .as_ref()?
                    .find_partition(topic, partition)
                    .and_then(|element| element.offset().to_raw())
                    .filter(|offset| *offset >= 0)
            });
            position.map_or(low == high, |position| position >= high)
        })
        .collect()
}

/// How many partitions `topic` has, from the broker's metadata.
async fn partition_count(consumer: &Consumer, topic: &str) -> Option<usize> {
    let (raw, topic) = (consumer.raw().clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let metadata = raw.fetch_metadata(Some(&topic), Duration::from_secs(5)).ok()?;
        let count = metadata.topics().first()?.partitions().len();
        (count > 0).then_some(count)
    })
    .await
    .ok()
    .flatten()
}
