//! Alert notifications beyond the browser: webhooks (an admin adds endpoints; each alert is POSTed as JSON,
//! signed with the endpoint's secret) and email (each user picks the alert kinds they want, sent over SMTP).
//! Delivery is at least once, with the alert id for receivers to deduplicate, and never twice to one channel
//! after it succeeded, across restarts: an outbox in the account database (see [`store`]) sits between the
//! `alerts` topic and the senders ([`worker`]).

pub mod api;
pub mod email;
pub mod store;
pub mod webhook;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use packetpulse_ops::kafka::KafkaError;
use prometheus::{IntCounterVec, Opts, Registry};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::Config;
use super::db::Db;
use email::Mailer;
use store::NotifyStore;
use worker::Worker;

/// How delivery behaves (from [`Config`]).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Kafka.
    pub bootstrap_servers: String,
    /// The alerts topic.
    pub topic: String,
    /// Each webhook request and SMTP conversation ends within this.
    pub timeout: Duration,
    /// The first retry waits this long; each further one twice as long as the one before.
    pub retry_base: Duration,
    /// Attempts before a delivery is failed for good.
    pub max_attempts: u32,
}

impl Settings {
    /// How long a sender holds a delivery it claimed: past this, another sender (or this one after a restart)
    /// may take it again. Longer than any attempt takes.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(1)
    }
}

/// Deliveries by channel kind (`webhook`, `email`) and result (`delivered`, `retry`, `failed`).
#[derive(Clone)]
pub struct Metrics {
    /// The counter.
    pub deliveries: IntCounterVec,
}

impl Metrics {
    fn new(registry: &Registry) -> Self {
        let deliveries = IntCounterVec::new(
            Opts::new(
                "mercury_notification_attempts_total",
                "Notification attempts by channel kind and result (delivered, retry, failed)",
            ),
            &["channel", "result"],
        )
        .expect("valid metric");
        Self {
            deliveries: packetpulse_ops::register(registry, deliveries),
        }
    }
}

/// The notification service: the outbox and, once started, its two loops.
#[derive(Clone)]
pub struct Notifications {
    worker: Worker,
}

impl Notifications {
    /// The service on `db` as `config` says; nothing runs until [`Notifications::start`].
    pub fn new(config: &Config, db: Db, registry: &Registry) -> Result<Self, String> {
        let settings = Settings {
            bootstrap_servers: config.kafka_bootstrap_servers.clone(),
            topic: config.alerts_topic.clone(),
            timeout: config.notify_timeout,
            retry_base: config.notify_retry_base,
            max_attempts: config.notify_max_attempts.max(1),
        };
        let mailer = if config.smtp_url.is_empty() {
            None
        } else {
            Some(Mailer::new(
                &config.smtp_url,
                &config.smtp_from,
                &config.public_url,
                settings.timeout,
            )?)
        };
        Ok(Self {
            worker: Worker {
                store: NotifyStore::new(db),
                mailer,
                http: webhook::client(settings.timeout),
                settings: Arc::new(settings),
                metrics: Metrics::new(registry),
                wake: Arc::new(Notify::new()),
            },
        })
    }

    /// The outbox.
    pub fn store(&self) -> &NotifyStore {
        &self.worker.store
    }

    /// Whether email is on.
    pub fn email_enabled(&self) -> bool {
        self.worker.mailer.is_some()
    }

    /// Starts the intake and the sender; they end at `shutdown`.
    pub fn start(
        &self,
        shutdown: &CancellationToken,
    ) -> (JoinHandle<Result<(), KafkaError>>, JoinHandle<()>) {
        let intake = tokio::spawn(self.worker.clone().intake(shutdown.clone()));
        let sender = tokio::spawn(self.worker.clone().sender(shutdown.clone()));
        (intake, sender)
    }
}
