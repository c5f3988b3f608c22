//! A setting kept in a compacted Kafka topic that Mercury writes and other planets follow (geofences, per-rule
//! alert thresholds): every Mercury instance follows the topic from its beginning for what it serves, and a
//! write is answered once Mercury's own follower has read it back, so a GET right after shows it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use packetpulse_ops::kafka::admin::{TopicSpec, ensure_topics};
use packetpulse_ops::kafka::compacted::{self, Table};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::api_error::ApiError;

/// How long a write waits for Mercury's follower to read it back.
const READ_BACK: Duration = Duration::from_secs(5);

/// The rows in force under their keys, and the way to change them.
pub struct CompactedStore<T> {
    table: Arc<Table<T>>,
    loaded: Arc<AtomicBool>,
    producer: FutureProducer,
    topic: String,
    /// What a row is, for messages: `geofence`, `alert rule`.
    what: &'static str,
}

impl<T> Clone for CompactedStore<T> {
    fn clone(&self) -> Self {
        Self {
            table: self.table.clone(),
            loaded: self.loaded.clone(),
            producer: self.producer.clone(),
            topic: self.topic.clone(),
            what: self.what,
        }
    }
}

impl<T: Clone + PartialEq + Serialize + Send + Sync + 'static> CompactedStore<T> {
    /// A store of `what` writing to `topic` on `bootstrap_servers`, whose records `read` parses (key, payload);
    /// empty until [`CompactedStore::follow`] has read the topic.
    pub fn new(
        bootstrap_servers: &str,
        topic: &str,
        what: &'static str,
        read: impl Fn(&str, &[u8]) -> Result<T, String> + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("acks", "all")
            .create()
            .map_err(|error| format!("Kafka producer for {topic}: {error}"))?;
        Ok(Self {
            table: Arc::new(Table::new(what, read)),
            loaded: Arc::new(AtomicBool::new(false)),
            producer,
            topic: topic.to_owned(),
            what,
        })
    }

    /// Creates the topic if missing, reads it to its end, then follows it until `shutdown` (consumer group
    /// names start with `group_prefix`).
    pub async fn follow(
        self,
        bootstrap_servers: String,
        group_prefix: &'static str,
        shutdown: CancellationToken,
    ) {
        let spec = TopicSpec {
            name: &self.topic,
            partitions: 1,
            compacted: true,
        };
        if let Err(error) = ensure_topics(&bootstrap_servers, &[spec]).await {
            tracing::warn!(%error, topic = %self.topic, "topic not checked; reading it anyway");
        }
        let table = self.table.clone();
        let consumer = match compacted::catch_up(
            &bootstrap_servers,
            &self.topic,
            group_prefix,
            &mut |record| table.apply(record),
            &shutdown,
        )
        .await
        {
            Ok(consumer) => consumer,
            Err(error) => {
                tracing::error!(%error, topic = %self.topic, "cannot be read; its API answers 503");
                return;
            }
        };
        self.loaded.store(true, Ordering::Release);
        tracing::info!(topic = %self.topic, rows = self.table.rows().len(), "read");
        compacted::follow(consumer, move |record| table.apply(record), shutdown).await;
    }

    fn check_loaded(&self) -> Result<(), ApiError> {
        if self.loaded.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(ApiError::Unavailable(format!(
                "the {}s are still being read from Kafka; try again in a moment",
                self.what
            )))
        }
    }

    /// Every row in force, by key.
    pub fn rows(&self) -> Result<Vec<(String, T)>, ApiError> {
        self.check_loaded()?;
        Ok(self.table.rows())
    }

    /// Puts `value` in force under `key` (new or replacing); answered once read back.
    pub async fn put(&self, key: &str, value: &T) -> Result<(), ApiError> {
        self.check_loaded()?;
        let payload = serde_json::to_vec(value).expect("settings serialise");
        self.send(key, Some(&payload)).await?;
        self.read_back(|table| table.get(key).as_ref() == Some(value))
            .await
    }

    /// Deletes the row under `key` (not found if there is none); answered once read back.
    pub async fn delete(&self, key: &str, not_found: &'static str) -> Result<(), ApiError> {
        self.check_loaded()?;
        if self.table.get(key).is_none() {
            return Err(ApiError::NotFound(not_found));
        }
        self.send(key, None).await?;
        self.read_back(|table| table.get(key).is_none()).await
    }

    async fn send(&self, key: &str, payload: Option<&[u8]>) -> Result<(), ApiError> {
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(key);
        if let Some(payload) = payload {
            record = record.payload(payload);
        }
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .map(|_| ())
            .map_err(|(error, _)| {
                ApiError::Unavailable(format!("the {} topic refused the change: {error}", self.what))
            })
    }

    async fn read_back(&self, done: impl Fn(&Table<T>) -> bool) -> Result<(), ApiError> {
        let deadline = tokio::time::Instant::now() + READ_BACK;
        while !done(&self.table) {
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::Unavailable(
                    "the change is in Kafka but was not read back within 5 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}
