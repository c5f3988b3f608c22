//! The two loops of notification delivery. The intake reads the `alerts` topic and writes one outbox row per alert
//! and channel before it moves its position (kept in the outbox's database) past the alert: an alert read is
//! never lost, and a replay finds its rows and adds nothing. The sender takes due rows, sends each, and records
//! the outcome: a 2xx or an accepted mail marks it delivered (never sent again), a failure schedules a retry with
//! exponential back-off, and after the last attempt the row is failed, with its reason in the delivery log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use packetpulse_model::Alert;
use packetpulse_ops::kafka::{Consumer, ConsumerConfig, KafkaError};
use rdkafka::{Message, Offset};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::email::Mailer;
use super::store::{Delivery, NewDelivery, NotifyStore};
use super::{Metrics, Settings, webhook};
use crate::server::users::UserError;

/// How many due deliveries one look at the outbox reads.
const BATCH: i64 = 64;
/// Deliveries sent at once, in all and through one slot (a webhook endpoint; the SMTP relay, for every mail).
const CONCURRENCY: usize = 8;
const PER_SLOT: usize = 4;
/// Due rows one look reads of each channel: enough to fill its slot.
const PER_CHANNEL_DUE: i64 = PER_SLOT as i64;
/// How long the intake waits before writing an alert's rows again after the database failed.
const DATABASE_RETRY: Duration = Duration::from_secs(1);
/// How often the sender looks for due retries when nothing new arrived.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often the intake looks for partitions added to the alerts topic.
const PARTITIONS_RECHECK: Duration = Duration::from_secs(60);

/// What both loops share.
#[derive(Clone)]
pub struct Worker {
    /// The outbox.
    pub store: NotifyStore,
    /// SMTP, when configured.
    pub mailer: Option<Mailer>,
    /// HTTP for webhooks.
    pub http: reqwest::Client,
    /// Retries, timeouts, topic.
    pub settings: Arc<Settings>,
    /// Sent and failed deliveries.
    pub metrics: Metrics,
    /// Wakes the sender when the intake queued something.
    pub wake: Arc<Notify>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Worker {
    /// Reads the alerts topic until `shutdown`, queueing every alert for its channels. The intake assigns itself
    /// every partition, starting at the positions the outbox holds, and moves a position on only after the
    /// alert's rows are written: no consumer group (tansu 0.6 was seen to leave a static member without its
    /// partition after kills), and the position lives beside what it protects. Replicas each read every alert;
    /// the rows' `ON CONFLICT` makes the second copy a no-op.
    pub async fn intake(self, shutdown: CancellationToken) -> Result<(), KafkaError> {
        let topic = self.settings.topic.clone();
        // The group id only names the client: it never joins a group nor commits to one.
        let client = format!("mercury-notify-{}", uuid::Uuid::new_v4());
        let consumer = ConsumerConfig::new(&self.settings.bootstrap_servers, &client).create()?;
        // Subscribing before the topic exists makes librdkafka log errors until it does: wait for it.
        let Some(mut partitions) = consumer.partitions(&topic, &shutdown).await else {
            return Ok(());
        };
        if !self.assign(&consumer, &partitions, &shutdown).await? {
            return Ok(());
        }
        tracing::info!(%topic, partitions = partitions.len(), "notifications follow the alerts");
        let mut recheck = tokio::time::interval(PARTITIONS_RECHECK);
        recheck.tick().await;
        loop {
            let (payload, partition, offset, published_ms) = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = recheck.tick() => {
                    // Partitions added to the topic are read too, from their beginning.
                    match consumer.partitions(&topic, &shutdown).await {
                        Some(now) if now.len() > partitions.len() => {
                            partitions = now;
                            if !self.assign(&consumer, &partitions, &shutdown).await? {
                                return Ok(());
                            }
                            tracing::info!(%topic, partitions = partitions.len(), "the alerts topic grew");
                        }
                        Some(_) => {}
                        None => return Ok(()),
                    }
                    continue;
                }
                message = consumer.next_message() => (
                    message.payload().map(<[u8]>::to_vec),
                    message.partition(),
                    message.offset(),
                    message.timestamp().to_millis(),
                ),
            };
            if let Some(payload) = payload {
                self.queue_until_written(&payload, offset, published_ms, &shutdown)
                    .await;
            }
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if let Err(error) = self.store.advance(&topic, partition, offset + 1).await {
                // Harmless: a restart reads that alert again and finds its rows.
                tracing::warn!(%error, partition, offset, "could not record the intake's position");
            }
        }
    }

