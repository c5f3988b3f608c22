//! Venus, PacketPulse's WebSocket gateway: authenticates vehicles, validates every event against the contract in
//! `packetpulse-model`, publishes valid events to Kafka (`sessions`, key = session id) and refused input to the
//! dead-letter topic, and answers each frame only once Kafka has everything in it.
//!
//! Pipeline: source = WebSocket frames (`session`), transform = validation and normalisation (`frame`),
//! sink = Kafka (`publish`).

pub mod auth;
mod config;
mod error;
pub mod frame;
mod http;
mod metrics;
mod publish;
pub mod redact;
mod revocations;
mod session;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
mod unauthenticated;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use packetpulse_ops::Operations;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
pub use error::Error;

use crate::auth::Authenticator;
use crate::metrics::Metrics;
use crate::publish::Publisher;
use crate::revocations::Revocations;
use crate::state::AppState;
use crate::unauthenticated::Unauthenticated;

/// A bound, ready-to-run Venus (topics exist, port is open). Tests use it to learn the port before running.
pub struct Venus {
    listener: TcpListener,
    state: AppState,
    revocations: packetpulse_ops::kafka::Consumer,
}

impl Venus {
    /// Checks the configuration, connects to Kafka, creates missing topics and binds the listen address.
    pub async fn bind(config: Config) -> Result<Self, Error> {
        if config.max_events_per_frame > config.max_events_in_flight {
            return Err(Error::Config(format!(
                "VENUS_MAX_EVENTS_PER_FRAME ({}) must not exceed VENUS_MAX_EVENTS_IN_FLIGHT ({})",
                config.max_events_per_frame, config.max_events_in_flight
            )));
        }
        let public_key = match &config.jwt_rs256_public_key_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                Error::Config(format!("reading the RS256 public key {}: {e}", path.display()))
            })?),
            None => None,
        };
        let auth = Authenticator::with_devices(
            &config.api_keys,
            config.jwt_hs256_secret.as_deref(),
            public_key.as_deref(),
            &config.jwt_audience,
            &config.device_token_key,
        )?;
        let publisher = Publisher::new(&config)?;
        publisher.ensure_topics(&config).await?;
        // Every revocation made so far is known before the first connection is accepted.
        let revoked = Revocations::default();
        let revocations = revocations::catch_up(
            &config.kafka_bootstrap_servers,
            &config.device_revocation_topic,
            &revoked,
            &CancellationToken::new(),
        )
        .await?;
        let listener = packetpulse_ops::bind(config.listen, "VENUS_LISTEN").await?;
        let metrics = Metrics::new();
        let state = AppState {
            connections: Arc::new(Semaphore::new(config.max_connections)),
            unauthenticated: Unauthenticated::new(
                config.max_unauthenticated_per_ip,
                metrics.unauthenticated.clone(),
            ),
            config,
            auth,
            publisher,
            metrics,
            // Replaced by the process frame's token in `run`.
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
            revocations: revoked,
        };
        Ok(Self {
            listener,
            state,
            revocations,
        })
    }

    /// The address actually bound (the port is chosen by the OS when configured as 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then stops accepting, answers every frame in flight, closes the
    /// sockets with 1001 and flushes the producer.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
        let operations = Operations::embedded(self.state.metrics.registry().clone(), shutdown);
        let token = operations.token().clone();
        let state = Arc::new(AppState {
            shutdown: token.clone(),
            ..self.state
        });
        let following = tokio::spawn(revocations::follow(
            self.revocations,
            state.revocations.clone(),
            token.clone(),
        ));
        tracing::info!(addr = %self.listener.local_addr().map_err(Error::Serve)?, "venus listening");
        let router = http::router(state.clone(), operations.routes());
        let served = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            token.cancelled().await;
            tracing::info!("shutting down: no new connections, answering frames in flight");
        })
        .await;
        state.sessions.close();
        state.sessions.wait().await;
        state.publisher.flush(state.config.delivery_timeout).await;
        operations.finish().await;
        let _ = following.await;
        served.map_err(Error::Serve)?;
        tracing::info!("venus stopped");
        Ok(())
    }
}

impl Venus {
    /// Runs in a background task (tests, benchmarks, embedding); stop it with [`RunningVenus::shutdown`].
    pub fn spawn(self) -> RunningVenus {
        let addr = self.local_addr();
        let config = self.state.config.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async move {
            let _ = stopped.await;
        }));
        RunningVenus {
            addr,
            config,
            stop,
            task,
        }
    }
}

/// A Venus running in the background.
pub struct RunningVenus {
    addr: SocketAddr,
    config: Config,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl RunningVenus {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `ws://{addr}/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Shuts down gracefully and waits until `run` returned.
    pub async fn shutdown(self) -> Result<(), Error> {
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|e| Error::Serve(std::io::Error::other(format!("venus task failed: {e}"))))?
    }
}

/// Binds and runs Venus until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    Venus::bind(config).await?.run(shutdown).await
}
