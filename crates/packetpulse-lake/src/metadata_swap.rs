//! Points the SQL catalog at a new metadata file of a table, only if it still points at the one the change was
//! built on: the compare-and-set every Iceberg commit ends with. iceberg-rust's `Catalog` commits only what its
//! own transaction actions produce, and none of them removes data files; a rewrite that does (Neptune's
//! compaction) writes its metadata file itself and swaps it in here, with the statement iceberg-catalog-sql's
//! `update_table` runs, so the catalog's other writers see an ordinary commit.

use iceberg::TableIdent;
use sqlx::Connection;

use crate::catalog::{CatalogKind, redact, sqlite_uri};
use crate::{LakeConfig, LakeError};

/// iceberg-catalog-sql's table of tables and its columns (iceberg-catalog-sql 0.10, `catalog.rs`).
const SWAP: &str = "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? \
    WHERE catalog_name = ? AND table_name = ? AND table_namespace = ? \
    AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL) AND metadata_location = ?";

/// How long SQLite waits for a lock the sink's own catalog connection holds.
const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Sets `table`'s metadata location to `new` if it is `expected`. `Ok(false)` when another writer committed in
/// between (nothing changed: build the change again on the table as it is now).
pub async fn swap(
    config: &LakeConfig,
    table: &TableIdent,
    expected: &str,
    new: &str,
) -> Result<bool, LakeError> {
    let uri = &config.catalog_uri;
    let failed = |source: sqlx::Error| LakeError::Catalog {
        uri: redact(uri),
        source: Box::new(iceberg::Error::new(
            iceberg::ErrorKind::Unexpected,
            format!("swapping the metadata location of {table}: {source}"),
        )),
    };
    let namespace = table.namespace().join(".");
    let binds = [
        new,
        expected,
        config.catalog_name.as_str(),
        table.name(),
        namespace.as_str(),
        expected,
    ];
    let affected = match CatalogKind::of(uri)? {
        CatalogKind::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions = sqlite_uri(uri)?.parse().map_err(failed)?;
            let mut connection =
                sqlx::SqliteConnection::connect_with(&options.busy_timeout(SQLITE_BUSY_TIMEOUT))
                    .await
                    .map_err(failed)?;
            let mut query = sqlx::query(SWAP);
            for bind in binds {
                query = query.bind(bind);
            }
            let result = query.execute(&mut connection).await.map_err(failed)?;
            connection.close().await.map_err(failed)?;
            result.rows_affected()
        }
        CatalogKind::Postgres => {
            let mut connection = sqlx::PgConnection::connect(uri).await.map_err(failed)?;
            let statement = dollar_numbered(SWAP);
            let mut query = sqlx::query(&statement);
            for bind in binds {
                query = query.bind(bind);
            }
            let result = query.execute(&mut connection).await.map_err(failed)?;
            connection.close().await.map_err(failed)?;
            result.rows_affected()
        }
        CatalogKind::Rest => {
            return Err(LakeError::Config(format!(
                "catalog {}: a REST catalog commits only through its own API, which iceberg-rust gives no way \
                 to remove data files with; compact with the catalog's engine (e.g. Trino's optimize)",
                redact(uri)
            )));
        }
    };
    Ok(affected == 1)
}

/// `?` placeholders as PostgreSQL's `$1, $2, …`.
fn dollar_numbered(statement: &str) -> String {
    use std::fmt::Write as _;
    let mut numbered = String::with_capacity(statement.len() + 8);
    let mut next = 1;
    for c in statement.chars() {
        if c == '?' {
            write!(numbered, "${next}").expect("writing to a String cannot fail");
            next += 1;
        } else {
            numbered.push(c);
        }
    }
    numbered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            dollar_numbered("SET a = ?, b = ? WHERE c = ?"),
            "SET a = $1, b = $2 WHERE c = $3"
        );
    }
}
