//! What every request handler and session shares.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Config;
use crate::auth::{AuthError, Authenticator, Identity};
use crate::metrics::Metrics;
use crate::publish::Publisher;
use crate::revocations::Revocations;
use crate::unauthenticated::Unauthenticated;

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
    /// Revoked device credentials.
    pub revocations: Revocations,
    /// Connections waiting to authenticate, per source address.
    pub unauthenticated: Arc<Unauthenticated>,
}

impl AppState {
    /// Checks a device JWT, refusing a revoked credential.
    pub fn token(&self, token: &str) -> Result<Identity, AuthError> {
        let identity = self.auth.token(token)?;
        match &identity.credential {
            Some(credential) if self.revocations.is_revoked(credential) => Err(AuthError::Revoked),
            _ => Ok(identity),
        }
    }
}
