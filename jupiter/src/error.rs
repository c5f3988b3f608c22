//! Jupiter's errors, worded so an operator can act on them.

/// Why Jupiter stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// ClickHouse refused or could not be reached.
    #[error("ClickHouse: {what}: {source} — is it running? see infrastructure/local (make up)")]
    ClickHouse {
        /// What was being done.
        what: String,
        /// What failed.
        source: clickhouse::error::Error,
    },
}