    /// Assigns `partitions` of the topic at the outbox's positions (a partition without one from its beginning),
    /// waiting while the database fails; false when `shutdown` came first.
    async fn assign(
        &self,
        consumer: &Consumer,
        partitions: &[i32],
        shutdown: &CancellationToken,
    ) -> Result<bool, KafkaError> {
        let topic = &self.settings.topic;
        let positions = loop {
            match self.store.positions(topic).await {
                Ok(positions) => break positions,
                Err(error) => {
                    tracing::warn!(%error, "could not read the intake's positions; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(false),
                        () = tokio::time::sleep(DATABASE_RETRY) => {}
                    }
                }
            }
        };
        consumer.assign(topic, partitions, |partition| {
            positions
                .get(&partition)
                .map_or(Offset::Beginning, |&next| Offset::Offset(next))
        })?;
        Ok(true)
    }

    /// Queues one alert, retrying while the database fails (back-pressure: the position does not move).
    async fn queue_until_written(
        &self,
        payload: &[u8],
        offset: i64,
        published_ms: Option<i64>,
        shutdown: &CancellationToken,
    ) {
        let alert = match serde_json::from_slice::<Alert>(payload) {
            Ok(alert) => alert,
            // Jupiter only publishes alerts it built; anything else cannot be addressed to anyone.
            Err(error) => {
                tracing::warn!(%error, offset, "notifications skipped a payload that is not an alert");
                return;
            }
        };
        let Ok(payload) = std::str::from_utf8(payload) else {
            return;
        };
        loop {
            match self.queue(&alert, payload, published_ms).await {
                Ok(queued) => {
                    if queued > 0 {
                        self.wake.notify_one();
                    }
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, alert_id = %alert.alert_id, "could not queue notifications; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(DATABASE_RETRY) => {}
                    }
                }
            }
        }
    }

    /// Writes the outbox rows of `alert`: one per webhook that wants its kind and existed when the alert was
    /// published (`published_ms`, the record's time; else the alert's own), one per user subscribed to its kind
    /// by email (when email is on). Returns how many were new.
    async fn queue(
        &self,
        alert: &Alert,
        payload: &str,
        published_ms: Option<i64>,
    ) -> Result<usize, UserError> {
        let alert_id = alert.alert_id.hyphenated().to_string();
        let kind = alert.kind.as_str();
        let delivery = NewDelivery {
            alert_id: &alert_id,
            kind,
            vehicle_id: &alert.vehicle_id,
            alert_at_ms: alert.at.timestamp_millis(),
            payload,
        };
        let published_ms = published_ms.unwrap_or(delivery.alert_at_ms);
        let mut channels = Vec::new();
        for hook in self.store.webhooks().await? {
            if hook.wants(kind) && hook.created_at_ms <= published_ms {
                channels.push(hook.channel());
            }
        }
        if self.mailer.is_some() {
            for recipient in self.store.email_recipients(kind).await? {
                channels.push(format!("email:{}", recipient.user_id));
            }
        }
        let mut queued = 0;
        for channel in channels {
            if self.store.enqueue(&delivery, &channel).await? {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Sends due deliveries until `shutdown`; the deliveries in flight finish first. Each starts as soon as a
    /// slot is free (no batch waits for its slowest member), at most [`CONCURRENCY`] at once and [`PER_SLOT`]
    /// per endpoint (every mail shares the relay's): an endpoint that answers slowly or not at all holds only
    /// its own slots, never the other webhooks' or the mails'.
    pub async fn sender(self, shutdown: CancellationToken) {
        let mut in_flight = InFlight::default();
        while !shutdown.is_cancelled() {
            in_flight.reap_finished();
            let started = if in_flight.tasks.len() < CONCURRENCY {
                self.start_due(&mut in_flight).await
            } else {
                0
            };
            if started > 0 {
                continue;
            }
            // Nothing startable now: wait for a free slot, news from the intake, or the next retry to fall due.
            tokio::select! {
                () = shutdown.cancelled() => {}
                Some(done) = in_flight.tasks.join_next_with_id(), if !in_flight.tasks.is_empty() => {
                    in_flight.finished(done);
                }
                () = self.wake.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
        while let Some(done) = in_flight.tasks.join_next_with_id().await {
            in_flight.finished(done);
        }
    }

    /// Claims and starts due deliveries while slots are free; returns how many started.
    async fn start_due(&self, in_flight: &mut InFlight) -> usize {
        let due = match self.store.due(now_ms(), BATCH, PER_CHANNEL_DUE).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "could not read the due notifications");
                return 0;
            }
        };
        let mut started = 0;
        for mut delivery in due {
            if in_flight.tasks.len() >= CONCURRENCY {
                break;
            }
            if in_flight.of_slot(slot(&delivery.channel)) >= PER_SLOT {
                continue;
            }
            let lease_until = now_ms() + i64::try_from(self.settings.lease().as_millis()).unwrap_or(i64::MAX);
            match self.store.claim(&delivery, lease_until).await {
                Ok(true) => {}
                // Another replica's sender took it.
                Ok(false) => continue,
                Err(error) => {
                    tracing::warn!(%error, "could not claim a notification");
                    break;
                }
            }
            // The row now holds the lease's end: the outcome is recorded only while it does.
            delivery.next_attempt_at_ms = lease_until;
            let key = slot(&delivery.channel).to_owned();
            let worker = self.clone();
            let task = in_flight
                .tasks
                .spawn(async move { worker.deliver(delivery).await });
            in_flight.started(task.id(), key);
            started += 1;
        }
        started
    }

    /// Sends a claimed `delivery` and records the outcome.
    async fn deliver(&self, delivery: Delivery) {
        let attempts = delivery.attempts + 1;
        // Bounded as a whole: lettre's timeout covers only connecting, so an SMTP server that accepts and then
        // never answers would hold this attempt's slot for good.
        let limit = self.settings.timeout;
        let outcome = tokio::time::timeout(limit, self.send(&delivery, attempts))
            .await
            .unwrap_or_else(|_| Err(Failure::Retry(format!("no answer within {limit:?}"))));
        let (error, retry_at) = match &outcome {
            Ok(()) => (None, None),
            Err(Failure::Final(error)) => (Some(error.as_str()), None),
            Err(Failure::Retry(error)) => {
                let retry_at = (attempts < i64::from(self.settings.max_attempts))
                    .then(|| now_ms() + backoff_ms(self.settings.retry_base, attempts));
                (Some(error.as_str()), retry_at)
            }
        };
        let channel_kind = delivery.channel.split(':').next().unwrap_or_default();
        let result = match (error, retry_at) {
            (None, _) => "delivered",
            (Some(_), Some(_)) => "retry",
            (Some(_), None) => "failed",
        };
        self.metrics
            .deliveries
            .with_label_values(&[channel_kind, result])
            .inc();
        if let Some(error) = error {
            tracing::warn!(alert_id = %delivery.alert_id, channel = %delivery.channel, attempts, error, result,
                "notification not delivered");
        }
        match self.store.record(&delivery, attempts, error, retry_at).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(alert_id = %delivery.alert_id, channel = %delivery.channel,
                "a notification's lease ran out before its outcome was recorded; another sender has it"),
            // The lease ends and the delivery is tried again: at least once.
            Err(error) => {
                tracing::warn!(%error, alert_id = %delivery.alert_id, "could not record a notification's outcome");
            }
        }
    }

    async fn send(&self, delivery: &Delivery, attempt: i64) -> Result<(), Failure> {
        let (kind, id) = delivery
            .channel
            .split_once(':')
            .and_then(|(kind, id)| Some((kind, id.parse::<i64>().ok()?)))
            .ok_or_else(|| Failure::Final(format!("unknown channel {:?}", delivery.channel)))?;
        let lookup = |error: UserError| Failure::Retry(format!("account database: {error}"));
        match kind {
            "webhook" => {
                let hook = self
                    .store
                    .webhook(id)
                    .await
                    .map_err(lookup)?
                    .ok_or_else(|| Failure::Final("the webhook was deleted".to_owned()))?;
                webhook::send(&self.http, &hook, &delivery.alert_id, &delivery.payload, attempt)
                    .await
                    .map_err(Failure::Retry)
            }
            "email" => {
                let mailer = self
                    .mailer
                    .as_ref()
                    .ok_or_else(|| Failure::Final("email is off (MERCURY_SMTP_URL is empty)".to_owned()))?;
                let to = self
                    .store
                    .email_of(id)
                    .await
                    .map_err(lookup)?
                    .ok_or_else(|| Failure::Final("the user was deleted or disabled".to_owned()))?;
                let alert: Alert = serde_json::from_str(&delivery.payload)
                    .map_err(|error| Failure::Final(format!("the stored alert does not parse: {error}")))?;
                mailer.send(&to, id, &alert).await.map_err(Failure::Retry)
            }
            other => Err(Failure::Final(format!("unknown channel kind {other:?}"))),
        }
    }
}

