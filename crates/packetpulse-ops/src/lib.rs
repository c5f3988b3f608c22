//! Process plumbing every planet shares: logging setup, the shutdown signal, and the operational HTTP endpoints
//! (`/health`, `/metrics`) for planets whose main work is not HTTP.

pub mod clickhouse;
pub mod dead_letter;

use std::future::Future;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Logs to stderr, human-readable or as JSON lines (containers); `RUST_LOG` filters (default `info`).
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A listen address that could not be bound, naming the setting to change.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source} — is another process using the port? set {setting}")]
pub struct BindError {
    /// The address.
    pub addr: std::net::SocketAddr,
    /// The environment variable that configures it.
    pub setting: &'static str,
    /// The OS error.
    pub source: std::io::Error,
}

/// Binds `addr`, configured by the environment variable `setting` (named in the error).
pub async fn bind(addr: std::net::SocketAddr, setting: &'static str) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| BindError {
        addr,
        setting,
        source,
    })
}

/// Renders a registry in Prometheus' text format.
pub fn render_metrics(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buffer)
        .expect("encoding to memory cannot fail");
    String::from_utf8(buffer).expect("the text format is UTF-8")
}

/// The `/health` and `/metrics` routes over `registry`, to merge into a planet's router.
pub fn ops_routes(registry: Registry) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        render_metrics(&registry),
                    )
                }
            }),
        )
}

/// Serves `/health` and `/metrics` on `listener` until `shutdown` completes.
pub async fn serve_ops(
    listener: TcpListener,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, ops_routes(registry).into_make_service())
        .with_graceful_shutdown(shutdown)
        .await
}

/// A background planet's process frame: the shutdown signal as a token every loop can select on, and the
/// operational endpoints served until it is cancelled.
pub struct Operations {
    token: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl Operations {
    /// Serves `/health` and `/metrics` of `registry` on `listener`; the token is cancelled when `shutdown`
    /// completes (or by [`Operations::finish`]).
    pub fn start(
        listener: TcpListener,
        registry: Registry,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        let token = CancellationToken::new();
        let trigger = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });
        let stopped = token.clone();
        let server =
            tokio::spawn(async move { serve_ops(listener, registry, stopped.cancelled_owned()).await });
        Self { token, server }
    }

    /// Cancelled at shutdown.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Stops serving and waits for the server to finish.
    pub async fn finish(self) {
        self.token.cancel();
        if let Ok(Err(error)) = self.server.await {
            tracing::warn!(%error, "operations endpoint");
        }
    }
}

/// Registers `metric` in `registry` and returns it; names are fixed in code, so a clash is a bug.
pub fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

/// The next message of `consumer`. Read errors (broker unreachable and the like) are logged and skipped:
/// librdkafka keeps retrying underneath, so a consuming loop just waits for the next message.
pub async fn next_message(
    consumer: &rdkafka::consumer::StreamConsumer,
) -> rdkafka::message::BorrowedMessage<'_> {
    loop {
        match consumer.recv().await {
            Ok(message) => return message,
            Err(error) => tracing::warn!(%error, "reading from Kafka"),
        }
    }
}
