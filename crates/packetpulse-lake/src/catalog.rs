//! Opens the Iceberg catalog named by the configuration (SQL or REST) and checks the warehouse.

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::io::{S3_ACCESS_KEY_ID, S3_ENDPOINT, S3_PATH_STYLE_ACCESS, S3_REGION, S3_SECRET_ACCESS_KEY};
use iceberg::table::Table;
use iceberg::{Catalog, CatalogBuilder};
use iceberg_catalog_rest::{REST_CATALOG_PROP_URI, REST_CATALOG_PROP_WAREHOUSE, RestCatalogBuilder};
use iceberg_catalog_sql::{SQL_CATALOG_PROP_BIND_STYLE, SQL_CATALOG_PROP_URI, SQL_CATALOG_PROP_WAREHOUSE};
use iceberg_catalog_sql::{SqlBindStyle, SqlCatalogBuilder};
use iceberg_storage_opendal::OpenDalResolvingStorageFactory;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;

use crate::LakeConfig;
use crate::LakeError as Error;

/// Which kind of catalog a URI names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogKind {
    /// The Iceberg SQL catalog on SQLite.
    Sqlite,
    /// The Iceberg SQL catalog on PostgreSQL.
    Postgres,
    /// An Iceberg REST catalog.
    Rest,
}

impl CatalogKind {
    /// The kind of catalog `uri` names, or an error saying which URIs are understood.
    pub fn of(uri: &str) -> Result<Self, Error> {
        let scheme = uri
            .split_once("://")
            .map(|(scheme, _)| scheme)
            .unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "http" | "https" => Ok(Self::Rest),
            _ => Err(Error::Config(format!(
                "catalog URI {uri:?}: expected sqlite://FILE, postgres://… or http(s)://… (REST)"
            ))),
        }
    }
}

/// The storage properties every FileIO of this catalog gets: S3 endpoint and keys, path-style addressing (MinIO).
fn storage_properties(config: &LakeConfig) -> HashMap<String, String> {
    HashMap::from([
        (S3_ENDPOINT.to_owned(), config.s3_endpoint.clone()),
        (S3_REGION.to_owned(), config.s3_region.clone()),
        (S3_ACCESS_KEY_ID.to_owned(), config.s3_access_key_id.clone()),
        (
            S3_SECRET_ACCESS_KEY.to_owned(),
            config.s3_secret_access_key.clone(),
        ),
        (S3_PATH_STYLE_ACCESS.to_owned(), "true".to_owned()),
    ])
}

/// Opens the catalog. A SQLite catalog's file (and its directory) is created when missing.
pub async fn open(config: &LakeConfig) -> Result<Arc<dyn Catalog>, Error> {
    config.check_secrets()?;
    let uri = &config.catalog_uri;
    let mut properties = storage_properties(config);
    let storage = Arc::new(OpenDalResolvingStorageFactory::new());
    let opened: Result<Arc<dyn Catalog>, iceberg::Error> = match CatalogKind::of(uri)? {
        kind @ (CatalogKind::Sqlite | CatalogKind::Postgres) => {
            let (uri, bind_style) = if kind == CatalogKind::Sqlite {
                (sqlite_uri(uri)?, SqlBindStyle::QMark)
            } else {
                (uri.clone(), SqlBindStyle::DollarNumeric)
            };
            properties.insert(SQL_CATALOG_PROP_URI.to_owned(), uri);
            properties.insert(SQL_CATALOG_PROP_WAREHOUSE.to_owned(), config.warehouse.clone());
            properties.insert(SQL_CATALOG_PROP_BIND_STYLE.to_owned(), bind_style.to_string());
            SqlCatalogBuilder::default()
                .with_storage_factory(storage)
                .load(&config.catalog_name, properties)
                .await
                .map(|catalog| Arc::new(catalog) as Arc<dyn Catalog>)
        }
        CatalogKind::Rest => {
            properties.insert(REST_CATALOG_PROP_URI.to_owned(), uri.clone());
            properties.insert(REST_CATALOG_PROP_WAREHOUSE.to_owned(), config.warehouse.clone());
            RestCatalogBuilder::default()
                .with_storage_factory(storage)
                .load(&config.catalog_name, properties)
                .await
                .map(|catalog| Arc::new(catalog) as Arc<dyn Catalog>)
        }
    };
    opened.map_err(|source| Error::Catalog {
        uri: redact(uri),
        source: Box::new(source),
    })
}

