//! The chaos run's alert channels: before the fleet starts, Mercury gets a webhook (a receiver here that checks
//! every signature) and the admin subscribes to every alert kind by email (aiosmtpd, a real SMTP server, writing
//! a maildir), and the overspeed rule is lowered so the fleet raises alerts. After the run every alert silver
//! holds must have reached the webhook and the mailbox — at least once, nothing else — through the kills of
//! Jupiter, Mercury and the broker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use packetpulse_testkit::SmtpServer;
use serde_json::{Value, json};

use super::report::AlertFigures;
use crate::Error;
use crate::native::{NativeStack, clickhouse_text};

/// The lowered overspeed rule: Mars cruises at 25–50 km/h, so about a fifth of its sessions hold more than this.
const OVERSPEED: &str = r#"{"kmh": 45, "seconds": 20}"#;

/// Alert ids the receiver accepted, with how often.
type Seen = Arc<Mutex<BTreeMap<String, u32>>>;

/// The webhook receiver and the SMTP server, running.
pub struct Channels {
    seen: Seen,
    bad_signatures: Arc<AtomicU64>,
    secret: Arc<Mutex<String>>,
    url: String,
    smtp: SmtpServer,
}

impl Channels {
    /// Starts the receiver and aiosmtpd (its maildir and log in `dir`).
    pub async fn start(dir: &Path) -> Result<Self, Error> {
        let smtp = SmtpServer::start(dir).map_err(|error| Error::Chaos(error.to_string()))?;
        let (seen, bad_signatures, secret) = (Seen::default(), Arc::default(), Arc::default());
        let app = receiver(seen.clone(), Arc::clone(&bad_signatures), Arc::clone(&secret));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| Error::Chaos(format!("webhook receiver: {error}")))?;
        let url = format!(
            "http://{}/hook",
            listener
                .local_addr()
                .map_err(|error| Error::Chaos(error.to_string()))?
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            seen,
            bad_signatures,
            secret,
            url,
            smtp,
        })
    }

    /// The SMTP server, as `MERCURY_SMTP_URL`.
    pub fn smtp_url(&self) -> String {
        self.smtp.url()
    }

    /// Signs in to the stack's Mercury as its admin: adds the webhook, subscribes the admin to every kind by
    /// email, lowers the overspeed rule.
    pub async fn attach(&self, stack: &NativeStack) -> Result<(), Error> {
        let cookie = stack.mercury_admin_cookie().await?;
        let hook = json!({"name": "chaos", "url": self.url, "kinds": []});
        let created = stack
            .mercury_call(&cookie, reqwest::Method::POST, "/webhooks", &hook)
            .await?;
        *self
            .secret
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            created["secret"].as_str().unwrap_or_default().to_owned();
        let kinds = json!({"kinds": ["geofence_enter", "geofence_exit", "overspeed", "idle", "offline", "abandoned"]});
        stack
            .mercury_call(&cookie, reqwest::Method::PUT, "/me/email-alerts", &kinds)
            .await?;
        let overspeed: Value = serde_json::from_str(OVERSPEED).unwrap_or_default();
        stack
            .mercury_call(
                &cookie,
                reqwest::Method::PUT,
                "/alert-rules/overspeed",
                &overspeed,
            )
            .await?;
        Ok(())
    }

    /// Waits (up to `timeout`) until every alert silver holds reached both channels, then compares them.
    pub async fn reconcile(&self, stack: &NativeStack, timeout: Duration) -> Result<AlertFigures, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let figures = self.figures(stack).await?;
            if figures.webhook_missing == 0 && figures.mail_missing == 0 {
                return Ok(figures);
            }
            if Instant::now() >= deadline {
                println!("chaos: alerts not all delivered within {timeout:?}: {figures:?}");
                return Ok(figures);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    async fn figures(&self, stack: &NativeStack) -> Result<AlertFigures, Error> {
        let silver: BTreeSet<String> = clickhouse_text(
            &stack.clickhouse_url(),
            "SELECT alert_id FROM packetpulse.alerts FINAL",
        )
        .await
        .map_err(Error::Chaos)?
        .lines()
        .map(str::to_owned)
        .collect();
        let hooks = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mails = by_alert(self.smtp.message_ids());
        let compare = |got: &BTreeMap<String, u32>| {
            let missing = silver.iter().filter(|id| !got.contains_key(*id)).count() as u64;
            let unexpected = got.keys().filter(|id| !silver.contains(*id)).count() as u64;
            let repeats = got
                .values()
                .map(|count| u64::from(count.saturating_sub(1)))
                .sum::<u64>();
            (got.len() as u64, missing, unexpected, repeats)
        };
        let (webhook, webhook_missing, webhook_unexpected, webhook_repeats) = compare(&hooks);
        let (mail, mail_missing, mail_unexpected, mail_repeats) = compare(&mails);
        Ok(AlertFigures {
            silver: silver.len() as u64,
            webhook,
            webhook_missing,
            webhook_unexpected,
            webhook_repeats,
            bad_signatures: self.bad_signatures.load(Ordering::Relaxed),
            mail,
            mail_missing,
            mail_unexpected,
            mail_repeats,
        })
    }
}

/// The receiver: counts each alert id whose body carries a valid signature (answering 200), refuses the rest.
fn receiver(seen: Seen, bad_signatures: Arc<AtomicU64>, secret: Arc<Mutex<String>>) -> axum::Router {
    axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (seen, bad_signatures) = (seen.clone(), bad_signatures.clone());
            let secret = secret
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            async move {
                let signature = headers
                    .get("x-packetpulse-signature")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                };
                mac.update(&body);
                let expected: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                let alert_id = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|alert| Some(alert["alert_id"].as_str()?.to_owned()));
                match alert_id {
                    Some(alert_id) if signature == format!("sha256={expected}") => {
                        *seen
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .entry(alert_id)
                            .or_default() += 1;
                        StatusCode::OK
                    }
                    _ => {
                        bad_signatures.fetch_add(1, Ordering::Relaxed);
                        StatusCode::UNAUTHORIZED
                    }
                }
            }
        }),
    )
}

/// The mails' Message-IDs (`<{alert id}.{user id}@packetpulse>`) counted by alert id.
fn by_alert(message_ids: BTreeMap<String, u32>) -> BTreeMap<String, u32> {
    let mut ids = BTreeMap::new();
    for (message_id, count) in message_ids {
        let alert_id = message_id
            .trim_start_matches('<')
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        *ids.entry(alert_id).or_default() += count;
    }
    ids
}
