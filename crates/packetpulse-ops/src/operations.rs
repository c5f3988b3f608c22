//! The process frame of every planet: the shutdown future turned into a token every loop selects on, and the
//! operational endpoints `/health` and `/metrics` — served on a listener of their own by planets whose work is
//! not HTTP (Mars, Neptune, Jupiter, Uranus), merged into the planet's router by the HTTP planets (Venus,
//! Mercury).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A token cancelled when `shutdown` completes: the one way a planet turns the shutdown future it is given into
/// something every loop can select on and every task can clone.
pub fn cancel_on(shutdown: impl Future<Output = ()> + Send + 'static) -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown => trigger.cancel(),
            // Cancelled another way (a fatal error): nothing left to wait for.
            () = trigger.cancelled() => {}
        }
    });
    token
}

/// Renders a registry in Prometheus' text format.
pub fn render_metrics(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buffer)
        .expect("encoding to memory cannot fail");
    String::from_utf8(buffer).expect("the text format is UTF-8")
}

/// What `/health` says: `200 {"status":"ok"}`, or `503 {"status":"unhealthy","problem":…}` while the planet
/// has a problem it cannot get past by itself (an insert that keeps failing), so an orchestrator or an operator
/// sees it without reading logs.
/// Each part of a planet that can be in trouble reports under its own name, so one part's recovery does not hide
/// another's problem.
#[derive(Clone, Default, Debug)]
pub struct Health(Arc<Mutex<BTreeMap<&'static str, String>>>);

impl Health {
    /// Reports `problem` of `part` until [`Health::healthy`] for it.
    pub fn unhealthy(&self, part: &'static str, problem: impl Into<String>) {
        self.lock().insert(part, problem.into());
    }

    /// `part`'s problem is over.
    pub fn healthy(&self, part: &'static str) {
        self.lock().remove(part);
    }

    /// The current problems, if any, in one line.
    pub fn problem(&self) -> Option<String> {
        let problems = self.lock();
        (!problems.is_empty()).then(|| problems.values().cloned().collect::<Vec<_>>().join("; "))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, String>> {
        // One insert or removal per update: a poisoned map is still whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `/health` and `/metrics` routes over `registry` and `health`, to merge into a planet's router.
pub fn ops_routes(registry: Registry, health: Health) -> Router {
    Router::new()
        .route(
            "/health",
            get(move || {
                let problem = health.problem();
                async move {
                    match problem {
                        None => axum::Json(serde_json::json!({"status": "ok"})).into_response(),
                        Some(problem) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            axum::Json(serde_json::json!({"status": "unhealthy", "problem": problem})),
                        )
                            .into_response(),
                    }
                }
            }),
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

/// A planet's process frame: the shutdown token and the operational endpoints. The endpoints stay up until
/// [`Operations::finish`], so `/health` and `/metrics` still answer while a planet drains after shutdown.
pub struct Operations {
    token: CancellationToken,
    registry: Registry,
    health: Health,
    server: Option<(CancellationToken, JoinHandle<std::io::Result<()>>)>,
}

impl Operations {
    /// For a planet whose work is not HTTP: serves `/health` and `/metrics` of `registry` on `listener`; the
    /// token is cancelled when `shutdown` completes.
    pub fn serve(
        listener: TcpListener,
        registry: Registry,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        let stop = CancellationToken::new();
        let health = Health::default();
        let app = ops_routes(registry.clone(), health.clone()).into_make_service();
        let stopped = stop.clone().cancelled_owned();
        let server =
            tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stopped).await });
        Self {
            token: cancel_on(shutdown),
            registry,
            health,
            server: Some((stop, server)),
        }
    }

    /// For an HTTP planet: the same token, and [`Operations::routes`] to merge into the planet's own router.
    pub fn embedded(registry: Registry, shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        Self {
            token: cancel_on(shutdown),
            registry,
            health: Health::default(),
            server: None,
        }
    }

    /// `/health` and `/metrics`, for an [`Operations::embedded`] frame.
    pub fn routes(&self) -> Router {
        ops_routes(self.registry.clone(), self.health.clone())
    }

    /// What `/health` reports; clone it into the task that knows about problems.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Cancelled at shutdown.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Cancels the token, stops serving and waits for the server to finish.
    pub async fn finish(self) {
        self.token.cancel();
        if let Some((stop, server)) = self.server {
            stop.cancel();
            if let Ok(Err(error)) = server.await {
                tracing::warn!(%error, "operations endpoint");
            }
        }
    }
}
