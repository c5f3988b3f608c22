//! `GET /api/v1/track/{token}/live` (public): the tracking page's figures pushed as the delivery moves. Throttled
//! once when it opens (the same per-address budget as `GET /track/{token}`), then the link's cached view is
//! read every `MERCURY_PUSH_INTERVAL` and sent when it changed; the socket closes when the link stops opening a
//! delivery (expired) or the dashboard shuts down.

use std::net::SocketAddr;

use axum::extract::ws::{CloseFrame, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};

use super::api::{tracking, tracking_unthrottled};
use super::api_error::ApiError;
use super::openapi::ApiErrorBody;
use super::push_socket::{self, Push};
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
    let shutdown = state.shutdown.clone();
    upgrade.on_upgrade(move |socket| async move {
        push_socket::serve(socket, &shutdown, messages(state, token, first)).await;
    })
}

/// The link's view whenever it changed (the page rendered `first` already), read every push interval; a close
/// once the link no longer opens a delivery.
fn messages(
    state: AppState,
    token: String,
    first: crate::model::Tracking,
) -> impl futures::Stream<Item = Push> {
    let mut ticker = tokio::time::interval(state.config.push_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    futures::stream::unfold((ticker, first), move |(mut ticker, mut sent)| {
        let (state, token) = (state.clone(), token.clone());
        async move {
            loop {
                ticker.tick().await;
                match tracking_unthrottled(&state, &token).await {
                    Ok(now) if now != sent => {
                        let Ok(text) = serde_json::to_string(&now) else {
                            continue;
                        };
                        sent = now;
                        return Some((Push::Text(text.into()), (ticker, sent)));
                    }
                    Ok(_) => {}
                    Err(ApiError::NotFound(_) | ApiError::Expired) => {
                        let close = CloseFrame {
                            code: 1000,
                            reason: "the tracking link expired".into(),
                        };
                        return Some((Push::Close(close), (ticker, sent)));
                    }
                    // The warehouse is away: the page keeps what it shows, the next tick tries again.
                    Err(_) => {}
                }
            }
        }
    })
}
