//! The lake's settings, flattened into the configuration of every planet that opens the bronze table.

use clap::Args;
use iceberg::TableIdent;

/// S3 credentials `make up` and the tests use. DEV DEFAULT: replace them anywhere but a laptop.
pub const DEV_S3_ACCESS_KEY_ID: &str = "minioadmin";
/// See [`DEV_S3_ACCESS_KEY_ID`].
pub const DEV_S3_SECRET_ACCESS_KEY: &str = "minioadmin";

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

    /// S3 access key id.
    #[arg(long, env = "S3_ACCESS_KEY_ID", default_value = DEV_S3_ACCESS_KEY_ID, global = true)]
    pub s3_access_key_id: String,

    /// S3 secret access key.
    #[arg(
        long,
        env = "S3_SECRET_ACCESS_KEY",
        default_value = DEV_S3_SECRET_ACCESS_KEY,
        hide_env_values = true,
        global = true
    )]
    pub s3_secret_access_key: String,
}

impl LakeConfig {
    /// `namespace.table` as an Iceberg identifier.
    pub fn table_ident(&self) -> TableIdent {
        TableIdent::new(
            iceberg::NamespaceIdent::new(self.namespace.clone()),
            self.table.clone(),
        )
    }
}
