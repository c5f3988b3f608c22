//! The notification tables in the account database: webhook endpoints, each user's email subscriptions, and the
//! outbox of deliveries. A delivery row is written once per alert and channel (`INSERT … ON CONFLICT DO
//! NOTHING`) and kept after it was delivered, so a replay of the alerts topic never sends an alert to a channel
//! twice. Senders claim a due row by moving its `next_attempt_at_ms` to the end of a lease (a compare-and-set on
//! the old value), so several Mercury replicas on one PostgreSQL never send the same row at once, and a row
//! whose sender died is due again when its lease ends.

use std::collections::BTreeMap;

use super::super::api_tokens::secret_token;
use super::super::db::Db;
use super::super::users::UserError;
use crate::model::{DeliveryView, Page, WebhookView};
use crate::{db_execute, db_fetch};

/// A webhook endpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Webhook {
    /// Database id (its channel is `webhook:{id}`).
    pub id: i64,
    /// What the admin called it.
    pub name: String,
    /// Where alerts are POSTed.
    pub url: String,
    /// Signs every body.
    pub secret: String,
    /// Comma-separated kinds; empty: every kind.
    pub kinds: String,
    /// Epoch ms; alerts published before are not sent to it.
    pub created_at_ms: i64,
}

impl Webhook {
    /// Whether alerts of `kind` go to this endpoint.
    pub fn wants(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.split(',').any(|wanted| wanted == kind)
    }

    /// The channel name in the outbox.
    pub fn channel(&self) -> String {
        format!("webhook:{}", self.id)
    }

    /// The list's view (without the secret).
    pub fn view(&self) -> WebhookView {
        WebhookView {
            id: self.id,
            name: self.name.clone(),
            url: self.url.clone(),
            kinds: split_kinds(&self.kinds),
            created_at_ms: u64::try_from(self.created_at_ms).unwrap_or(0),
            secret: String::new(),
        }
    }
}

fn split_kinds(kinds: &str) -> Vec<String> {
    kinds
        .split(',')
        .filter(|kind| !kind.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One user's email subscription to one kind.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailRecipient {
    /// The user (the channel is `email:{user_id}`).
    pub user_id: i64,
    /// Where to.
    pub email: String,
    /// The alert kind.
    pub kind: String,
}

/// A delivery as the senders see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    /// The alert.
    pub alert_id: String,
    /// `webhook:{id}` or `email:{user id}`.
    pub channel: String,
    /// The alert as it came from the topic.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When it is due (the claim compares against it).
    pub next_attempt_at_ms: i64,
}

/// What to enqueue for one alert.
pub struct NewDelivery<'a> {
    /// The alert's id.
    pub alert_id: &'a str,
    /// Its kind.
    pub kind: &'a str,
    /// Its vehicle.
    pub vehicle_id: &'a str,
    /// When it happened, epoch ms.
    pub alert_at_ms: i64,
    /// The alert's JSON.
    pub payload: &'a str,
}

/// Filter of the delivery log.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered`, `failed` or empty for all.
    #[serde(default)]
    pub status: String,
    /// An exact channel (`webhook:3`, `email:7`) or empty for all.
    #[serde(default)]
    pub channel: String,
    /// 1-based page.
    pub page: Option<u32>,
    /// Rows per page (1–200, default 50).
    pub per_page: Option<u32>,
}

