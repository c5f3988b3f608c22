//! The live stream of alerts: Mercury's own consumer of the `alerts` topic (every partition from its end, no
//! group, nothing committed: every instance sees every alert) hands each alert at once to every open alerts
//! WebSocket, and closes an abandoned session on the live map.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use packetpulse_model::{Alert, AlertKind};
use packetpulse_ops::kafka::KafkaError;
use prometheus::IntCounter;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::model::{AlertMessage, AlertView};
use crate::server::live::LiveFeed;
use crate::server::push_socket::{self, Push};
use crate::server::state::AppState;

/// Messages a slow browser may fall behind before it gets the open count afresh instead.
const BACKLOG: usize = 256;

/// The alerts of the moment, for every browser.
#[derive(Clone)]
pub struct AlertFeed {
    messages: broadcast::Sender<Arc<str>>,
    received: IntCounter,
}

impl AlertFeed {
    /// An empty feed counting alerts into `received`.
    pub fn new(received: IntCounter) -> Self {
        let (messages, _) = broadcast::channel(BACKLOG);
        Self { messages, received }
    }

    /// Sends `message` to every connected browser.
    pub fn send(&self, message: &AlertMessage) {
        let json = serde_json::to_string(message).expect("alert messages serialise");
        // Nobody connected is fine: nobody to tell.
        let _ = self.messages.send(json.into());
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.messages.subscribe()
    }
}

/// The page's view of a new alert.
fn view(alert: Alert) -> AlertView {
    AlertView {
        alert_id: alert.alert_id.hyphenated().to_string(),
        kind: alert.kind.as_str().to_owned(),
        session_id: alert.session_id,
        vehicle_id: alert.vehicle_id,
        geofence_id: alert.geofence_id.unwrap_or_default(),
        at_ms: u64::try_from(alert.at.timestamp_millis()).unwrap_or(0),
        lat: alert.position.lat,
        lon: alert.position.lon,
        message: alert.message,
        acknowledged_by: String::new(),
        acknowledged_at_ms: 0,
    }
}

/// Reads `topic` from its newest offsets into `feed` until `shutdown`; an abandoned session leaves `live`.
pub async fn consume(
    feed: AlertFeed,
    live: LiveFeed,
    bootstrap_servers: String,
    topic: String,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    // An alert should reach the browsers within a second of its ping: a quarter of that in the broker (tansu
    // answers every fetch after its wait, records or not: ARCHITECTURE decision 30), whose idle fetches are what
    // a shorter wait would cost.
    let Some(consumer) =
        packetpulse_ops::kafka::from_the_end(&bootstrap_servers, &topic, "mercury-alerts", 250, &shutdown)
            .await?
    else {
        return Ok(());
    };
    consumer
        .for_each_payload(&shutdown, |payload, offset| {
            match serde_json::from_slice::<Alert>(payload) {
                Ok(alert) => {
                    feed.received.inc();
                    if alert.kind == AlertKind::Abandoned {
                        live.close_session(&alert.session_id);
                    }
                    feed.send(&AlertMessage::Alert { alert: view(alert) });
                }
                // Jupiter only publishes alerts it built; anything else is not ours to show.
                Err(error) => tracing::warn!(%error, offset, "alerts feed skipped a payload"),
            }
        })
        .await;
    Ok(())
}

/// `GET /api/v1/alerts/live`: the count of open alerts, then every new alert and acknowledgement.
#[utoipa::path(get, path = "/alerts/live", tag = "alerts",
    responses((status = 101, description = "A WebSocket: text frames of `AlertMessage` JSON, the open count, then every new alert and acknowledgement")))]
pub async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let shutdown = state.shutdown.clone();
    upgrade
        .on_upgrade(move |socket| async move { push_socket::serve(socket, &shutdown, messages(state)).await })
}

async fn open_message(state: &AppState) -> Arc<str> {
    let count = super::open_count(state).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "could not count the open alerts");
        0
    });
    serde_json::to_string(&AlertMessage::Open { count })
        .expect("alert messages serialise")
        .into()
}

/// The open count, then every alert and acknowledgement; the count afresh when this browser fell behind.
fn messages(state: AppState) -> impl futures::Stream<Item = Push> {
    let subscription = state.alert_feed.subscribe();
    futures::stream::unfold(
        (subscription, state, true),
        |(mut subscription, state, first)| async move {
            let message = if first {
                open_message(&state).await
            } else {
                match subscription.recv().await {
                    Ok(message) => message,
                    Err(broadcast::error::RecvError::Lagged(_)) => open_message(&state).await,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            };
            Some((Push::Text(message), (subscription, state, false)))
        },
    )
}
