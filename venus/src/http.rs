//! The HTTP side: the WebSocket upgrade on `/ws` (connection limit, header authentication) and the operational
//! endpoints `/health`, `/ready`, `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Authenticator;
use crate::metrics::Metrics;
use crate::publish::Publisher;
use crate::{Config, session};

/// Everything a request handler or session needs, shared by all of them.
pub struct AppState {
    /// The configuration Venus runs with.
    pub config: Config,
    /// Credential checks.
    pub auth: Authenticator,
    /// The Kafka sink.
    pub publisher: Publisher,
    /// Metrics registry.
    pub metrics: Metrics,
    /// One permit per open connection.
    pub connections: Arc<Semaphore>,
    /// Cancelled when Venus shuts down.
    pub shutdown: CancellationToken,
    /// Open sessions, awaited on shutdown.
    pub sessions: TaskTracker,
}

/// Venus' routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn upgrade(
    State(state): State<Arc<AppState>>,
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
    let identity = match bearer_token(&headers) {
        None => None,
        Some(token) => match state.auth.token(token) {
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
            session::serve(socket, state, identity).await;
            drop((permit, session_token));
        })
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

fn error_response(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"status": "error", "message": message}))).into_response()
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.publisher.is_reachable().await {
        Json(json!({"status": "ready"})).into_response()
    } else {
        let message = format!(
            "Kafka at {} is not reachable",
            state.config.kafka_bootstrap_servers
        );
        error_response(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
