//! The lake's errors, worded so an operator can act on them.

/// Why the catalog or warehouse could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// A setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// An S3 credential is missing, public or too short.
    #[error(transparent)]
    Secret(#[from] packetpulse_ops::secrets::SecretError),
    /// The catalog could not be opened.
    #[error("Iceberg catalog at {uri}: {source} — is it reachable? set ICEBERG_CATALOG_URI")]
    Catalog {
        /// The catalog URI, password removed.
        uri: String,
        /// What failed.
        source: Box<iceberg::Error>,
    },
    /// Reading the table's metadata failed.
    #[error("table {table}: {source}")]
    Table {
        /// The table.
        table: String,
        /// What failed.
        source: Box<iceberg::Error>,
    },
    /// The warehouse is not usable.
    #[error("warehouse {warehouse}: {reason}")]
    Warehouse {
        /// The configured warehouse.
        warehouse: String,
        /// Why.
        reason: String,
    },
    /// A local file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl LakeError {
    /// Whether trying again later may help: a catalog that is down may come back, a wrong setting will not.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Catalog { .. } | Self::Table { .. } | Self::Io { .. })
    }
}
