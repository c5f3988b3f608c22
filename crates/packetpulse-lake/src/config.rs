//! The lake's settings, flattened into the configuration of every planet that opens the bronze table.

use clap::Args;
use iceberg::TableIdent;
use packetpulse_ops::secrets::{self, SecretError};

/// Catalog, warehouse, S3 access and the bronze table's name.
#[derive(Debug, Clone, Args)]
pub struct LakeConfig {
    /// Iceberg catalog: `sqlite://FILE` or `postgres://…` (SQL catalog), or `http(s)://…` (REST catalog).
    #[arg(
        long,
        env = "ICEBERG_CATALOG_URI",
        default_value = "sqlite://.packetpulse/neptune/catalog.db",
        global = true
    )]
    pub catalog_uri: String,

    /// Catalog name (the SQL catalog stores it with every table; Trino's JDBC catalog must use the same).
    #[arg(
        long,
        env = "ICEBERG_CATALOG_NAME",
        default_value = "packetpulse",
        global = true
    )]
    pub catalog_name: String,

    /// Where table data lives: `file:///ABSOLUTE/DIR` or `s3://BUCKET/PREFIX`.
    #[arg(
        long,
        env = "ICEBERG_WAREHOUSE",
        default_value = "s3://packetpulse/warehouse",
        global = true
    )]
    pub warehouse: String,

    /// Iceberg namespace of the bronze table.
    #[arg(long, env = "BRONZE_NAMESPACE", default_value = packetpulse_model::bronze::NAMESPACE, global = true)]
    pub namespace: String,

    /// Name of the bronze table.
    #[arg(long, env = "BRONZE_TABLE", default_value = packetpulse_model::bronze::TABLE, global = true)]
    pub table: String,

    /// S3 endpoint (MinIO, s3s-fs); path-style addressing is always used.
    #[arg(
        long,
        env = "S3_ENDPOINT",
        default_value = "http://127.0.0.1:9000",
        global = true
    )]
    pub s3_endpoint: String,

    /// S3 region.
    #[arg(long, env = "S3_REGION", default_value = "us-east-1", global = true)]
    pub s3_region: String,

    /// S3 access key id (no default: `make up` generates the S3 server's keys; needed for an `s3://` warehouse).
    #[arg(long, env = "S3_ACCESS_KEY_ID", default_value = "", global = true)]
    pub s3_access_key_id: String,

    /// S3 secret access key (no default, as the key id).
    #[arg(
        long,
        env = "S3_SECRET_ACCESS_KEY",
        default_value = "",
        hide_env_values = true,
        global = true
    )]
    pub s3_secret_access_key: String,
}

impl LakeConfig {
    /// The S3 credentials of an `s3://` warehouse: set, not public, the secret long enough (a `file://`
    /// warehouse needs none).
    pub fn check_secrets(&self) -> Result<(), SecretError> {
        if self.warehouse.starts_with("s3://") {
            secrets::check_not_public("S3_ACCESS_KEY_ID", &self.s3_access_key_id)?;
            secrets::check_secret("S3_SECRET_ACCESS_KEY", &self.s3_secret_access_key)?;
        }
        Ok(())
    }

    /// `namespace.table` as an Iceberg identifier.
    pub fn table_ident(&self) -> TableIdent {
        TableIdent::new(
            iceberg::NamespaceIdent::new(self.namespace.clone()),
            self.table.clone(),
        )
    }
}
