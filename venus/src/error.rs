//! Venus' errors: start-up problems an operator can act on.

/// Why Venus could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] packetpulse_ops::BindError),
    /// Kafka could not be reached or refused an operation.
    #[error("Kafka at {bootstrap_servers}: {message} — is it running? see infrastructure/local (make up)")]
    Kafka {
        /// The configured bootstrap servers.
        bootstrap_servers: String,
        /// What failed.
        message: String,
    },
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Serve(std::io::Error),
}
