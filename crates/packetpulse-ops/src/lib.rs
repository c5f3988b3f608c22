//! Process plumbing every planet shares, so each is written once: logging setup, the shutdown signal, the
//! process frame ([`Operations`]: `/health`, `/metrics` and the shutdown token), binding a listen address,
//! Kafka consumers and the dead-letter producer ([`kafka`]), ClickHouse settings ([`clickhouse`]), and the rule
//! every secret a planet is given must pass ([`secrets`]).

pub mod clickhouse;
pub mod kafka;
mod operations;
pub mod secrets;

pub use operations::{Health, Operations, cancel_on, ops_routes, render_metrics};

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
pub async fn bind(
    addr: std::net::SocketAddr,
    setting: &'static str,
) -> Result<tokio::net::TcpListener, BindError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| BindError {
            addr,
            setting,
            source,
        })
}

/// Registers `metric` in `registry` and returns it; names are fixed in code, so a clash is a bug.
pub fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &prometheus::Registry,
    metric: M,
) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}