/// sqlx wants `sqlite://PATH?mode=rwc` to create the file; the directory must exist first.
pub(crate) fn sqlite_uri(uri: &str) -> Result<String, Error> {
    let path = uri.trim_start_matches("sqlite://");
    let path = path.split('?').next().unwrap_or(path);
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            what: format!("creating the catalog directory {}", parent.display()),
            source,
        })?;
    }
    Ok(if uri.contains('?') {
        uri.to_owned()
    } else {
        format!("{uri}?mode=rwc")
    })
}

/// A URI without its password, for messages.
pub(crate) fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…{}", &uri[..scheme_end], &uri[at..])
        }
        _ => uri.to_owned(),
    }
}

/// Fails with a clear error when an `s3://` warehouse's bucket does not exist. S3 servers such as s3s-fs create
/// missing buckets silently on the first write, which would hide a typo in the configuration.
pub async fn check_warehouse(config: &LakeConfig) -> Result<(), Error> {
    config.check_secrets()?;
    let Some(rest) = config.warehouse.strip_prefix("s3://") else {
        return Ok(());
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let store = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_endpoint(&config.s3_endpoint)
        .with_region(&config.s3_region)
        .with_access_key_id(&config.s3_access_key_id)
        .with_secret_access_key(&config.s3_secret_access_key)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .map_err(|source| Error::Warehouse {
            warehouse: config.warehouse.clone(),
            reason: source.to_string(),
        })?;
    let prefix = ObjectPath::from(prefix);
    store
        .list_with_delimiter(Some(&prefix))
        .await
        .map(|_| ())
        .map_err(|source| Error::Warehouse {
            warehouse: config.warehouse.clone(),
            reason: format!(
                "bucket {bucket:?} at {} is not readable ({source}); create it first (MinIO: mc mb)",
                config.s3_endpoint
            ),
        })
}

/// Rows in the table's current snapshot, from the snapshot summary's `total-records` (0 before the first commit).
pub fn committed_rows(table: &Table) -> u64 {
    table
        .metadata()
        .current_snapshot()
        .and_then(|snapshot| {
            snapshot
                .summary()
                .additional_properties
                .get("total-records")
                .cloned()
        })
        .and_then(|total| total.parse().ok())
        .unwrap_or(0)
}

/// Opens the catalog and loads the bronze table for reading; a missing table is a clear error, not an empty read.
pub async fn load_table(config: &LakeConfig) -> Result<Table, Error> {
    let catalog = open(config).await?;
    let ident = config.table_ident();
    let context = |source: iceberg::Error| Error::Catalog {
        uri: redact(&config.catalog_uri),
        source: Box::new(source),
    };
    if !catalog.table_exists(&ident).await.map_err(context)? {
        return Err(Error::Config(format!(
            "table {ident} does not exist in catalog {} at {} — has Neptune written it?",
            config.catalog_name,
            redact(&config.catalog_uri)
        )));
    }
    catalog.load_table(&ident).await.map_err(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_kind_follows_the_uri_scheme() {
        assert_eq!(
            CatalogKind::of("sqlite:///tmp/c.db").ok(),
            Some(CatalogKind::Sqlite)
        );
        assert_eq!(
            CatalogKind::of("postgres://u:p@h/db").ok(),
            Some(CatalogKind::Postgres)
        );
        assert_eq!(CatalogKind::of("http://rest:8181").ok(), Some(CatalogKind::Rest));
        assert!(CatalogKind::of("/tmp/c.db").is_err());
    }

    #[test]
    fn redact_hides_credentials() {
        assert_eq!(
            redact("postgres://user:secret@db:5432/iceberg"),
            "postgres://…@db:5432/iceberg"
        );
        assert_eq!(redact("sqlite:///tmp/c.db"), "sqlite:///tmp/c.db");
    }
}
