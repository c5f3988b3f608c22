//! Why the server stopped or could not start: the one error that running and serving return, each message saying
//! what to do about it.

use super::users::UserError;

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
    /// The user database could not be opened.
    #[error("user database {path}: {source}")]
    Users {
        /// The configured file.
        path: String,
        /// What failed.
        source: UserError,
    },
    /// The device registry could not start (signing key, Kafka producer).
    #[error(transparent)]
    Devices(#[from] super::devices::DeviceError),
    /// A secret is missing, public or too short.
    #[error(transparent)]
    Secret(#[from] packetpulse_ops::secrets::SecretError),
    /// A Kafka consumer (live map, alerts feed, notifications) could not start.
    #[error("Kafka consumer: {0}")]
    Live(#[from] packetpulse_ops::kafka::KafkaError),
    /// The Kafka producer of the geofences or the alert rules could not be made.
    #[error("settings topics: {0}")]
    Geofences(String),
    /// Notifications could not be set up (SMTP settings).
    #[error("notifications: {0}")]
    Notifications(String),
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}
