//! The server: renders the pages, answers the account forms and the JSON API, pushes the live feed, serves the
//! browser's wasm and assets from the site directory, and `/health` and `/metrics`, until shutdown.

pub mod account;
pub mod api;
pub mod api_error;
pub mod auth;
pub mod cache;
pub mod config;
mod error;
pub mod freshness;
pub mod live;
pub mod users;
pub mod warehouse;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::post;
use axum::{Extension, Router};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{App, shell};
pub use config::Config;
pub use error::Error;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// Leptos' settings (site root, output name).
    pub options: LeptosOptions,
    /// The user database.
    pub users: users::Users,
    /// Session tokens.
    pub tokens: auth::Tokens,
    /// Login attempt limits.
    pub login_limits: auth::LoginLimits,
    /// ClickHouse.
    pub warehouse: warehouse::Warehouse,
    /// The live map's feed.
    pub live: live::LiveFeed,
    /// Answers reused for a second.
    pub answers: cache::Answers,
    /// Cancelled at shutdown (ends WebSocket connections).
    pub shutdown: CancellationToken,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.options.clone()
    }
}

impl AppState {
    /// Opens the user database (creating the default admin if it has no users) and sets up the rest.
    pub async fn new(
        config: Config,
        registry: &Registry,
        shutdown: CancellationToken,
    ) -> Result<Self, Error> {
        let users = users::Users::open(&config.database)
            .await
            .map_err(|source| Error::Users {
                path: config.database.display().to_string(),
                source,
            })?;
        let created = users
            .ensure_default_admin(&config.admin_password)
            .await
            .map_err(|source| Error::Users {
                path: config.database.display().to_string(),
                source,
            })?;
        if created {
            tracing::warn!("created the default user admin (admin@example.com): change its password");
        }
        if config.jwt_secret.is_empty() {
            // Tokens signed with an empty key could be forged by anyone.
            return Err(Error::EmptyJwtSecret);
        }
        if config.jwt_secret == config::DEV_JWT_SECRET {
            tracing::warn!(
                "MERCURY_JWT_SECRET is the development default: set a random secret outside development"
            );
        }
        let options = LeptosOptions::builder()
            .output_name("mercury")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(config.listen)
            .build();
        Ok(Self {
            options,
            users,
            tokens: auth::Tokens::new(&config.jwt_secret, config.session_ttl),
            login_limits: auth::LoginLimits::new(
                config.login_attempts_per_ip,
                config.login_attempts_per_account,
            ),
            warehouse: warehouse::Warehouse::new(config.clickhouse.client(), &config.clickhouse.database),
            live: live::LiveFeed::new(registry),
            answers: cache::Answers::default(),
            shutdown,
            config: Arc::new(config),
        })
    }
}

/// The router: account forms, API, pages and server functions, static files — all behind the session check
/// but the public paths — plus `/health` and `/metrics`.
pub fn router(state: AppState, registry: Registry) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .route("/login", post(account::login))
        .route("/signup", post(account::signup))
        .route("/logout", post(account::logout))
        .route("/settings/password", post(account::change_password))
        .route("/settings/profile", post(account::update_profile))
        .route("/settings/delete", post(account::delete_account))
        .nest("/api/v1", api::routes())
        .leptos_routes(&state, routes, {
            let options = state.options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_session,
        ))
        // Server functions find the state and the user in the request's extensions.
        .layer(Extension(state.clone()))
        .with_state(state)
        .merge(packetpulse_ops::ops_routes(registry))
}

/// Serves on `listener` until `shutdown` is cancelled: the pages, and the live feed's consumer.
pub async fn serve(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), Error> {
    let script = config.site_root.join("pkg/mercury.js");
    if !script.exists() {
        return Err(Error::SiteMissing(script.display().to_string()));
    }
    let registry = Registry::new();
    let state = AppState::new(config, &registry, shutdown.clone()).await?;
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
    let pusher = tokio::spawn(live::push(
        state.live.clone(),
        state.config.live_interval,
        shutdown.clone(),
    ));
    let app = router(state, registry).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .map_err(Error::Serve);
    shutdown.cancel();
    let _ = pusher.await;
    if let Ok(Err(error)) = consumer.await {
        return Err(error.into());
    }
    served
}

/// Binds the configured address and serves until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    let listener = packetpulse_ops::bind(config.listen, "MERCURY_LISTEN").await?;
    tracing::info!(address = %config.listen, "dashboard listening");
    let token = CancellationToken::new();
    tokio::spawn({
        let token = token.clone();
        async move {
            shutdown.await;
            token.cancel();
        }
    });
    serve(config, listener, token).await
}
