//! The server: renders the pages, answers the account forms and the JSON API, pushes the live feed, serves the
//! browser's wasm and assets from the site directory, and `/health` and `/metrics`, until shutdown.

pub mod access;
pub mod account;
pub mod admin;
pub mod alert_acks;
pub mod alert_rules;
pub mod alerts;
pub mod api;
pub mod api_error;
pub mod api_tokens;
pub mod auth;
pub mod cache;
pub mod compacted_store;
pub mod config;
pub mod db;
pub mod devices;
mod error;
pub mod freshness;
pub mod geofences;
pub mod invites;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod overview_feed;
pub mod push_socket;
pub mod reports;
pub mod state;
pub mod tracking_feed;
pub mod tracking_links;
pub mod users;
pub mod warehouse;

use std::future::Future;
use std::net::SocketAddr;

use axum::routing::post;
use axum::{Extension, Router};
use leptos_axum::{LeptosRoutes, generate_route_list};
use packetpulse_ops::Operations;
use prometheus::Registry;
use tokio::net::TcpListener;

use crate::app::{App, shell};
pub use config::Config;
pub use error::Error;
pub use state::AppState;

/// The router: account and admin forms, API, pages and server functions, static files, and the process frame's
/// `operations` (`/health`, `/metrics`) — every one behind the guard, which lets a request through only as the
/// route table says ([`access::rules`]).
pub fn router(state: AppState, operations: Router) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .route("/login", post(account::login))
        .route("/signup", post(account::signup))
        .route("/logout", post(account::logout))
        .route("/settings/password", post(account::change_password))
        .route("/settings/profile", post(account::update_profile))
        .route("/settings/delete", post(account::delete_account))
        .route("/settings/tokens/{id}/revoke", post(account::revoke_token))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/users/{id}/role", post(admin::change_role))
        .route("/admin/users/{id}/disable", post(admin::disable_user))
        .route("/admin/users/{id}/enable", post(admin::enable_user))
        .route("/admin/users/{id}/delete", post(admin::delete_user))
        .route("/admin/devices/{id}/revoke", post(admin::revoke_device))
        .nest("/api/v1", api::routes())
        .leptos_routes(&state, routes, {
            let options = state.options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Server functions find the state and the user in the request's extensions.
        .layer(Extension(state.clone()))
        .with_state(state.clone())
        .merge(operations)
        .layer(axum::middleware::from_fn_with_state(
            state,
            access::require_session,
        ))
}

/// Serves on `listener` until `shutdown` completes: the pages, the API, and the live feed's consumer (the entry
/// point of tests, which bind the listener themselves).
pub async fn run_with(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let registry = Registry::new();
    let operations = Operations::embedded(registry.clone(), shutdown);
    let shutdown = operations.token().clone();
    // Secrets first: a refused one is named before anything else can fail.
    let state = AppState::new(config, &registry, shutdown.clone()).await?;
    let script = state.config.site_root.join("pkg/mercury.js");
    if !script.exists() {
        return Err(Error::SiteMissing(script.display().to_string()));
    }
    let since_ms = u64::try_from(chrono::Utc::now().timestamp_millis())
        .unwrap_or(0)
        .saturating_sub(warehouse::STALE_AFTER_MS);
    match state.warehouse.live_positions(since_ms).await {
        Ok(positions) => state.live.seed(positions),
        Err(error) => tracing::warn!(%error, "live map starts empty: could not read the latest positions"),
    }
    let consumer = tokio::spawn(live::consume(
        state.live.clone(),
        state.config.kafka_bootstrap_servers.clone(),
        state.config.topic.clone(),
        shutdown.clone(),
    ));
    let geofences = tokio::spawn(
        state
            .geofences
            .clone()
            .follow(state.config.kafka_bootstrap_servers.clone(), shutdown.clone()),
    );
    let alert_rules = tokio::spawn(
        state
            .alert_rules
            .clone()
            .follow(state.config.kafka_bootstrap_servers.clone(), shutdown.clone()),
    );
    let alerts = tokio::spawn(alerts::feed::consume(
        state.alert_feed.clone(),
        state.live.clone(),
        state.config.kafka_bootstrap_servers.clone(),
        state.config.alerts_topic.clone(),
        shutdown.clone(),
    ));
    let (notify_intake, notify_sender) = state.notifications.start(&shutdown);
    let pusher = tokio::spawn(live::push(
        state.live.clone(),
        state.config.live_interval,
        shutdown.clone(),
    ));
    let overview_pusher = tokio::spawn(overview_feed::push(
        state.clone(),
        state.config.push_interval,
        shutdown.clone(),
    ));
    let app = router(state, operations.routes()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .map_err(Error::Serve);
    operations.finish().await;
    let _ = pusher.await;
    let _ = overview_pusher.await;
    let _ = geofences.await;
    let _ = alert_rules.await;
    let _ = notify_sender.await;
    for consumer in [consumer, alerts, notify_intake] {
        if let Ok(Err(error)) = consumer.await {
            return Err(error.into());
        }
    }
    served
}

/// Binds the configured address and serves until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    let listener = packetpulse_ops::bind(config.listen, "MERCURY_LISTEN").await?;
    tracing::info!(address = %config.listen, "dashboard listening");
    run_with(config, listener, shutdown).await
}
