//! Venus' errors: start-up problems an operator can act on.

/// Why Venus could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A secret is missing, public or too short.
    #[error(transparent)]
    Secret(#[from] packetpulse_ops::secrets::SecretError),
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] packetpulse_ops::BindError),
    /// Kafka could not be reached or refused an operation.
    #[error(transparent)]
    Kafka(#[from] packetpulse_ops::kafka::KafkaError),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Serve(std::io::Error),
}
