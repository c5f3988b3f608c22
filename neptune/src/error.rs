//! Neptune's errors, worded so an operator can act on them.

/// Why Neptune stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is invalid, or the table does not match what Neptune writes.
    #[error("configuration: {0}")]
    Config(String),
    /// The catalog or warehouse could not be used.
    #[error(transparent)]
    Lake(#[from] packetpulse_lake::LakeError),
    /// An operation on the table failed.
    #[error("table {table}: {source}")]
    Table {
        /// `namespace.table`.
        table: String,
        /// What failed.
        source: Box<iceberg::Error>,
    },
    /// Writing a data file failed.
    #[error("writing data files: {0}")]
    Write(Box<iceberg::Error>),
    /// Building a record batch failed.
    #[error("building a record batch: {0}")]
    Arrow(arrow_schema::ArrowError),
    /// Kafka could not be reached or refused an operation.
    #[error(transparent)]
    Kafka(#[from] packetpulse_ops::kafka::KafkaError),
    /// A dead letter could not be delivered.
    #[error(transparent)]
    DeadLetter(#[from] packetpulse_ops::kafka::dead_letter::DeadLetterError),
    /// Shutdown came before rows could be committed; they will be read again at the next start.
    #[error("shut down before {rows} rows could be committed; they are read again at the next start")]
    ShutdownBeforeCommit {
        /// Rows not committed.
        rows: usize,
    },
    /// A compaction could not be done; the table is unchanged and the next round tries again.
    #[error("compaction: {0}")]
    Compaction(String),
    /// Another writer moved the table's offsets since the batch started: the batch is dropped and the sink
    /// re-reads from the table's offsets.
    #[error("commit fenced: {0}")]
    Fenced(String),
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] packetpulse_ops::BindError),
}

impl Error {
    /// Whether restarting the sink (re-reading from the table's offsets) may get past this error: everything
    /// except a wrong configuration, table layout or warehouse.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Lake(error) => error.is_transient(),
            Self::Config(_) | Self::Bind(_) | Self::ShutdownBeforeCommit { .. } => false,
            _ => true,
        }
    }
}
