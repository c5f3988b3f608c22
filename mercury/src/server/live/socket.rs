//! `GET /api/v1/live`: one browser's WebSocket to the live feed — a snapshot of every position, then the batches
//! of changes, or a fresh snapshot when the browser fell too far behind.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use futures::StreamExt;
use tokio::sync::broadcast;

use super::LiveFeed;
use crate::server::push_socket::{self, Push};
use crate::server::state::AppState;

/// `GET /api/v1/live`: the WebSocket of the live map (a snapshot, then batches of changes).
#[utoipa::path(get, path = "/live", tag = "live",
    responses((status = 101, description = "A WebSocket: text frames of `LiveMessage` JSON, a snapshot of every active vehicle, then batches of changes")))]
pub async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let feed = state.live.clone();
    let shutdown = state.shutdown.clone();
    upgrade
        .on_upgrade(move |socket| async move { push_socket::serve(socket, &shutdown, messages(feed)).await })
}

/// The snapshot, then every batch; a fresh snapshot when this browser fell too far behind the broadcast.
fn messages(feed: LiveFeed) -> impl futures::Stream<Item = Push> {
    let subscription = feed.subscribe();
    let snapshot: Arc<str> = feed.snapshot().into();
    let batches = futures::stream::unfold((subscription, feed), |(mut subscription, feed)| async move {
        let message = match subscription.batches.recv().await {
            Ok(batch) => batch,
            Err(broadcast::error::RecvError::Lagged(_)) => feed.snapshot().into(),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Push::Text(message), (subscription, feed)))
    });
    futures::stream::once(std::future::ready(Push::Text(snapshot))).chain(batches)
}
