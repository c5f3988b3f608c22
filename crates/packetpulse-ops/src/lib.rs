//! Process plumbing every planet shares: logging setup, the shutdown signal, and the operational HTTP endpoints
//! (`/health`, `/metrics`) for planets whose main work is not HTTP.

pub mod dead_letter;

use std::future::Future;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;

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