/// The notification tables.
#[derive(Clone)]
pub struct NotifyStore {
    db: Db,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl NotifyStore {
    /// The tables in `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Adds an endpoint with a fresh secret; returned with the secret, which is shown this once.
    pub async fn create_webhook(
        &self,
        name: &str,
        url: &str,
        kinds: &[String],
        created_by: i64,
    ) -> Result<WebhookView, UserError> {
        let secret = secret_token("whsec_");
        let webhook = db_fetch!(
            &self.db,
            fetch_one,
            Webhook,
            "INSERT INTO webhooks (name, url, secret, kinds, created_by, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, name, url, secret, kinds, created_at_ms",
            name,
            url,
            &secret,
            kinds.join(","),
            created_by,
            now_ms()
        )?;
        Ok(WebhookView {
            secret,
            ..webhook.view()
        })
    }

    /// Every endpoint, oldest first.
    pub async fn webhooks(&self) -> Result<Vec<Webhook>, UserError> {
        Ok(db_fetch!(
            &self.db,
            fetch_all,
            Webhook,
            "SELECT id, name, url, secret, kinds, created_at_ms FROM webhooks ORDER BY id"
        )?)
    }

    /// One endpoint.
    pub async fn webhook(&self, id: i64) -> Result<Option<Webhook>, UserError> {
        Ok(db_fetch!(
            &self.db,
            fetch_optional,
            Webhook,
            "SELECT id, name, url, secret, kinds, created_at_ms FROM webhooks WHERE id = $1",
            id
        )?)
    }

    /// Deletes an endpoint (false when there is none); its pending deliveries fail with a reason.
    pub async fn delete_webhook(&self, id: i64) -> Result<bool, UserError> {
        let deleted = db_execute!(&self.db, "DELETE FROM webhooks WHERE id = $1", id)?;
        db_execute!(
            &self.db,
            "UPDATE deliveries SET status = 'failed', last_error = 'the webhook was deleted' \
             WHERE channel = $1 AND status = 'pending'",
            format!("webhook:{id}")
        )?;
        Ok(deleted > 0)
    }

    /// The kinds `user_id` gets by email.
    pub async fn email_kinds(&self, user_id: i64) -> Result<Vec<String>, UserError> {
        let rows = db_fetch!(
            &self.db,
            fetch_all,
            (String,),
            "SELECT kind FROM email_alerts WHERE user_id = $1 ORDER BY kind",
            user_id
        )?;
        Ok(rows.into_iter().map(|(kind,)| kind).collect())
    }

    /// Replaces the kinds `user_id` gets by email.
    pub async fn set_email_kinds(&self, user_id: i64, kinds: &[String]) -> Result<(), UserError> {
        db_execute!(&self.db, "DELETE FROM email_alerts WHERE user_id = $1", user_id)?;
        for kind in kinds {
            db_execute!(
                &self.db,
                "INSERT INTO email_alerts (user_id, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                user_id,
                kind
            )?;
        }
        Ok(())
    }

    /// Who gets alerts of `kind` by email: enabled users subscribed to it.
    pub async fn email_recipients(&self, kind: &str) -> Result<Vec<EmailRecipient>, UserError> {
        Ok(db_fetch!(
            &self.db,
            fetch_all,
            EmailRecipient,
            "SELECT e.user_id, u.email, e.kind FROM email_alerts e JOIN users u ON u.id = e.user_id \
             WHERE e.kind = $1 AND u.disabled = FALSE ORDER BY e.user_id",
            kind
        )?)
    }

    /// The address of user `user_id`, unless the user is gone or disabled.
    pub async fn email_of(&self, user_id: i64) -> Result<Option<String>, UserError> {
        let row = db_fetch!(
            &self.db,
            fetch_optional,
            (String,),
            "SELECT email FROM users WHERE id = $1 AND disabled = FALSE",
            user_id
        )?;
        Ok(row.map(|(email,)| email))
    }

    /// Queues `delivery` for `channel`, due now; false when that alert was queued for that channel before.
    pub async fn enqueue(&self, delivery: &NewDelivery<'_>, channel: &str) -> Result<bool, UserError> {
        let now = now_ms();
        let added = db_execute!(
            &self.db,
            "INSERT INTO deliveries (alert_id, channel, kind, vehicle_id, alert_at_ms, payload, status, \
             next_attempt_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) \
             ON CONFLICT (alert_id, channel) DO NOTHING",
            delivery.alert_id,
            channel,
            delivery.kind,
            delivery.vehicle_id,
            delivery.alert_at_ms,
            delivery.payload,
            now,
            now
        )?;
        Ok(added > 0)
    }

    /// The intake's next offset in each partition of `topic` it has read from.
    pub async fn positions(&self, topic: &str) -> Result<BTreeMap<i32, i64>, UserError> {
        let rows = db_fetch!(
            &self.db,
            fetch_all,
            (i32, i64),
            "SELECT partition_id, next_offset FROM notify_positions WHERE topic = $1",
            topic
        )?;
        Ok(rows.into_iter().collect())
    }

    /// Moves the intake's position in `partition` of `topic` forward to `next_offset` (never back: replicas read
    /// the same partitions, and the one behind must not undo the one ahead).
    pub async fn advance(&self, topic: &str, partition: i32, next_offset: i64) -> Result<(), UserError> {
        db_execute!(
            &self.db,
            "INSERT INTO notify_positions (topic, partition_id, next_offset) VALUES ($1, $2, $3) \
             ON CONFLICT (topic, partition_id) DO UPDATE SET next_offset = excluded.next_offset \
             WHERE notify_positions.next_offset < excluded.next_offset",
            topic,
            partition,
            next_offset
        )?;
        Ok(())
    }

    /// Pending deliveries due at `now`, oldest first, at most `per_channel` of each channel: a channel with a
    /// long backlog (an endpoint that is down) cannot fill the list and hide the others' due rows.
    pub async fn due(&self, now: i64, limit: i64, per_channel: i64) -> Result<Vec<Delivery>, UserError> {
        Ok(db_fetch!(
            &self.db,
            fetch_all,
            Delivery,
            "SELECT alert_id, channel, payload, attempts, next_attempt_at_ms FROM ( \
                 SELECT alert_id, channel, payload, attempts, next_attempt_at_ms, \
                 ROW_NUMBER() OVER (PARTITION BY channel ORDER BY next_attempt_at_ms) AS place \
                 FROM deliveries WHERE status = 'pending' AND next_attempt_at_ms <= $1 \
             ) AS due WHERE place <= $2 ORDER BY next_attempt_at_ms LIMIT $3",
            now,
            per_channel,
            limit
        )?)
    }

    /// Takes `delivery` for sending until `lease_until`; false when another sender took it first.
    pub async fn claim(&self, delivery: &Delivery, lease_until: i64) -> Result<bool, UserError> {
        let claimed = db_execute!(
            &self.db,
            "UPDATE deliveries SET next_attempt_at_ms = $1 \
             WHERE alert_id = $2 AND channel = $3 AND status = 'pending' AND next_attempt_at_ms = $4",
            lease_until,
            &delivery.alert_id,
            &delivery.channel,
            delivery.next_attempt_at_ms
        )?;
        Ok(claimed > 0)
    }

    /// Records the outcome of attempt number `attempts` of a claimed `delivery` (its `next_attempt_at_ms` is
    /// the lease's end): delivered, due again at `retry_at`, or failed for good (`retry_at` is `None` and `error`
    /// is set). False when the lease had run out and another sender holds the row.
    pub async fn record(
        &self,
        delivery: &Delivery,
        attempts: i64,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<bool, UserError> {
        let now = now_ms();
        let (status, next, delivered_at) = match (error, retry_at) {
            (None, _) => ("delivered", now, now),
            (Some(_), Some(at)) => ("pending", at, 0),
            (Some(_), None) => ("failed", now, 0),
        };
        // Only while this sender's lease holds: once it ran out, another sender may have taken the row, and its
        // outcome is the one that counts.
        let recorded = db_execute!(
            &self.db,
            "UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at_ms = $3, last_error = $4, \
             delivered_at_ms = $5 WHERE alert_id = $6 AND channel = $7 AND status = 'pending' \
             AND next_attempt_at_ms = $8",
            status,
            attempts,
            next,
            error.unwrap_or_default(),
            delivered_at,
            &delivery.alert_id,
            &delivery.channel,
            delivery.next_attempt_at_ms
        )?;
        Ok(recorded > 0)
    }

    /// A page of the delivery log, newest first.
    pub async fn log(&self, query: &DeliveryQuery) -> Result<Page<DeliveryView>, UserError> {
        let (page, per_page) = (
            query.page.unwrap_or(1).max(1),
            query.per_page.unwrap_or(50).clamp(1, 200),
        );
        let offset = i64::from(page - 1) * i64::from(per_page);
        // Empty filters match everything: one statement for every combination.
        let filter = "($1 = '' OR status = $1) AND ($2 = '' OR channel = $2)";
        let (total,) = db_fetch!(
            &self.db,
            fetch_one,
            (i64,),
            &format!("SELECT count(*) FROM deliveries WHERE {filter}"),
            &query.status,
            &query.channel
        )?;
        let rows = db_fetch!(
            &self.db,
            fetch_all,
            DeliveryRow,
            &format!(
                "SELECT alert_id, channel, kind, vehicle_id, alert_at_ms, status, attempts, next_attempt_at_ms, \
                 last_error, created_at_ms, delivered_at_ms FROM deliveries WHERE {filter} \
                 ORDER BY created_at_ms DESC, alert_id LIMIT $3 OFFSET $4"
            ),
            &query.status,
            &query.channel,
            i64::from(per_page),
            offset
        )?;
        Ok(Page {
            rows: rows.into_iter().map(DeliveryRow::view).collect(),
            total: u64::try_from(total).unwrap_or(0),
            page,
            per_page,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    alert_id: String,
    channel: String,
    kind: String,
    vehicle_id: String,
    alert_at_ms: i64,
    status: String,
    attempts: i64,
    next_attempt_at_ms: i64,
    last_error: String,
    created_at_ms: i64,
    delivered_at_ms: i64,
}

impl DeliveryRow {
    fn view(self) -> DeliveryView {
        let ms = |value: i64| u64::try_from(value).unwrap_or(0);
        DeliveryView {
            alert_id: self.alert_id,
            channel: self.channel,
            kind: self.kind,
            vehicle_id: self.vehicle_id,
            alert_at_ms: ms(self.alert_at_ms),
            next_attempt_at_ms: if self.status == "pending" {
                ms(self.next_attempt_at_ms)
            } else {
                0
            },
            status: self.status,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_error: self.last_error,
            created_at_ms: ms(self.created_at_ms),
            delivered_at_ms: ms(self.delivered_at_ms),
        }
    }
}
