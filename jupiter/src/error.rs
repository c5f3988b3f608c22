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
    /// Kafka could not be reached or refused an operation.
    #[error(transparent)]
    Kafka(#[from] packetpulse_ops::kafka::KafkaError),
    /// The lake's catalog or warehouse could not be used (backfill).
    #[error(transparent)]
    Lake(#[from] packetpulse_lake::LakeError),
    /// Reading the bronze table failed (backfill).
    #[error("reading bronze table {table}: {source}")]
    Bronze {
        /// `namespace.table`.
        table: String,
        /// What failed.
        source: Box<iceberg::Error>,
    },
    /// A dead letter could not be delivered.
    #[error(transparent)]
    DeadLetter(#[from] packetpulse_ops::kafka::dead_letter::DeadLetterError),
    /// The alerts topic could not be reached or refused an alert.
    #[error("alerts: {0}")]
    Alerts(String),
    /// Shutdown came while a batch was still being retried; it is read again at the next start.
    #[error("shut down before {rows} rows could be inserted; they are read again at the next start")]
    ShutdownBeforeInsert {
        /// Rows not inserted.
        rows: usize,
    },
    /// A secret is publicly known.
    #[error(transparent)]
    Secret(#[from] packetpulse_ops::secrets::SecretError),
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] packetpulse_ops::BindError),
}