/// What a delivery to `channel` waits on: its webhook endpoint, or for every mail the one SMTP relay (a hung
/// relay must not take the webhooks' slots however many users are subscribed).
fn slot(channel: &str) -> &str {
    if channel.starts_with("email:") {
        "email"
    } else {
        channel
    }
}

/// The deliveries being sent, and how many of them hold each slot.
#[derive(Default)]
struct InFlight {
    tasks: JoinSet<()>,
    slots: HashMap<tokio::task::Id, String>,
    per_slot: HashMap<String, usize>,
}

impl InFlight {
    fn started(&mut self, task: tokio::task::Id, slot: String) {
        *self.per_slot.entry(slot.clone()).or_default() += 1;
        self.slots.insert(task, slot);
    }

    fn of_slot(&self, slot: &str) -> usize {
        self.per_slot.get(slot).copied().unwrap_or(0)
    }

    /// Frees the slots of a finished task (a panicked one too: its lease ends and the row is due again).
    fn finished(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let task = match done {
            Ok((task, ())) => task,
            Err(error) => {
                tracing::error!(%error, "a notification attempt panicked");
                error.id()
            }
        };
        if let Some(slot) = self.slots.remove(&task)
            && let Some(count) = self.per_slot.get_mut(&slot)
        {
            *count -= 1;
            if *count == 0 {
                self.per_slot.remove(&slot);
            }
        }
    }

    fn reap_finished(&mut self) {
        while let Some(done) = self.tasks.try_join_next_with_id() {
            self.finished(done);
        }
    }
}

/// Why an attempt failed: worth trying again, or not.
enum Failure {
    Retry(String),
    Final(String),
}

/// The wait before attempt `attempts + 1`: `base` doubled per attempt made, at most an hour.
fn backoff_ms(base: Duration, attempts: i64) -> i64 {
    let base = i64::try_from(base.as_millis()).unwrap_or(i64::MAX);
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    base.saturating_mul(1 << doublings).min(3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let base = Duration::from_secs(2);
        assert_eq!(backoff_ms(base, 1), 2_000);
        assert_eq!(backoff_ms(base, 2), 4_000);
        assert_eq!(backoff_ms(base, 5), 32_000);
        assert_eq!(backoff_ms(base, 40), 3_600_000);
    }
}
