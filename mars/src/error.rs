//! Mars' errors: problems an operator can act on.

/// Why Mars could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// Routes could not be loaded.
    #[error("routes: {0}")]
    Routes(String),
    /// Venus refused the credentials; retrying cannot help.
    #[error("Venus at {url} refused authentication: {message} — check MARS_API_KEY / MARS_JWT")]
    Authentication {
        /// Venus' URL.
        url: String,
        /// Venus' answer.
        message: String,
    },
    /// The events log could not be written.
    #[error("events log: {0}")]
    EventsLog(String),
    /// The credential is missing, public or too short.
    #[error(transparent)]
    Secret(#[from] packetpulse_ops::secrets::SecretError),
    /// The `/health` and `/metrics` address could not be bound.
    #[error(transparent)]
    Bind(#[from] packetpulse_ops::BindError),
}
