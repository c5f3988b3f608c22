//! The HTTP side: the WebSocket upgrade on `/ws` (connection limit, header authentication), `/ready`, and the
//! process frame's `/health` and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use packetpulse_model::AuthenticationReply;

use crate::session;
use crate::state::AppState;

/// Venus' routes, with the process frame's `operations` (`/health`, `/metrics`).
pub fn router(state: Arc<AppState>, operations: Router) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/ready", get(ready))
        .with_state(state)
        .merge(operations)
}

async fn upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        state
            .metrics
            .connections_refused
            .with_label_values(&["limit"])
            .inc();
        let message = format!(
            "too many connections (limit {}), retry later",
            state.config.max_connections
        );
        return error_response(StatusCode::SERVICE_UNAVAILABLE, message);
    };
    // `Authorization: Bearer <JWT>` authenticates before the upgrade; a bad token never gets a socket.
    let identity = match packetpulse_ops::bearer_token(&headers) {
        None => None,
        Some(token) => match state.token(token) {
            Ok(identity) => Some(identity),
            Err(error) => {
                state
                    .metrics
                    .connections_refused
                    .with_label_values(&["auth"])
                    .inc();
                return error_response(StatusCode::UNAUTHORIZED, error.to_string());
            }
        },
    };
    let session_token = state.sessions.token();
    // Frames over the configured limit get a clear error reply; only far larger ones are cut by the protocol.
    let hard_limit = state.config.max_frame_bytes.saturating_mul(4).max(64 * 1024);
    upgrade
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .on_upgrade(move |socket| async move {
            session::serve(socket, state, identity, peer.ip()).await;
            drop((permit, session_token));
        })
}

/// A refusal, in the shape of the protocol's authentication reply.
fn error_response(status: StatusCode, message: String) -> Response {
    (status, Json(AuthenticationReply::error(message))).into_response()
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.publisher.is_reachable().await {
        Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        let message = format!(
            "Kafka at {} is not reachable",
            state.config.kafka_bootstrap_servers
        );
        error_response(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}
