//! `GET /api/v1/overview/live`: the overview pushed to every open overview page every
//! `MERCURY_PUSH_INTERVAL` (2 s). One computation per tick serves every browser (the same cached answer
//! as `GET /overview`), and none runs while nobody watches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::push_socket::{self, Push};
use super::state::AppState;

/// The newest overview as JSON text, shared by every overview socket, and how many times its data changed.
#[derive(Clone)]
pub struct OverviewFeed {
    latest: Arc<watch::Sender<Option<Arc<str>>>>,
    generation: Arc<AtomicU64>,
}

impl Default for OverviewFeed {
    fn default() -> Self {
        Self {
            latest: Arc::new(watch::Sender::new(None)),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl OverviewFeed {
    fn watched(&self) -> bool {
        self.latest.receiver_count() > 0
    }

    /// Bumped before an overview whose [`Overview::data_version`] differs from the last pushed one goes out. A
    /// page reloads its analytics on that push; cached under the generation, the reload never gets an answer
    /// computed (or being computed) before the change it was told about.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// Computes the overview every `interval` while a browser watches and hands it to their sockets.
pub async fn push(state: AppState, interval: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut failing = false;
    let mut pushed_version = String::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if !state.overview_feed.watched() {
            continue;
        }
        match super::api::overview(&state).await {
            Ok(overview) => {
                failing = false;
                let version = overview.data_version();
                if version != pushed_version {
                    state.overview_feed.generation.fetch_add(1, Ordering::AcqRel);
                    pushed_version = version;
                }
                if let Ok(text) = serde_json::to_string(&overview) {
                    state.overview_feed.latest.send_replace(Some(text.into()));
                }
            }
            // Said once per outage: the pages keep their last figures and the next tick tries again.
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "the overview push could not read the warehouse");
            }
            Err(_) => {}
        }
    }
}

/// `GET /api/v1/overview/live`: the overview's figures as they change.
#[utoipa::path(get, path = "/overview/live", tag = "dashboard", summary = "The overview, pushed as it changes",
    responses((status = 101, description = "A WebSocket: a text frame of `Overview` JSON every \
        `MERCURY_PUSH_INTERVAL` (2 s) while the figures are readable; nothing is expected from the client")))]
pub async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let latest = state.overview_feed.latest.subscribe();
    let shutdown = state.shutdown.clone();
    upgrade.on_upgrade(
        move |socket| async move { push_socket::serve(socket, &shutdown, messages(latest)).await },
    )
}

/// Each newer overview, once one was computed.
fn messages(latest: watch::Receiver<Option<Arc<str>>>) -> impl futures::Stream<Item = Push> {
    futures::stream::unfold(latest, |mut latest| async move {
        loop {
            latest.changed().await.ok()?;
            let text = latest.borrow_and_update().clone();
            if let Some(text) = text {
                return Some((Push::Text(text), latest));
            }
        }
    })
}
