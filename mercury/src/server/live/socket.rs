//! `GET /api/v1/live`: one browser's WebSocket to the live feed — a snapshot of every position, then the batches
//! of changes, or a fresh snapshot when the browser fell too far behind.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::LiveFeed;
use crate::server::state::AppState;

/// `GET /api/v1/live`: the WebSocket of the live map (a snapshot, then batches of changes).
#[utoipa::path(get, path = "/live", tag = "live",
    responses((status = 101, description = "A WebSocket: text frames of `LiveMessage` JSON, a snapshot of every active vehicle, then batches of changes")))]
pub async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let feed = state.live.clone();
    let shutdown = state.shutdown.clone();
    upgrade.on_upgrade(move |socket| serve_browser(socket, feed, shutdown))
}

async fn serve_browser(mut socket: WebSocket, feed: LiveFeed, shutdown: CancellationToken) {
    let mut subscription = feed.subscribe();
    let mut outgoing: Option<Arc<str>> = Some(feed.snapshot().into());
    loop {
        if let Some(message) = outgoing.take()
            && socket.send(Message::Text(message.as_ref().into())).await.is_err()
        {
            break;
        }
        outgoing = tokio::select! {
            () = shutdown.cancelled() => break,
            incoming = socket.recv() => match incoming {
                // The browser sends nothing but pings and the close; its messages need no answer.
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => None,
            },
            batch = subscription.batches.recv() => match batch {
                Ok(batch) => Some(batch),
                Err(broadcast::error::RecvError::Lagged(_)) => Some(feed.snapshot().into()),
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
    }
}
