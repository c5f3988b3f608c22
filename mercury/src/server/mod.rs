//! The server: renders the pages, serves the browser's wasm and assets from the site directory, and
//! `/health` and `/metrics`, until shutdown.

pub mod config;

use std::future::Future;

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use prometheus::Registry;
use tokio::net::TcpListener;

use crate::app::{App, shell};
pub use config::Config;

/// Why Mercury stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] packetpulse_ops::BindError),
    /// The site directory has no browser build.
    #[error(
        "{0} is missing: run mercury/build.sh first (it builds the browser's wasm into the site directory)"
    )]
    SiteMissing(String),
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// The router: pages, server functions, static files, `/health` and `/metrics`.
pub fn router(config: &Config, registry: Registry) -> Router {
    let options = LeptosOptions::builder()
        .output_name("mercury")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes(&options, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .merge(packetpulse_ops::ops_routes(registry))
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let script = config.site_root.join("pkg/mercury.js");
    if !script.exists() {
        return Err(Error::SiteMissing(script.display().to_string()));
    }
    axum::serve(listener, router(config, Registry::new()))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve)
}

/// Binds the configured address and serves until `shutdown`.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    let listener = packetpulse_ops::bind(config.listen, "MERCURY_LISTEN").await?;
    tracing::info!(address = %config.listen, "dashboard listening");
    serve(&config, listener, shutdown).await
}
