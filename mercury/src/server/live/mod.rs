//! The live map's feed: Mercury's own Kafka consumer (every partition from its end, nothing committed)
//! keeps the newest position of every session under way and, every `MERCURY_LIVE_INTERVAL`, pushes the
//! positions that changed to every connected browser over a WebSocket ([`socket`]), as one batch.

pub mod socket;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use packetpulse_model::PublishedEvent;
use packetpulse_ops::kafka::KafkaError;
use prometheus::{IntCounter, IntGauge};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;
use crate::model::{LiveMessage, LivePosition};

/// Batches a slow browser may fall behind before it gets a fresh snapshot instead.
const BACKLOG: usize = 64;

/// The newest positions and the stream of changes.
#[derive(Clone)]
pub struct LiveFeed {
    shared: Arc<Shared>,
}

struct Shared {
    positions: Mutex<HashMap<String, LivePosition>>,
    changed: Mutex<HashMap<String, LivePosition>>,
    batches: broadcast::Sender<Arc<str>>,
    newest_event_ms: AtomicU64,
    events: IntCounter,
    clients: IntGauge,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveFeed {
    /// An empty feed that counts into `metrics`.
    pub fn new(metrics: &Metrics) -> Self {
        let (batches, _) = broadcast::channel(BACKLOG);
        Self {
            shared: Arc::new(Shared {
                positions: Mutex::new(HashMap::new()),
                changed: Mutex::new(HashMap::new()),
                batches,
                newest_event_ms: AtomicU64::new(0),
                events: metrics.live_events.clone(),
                clients: metrics.live_clients.clone(),
            }),
        }
    }

    /// Event time of the newest event read, if any.
    pub fn newest_event_ms(&self) -> Option<u64> {
        Some(self.shared.newest_event_ms.load(Ordering::Relaxed)).filter(|&ms| ms > 0)
    }

    /// Starts from positions read elsewhere (ClickHouse), without overwriting newer ones from Kafka.
    pub fn seed(&self, positions: Vec<LivePosition>) {
        let mut known = lock(&self.shared.positions);
        for position in positions {
            known.entry(position.session_id.clone()).or_insert(position);
        }
    }

    /// Takes in one position (older than the one known for its session: ignored).
    pub fn apply(&self, position: LivePosition) {
        self.shared.events.inc();
        self.shared
            .newest_event_ms
            .fetch_max(position.event_time_ms, Ordering::Relaxed);
        let mut known = lock(&self.shared.positions);
        if known
            .get(&position.session_id)
            .is_some_and(|old| old.event_time_ms > position.event_time_ms)
        {
            return;
        }
        if position.status == "completed" {
            known.remove(&position.session_id);
        } else {
            known.insert(position.session_id.clone(), position.clone());
        }
        drop(known);
        lock(&self.shared.changed).insert(position.session_id.clone(), position);
    }

    /// Takes a session off the map (closed as abandoned): browsers get it with status `abandoned` at the next
    /// flush and remove its marker.
    pub fn close_session(&self, session_id: &str) {
        let Some(mut position) = lock(&self.shared.positions).remove(session_id) else {
            return;
        };
        position.status = "abandoned".to_owned();
        lock(&self.shared.changed).insert(session_id.to_owned(), position);
    }

    /// Sends the positions changed since the last flush to every browser.
    pub fn flush(&self) {
        let changed: Vec<LivePosition> = lock(&self.shared.changed)
            .drain()
            .map(|(_, position)| position)
            .collect();
        if changed.is_empty() || self.shared.batches.receiver_count() == 0 {
            return;
        }
        let message = LiveMessage::Update { positions: changed };
        let json = serde_json::to_string(&message).expect("positions serialise");
        // No receivers left between the check and the send is fine: nobody to tell.
        let _ = self.shared.batches.send(json.into());
    }

    /// Every known position, as the first message of a connection.
    pub fn snapshot(&self) -> String {
        let positions = lock(&self.shared.positions).values().cloned().collect();
        serde_json::to_string(&LiveMessage::Snapshot { positions }).expect("positions serialise")
    }

    /// Subscribes to the batches of changes, counting the browser as connected until the subscription drops.
    pub fn subscribe(&self) -> Subscription {
        self.shared.clients.inc();
        Subscription {
            batches: self.shared.batches.subscribe(),
            clients: self.shared.clients.clone(),
        }
    }
}

impl From<&PublishedEvent> for LivePosition {
    fn from(published: &PublishedEvent) -> Self {
        let event = &published.event;
        LivePosition {
            session_id: event.session_id.clone(),
            vehicle_id: event.vehicle_id.clone(),
            order_id: event.order_id.clone(),
            status: event.status.as_str().to_owned(),
            lat: event.current_lat,
            lon: event.current_lon,
            end_lat: event.end_lat,
            end_lon: event.end_lon,
            speed_kmh: event.speed_kmh,
            heading_deg: event.heading_deg,
            event_time_ms: u64::try_from(event.timestamp.timestamp_millis()).unwrap_or(0),
        }
    }
}

/// One browser's view of the feed: the batches of changes, and its place in the connected-browsers gauge.
pub struct Subscription {
    /// The batches of changes, as JSON messages.
    pub batches: broadcast::Receiver<Arc<str>>,
    clients: IntGauge,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.clients.dec();
    }
}

/// Reads `topic` from its newest offsets into `feed` until `shutdown`.
pub async fn consume(
    feed: LiveFeed,
    bootstrap_servers: String,
    topic: String,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    // Every Mercury instance sees every event; the map wants each one within a moment, not after librdkafka's
    // default 500 ms. Not much less than 100 ms either: each fetch that finds nothing costs the broker.
    let Some(consumer) =
        packetpulse_ops::kafka::from_the_end(&bootstrap_servers, &topic, "mercury-live", 100, &shutdown)
            .await?
    else {
        return Ok(());
    };
    consumer
        .for_each_payload(&shutdown, |payload, offset| {
            match PublishedEvent::from_json(payload) {
                Ok(event) => feed.apply(LivePosition::from(&event)),
                // Venus only publishes valid events; anything else is not ours to judge (Jupiter dead-letters it).
                Err(error) => tracing::debug!(%error, offset, "live feed skipped a payload"),
            }
        })
        .await;
    Ok(())
}

/// Flushes `feed` every `interval` until `shutdown`.
pub async fn push(feed: LiveFeed, interval: Duration, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => feed.flush(),
        }
    }
}
