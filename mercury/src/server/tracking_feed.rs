//! `GET /api/v1/track/{token}/live` (public): the tracking page's figures pushed as the delivery moves. Throttled
//! once when it opens (the same per-address budget as `GET /track/{token}`), then the link's cached view is
//! read every `MERCURY_PUSH_INTERVAL` and sent when it changed; the socket closes when the link stops opening a
//! delivery (expired) or the dashboard shuts down.

use std::net::SocketAddr;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};

use super::api::{tracking, tracking_unthrottled};
use super::openapi::ApiErrorBody;
use super::state::AppState;

/// `GET /api/v1/track/{token}/live`: the public view of an order, pushed as it changes.
#[utoipa::path(get, path = "/track/{token}/live", tag = "tracking", summary = "The public view of an order, pushed as it changes",
    params(("token" = String, Path, description = "The tracking link's token")),
    responses(
        (status = 101, description = "A WebSocket: a text frame of `Tracking` JSON whenever the delivery's status, \
            position or ETA changed (checked every `MERCURY_PUSH_INTERVAL`); closed once the link expires"),
        (status = 404, description = "No such tracking link", body = ApiErrorBody),
        (status = 410, description = "The order was delivered longer ago than the links live", body = ApiErrorBody),
        (status = 429, description = "Too many requests from this address", body = ApiErrorBody),
    ))]
pub async fn websocket(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Refused before the upgrade, with the same answer as the plain GET.
    let first = match tracking(&state, client.ip(), &token).await {
        Ok(first) => first,
        Err(error) => return error.into_response(),
    };
    upgrade.on_upgrade(move |socket| serve_browser(socket, state, token, first))
}

async fn serve_browser(mut socket: WebSocket, state: AppState, token: String, first: crate::model::Tracking) {
    let mut ticker = tokio::time::interval(state.config.push_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The page rendered `first` already: only changes are sent.
    let mut sent = first;
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = ticker.tick() => match tracking_unthrottled(&state, &token).await {
                Ok(now) if now != sent => {
                    let Ok(text) = serde_json::to_string(&now) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                    sent = now;
                }
                Ok(_) => {}
                Err(super::api_error::ApiError::NotFound(_) | super::api_error::ApiError::Expired) => {
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame { code: 1000, reason: "the tracking link expired".into() })))
                        .await;
                    return;
                }
                // The warehouse is away: the page keeps what it shows, the next tick tries again.
                Err(_) => {}
            },
        }
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1001,
            reason: "the dashboard is shutting down".into(),
        })))
        .await;
}
