//! Schema management: the versioned SQL files in `jupiter/migrations/`, applied in order at start and recorded in
//! `{database}.schema_migrations`. Every statement is idempotent (`IF NOT EXISTS`), so two instances starting at
//! once, or a crash between a statement and its record, are harmless. SQL stays in the subset ClickHouse 18.16
//! and current ClickHouse both run (docs/ARCHITECTURE.md).

use clickhouse::Client;

use crate::Error;

/// One migration: its version, name and SQL (statements separated by `;`, `{database}` for the database).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Applied in increasing order.
    pub version: u32,
    /// File name without extension.
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_silver_tables",
        sql: include_str!("../migrations/0001_silver_tables.sql"),
    },
    Migration {
        version: 2,
        name: "0002_alerts",
        sql: include_str!("../migrations/0002_alerts.sql"),
    },
];

/// The statements of `sql` for `database`: comments dropped, split on `;`.
pub fn statements(sql: &str, database: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(|statement| statement.replace("{database}", database))
        .collect()
}

/// Database names are spliced into DDL (identifiers cannot be bound): only `[A-Za-z0-9_]` is allowed.
fn check_identifier(database: &str) -> Result<(), Error> {
    let valid = !database.is_empty()
        && database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !database.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "database name {database:?}: use letters, digits and underscores, not starting with a digit"
        )))
    }
}

/// Creates the database if needed and applies the migrations it has not recorded. Returns the versions applied.
pub async fn migrate(client: &Client, database: &str) -> Result<Vec<u32>, Error> {
    check_identifier(database)?;
    let execute = async |sql: String, what: String| {
        client
            .query(&sql)
            .execute()
            .await
            .map_err(|source| Error::ClickHouse { what, source })
    };
    execute(
        format!("CREATE DATABASE IF NOT EXISTS {database}"),
        format!("creating database {database}"),
    )
    .await?;
    execute(
        format!(
            "CREATE TABLE IF NOT EXISTS {database}.schema_migrations \
             (version UInt32, name String, applied_at DateTime('UTC')) ENGINE = MergeTree() ORDER BY version"
        ),
        "creating schema_migrations".to_owned(),
    )
    .await?;
    let applied: Vec<u32> = client
        .query(&format!(
            "SELECT DISTINCT version FROM {database}.schema_migrations"
        ))
        .fetch_all()
        .await
        .map_err(|source| Error::ClickHouse {
            what: "reading schema_migrations".to_owned(),
            source,
        })?;
    let mut newly_applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        for statement in statements(migration.sql, database) {
            execute(statement, format!("migration {}", migration.name)).await?;
        }
        client
            .query(&format!(
                "INSERT INTO {database}.schema_migrations (version, name, applied_at) VALUES (?, ?, now())"
            ))
            .bind(migration.version)
            .bind(migration.name)
            .execute()
            .await
            .map_err(|source| Error::ClickHouse {
                what: format!("recording migration {}", migration.name),
                source,
            })?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
        newly_applied.push(migration.version);
    }
    Ok(newly_applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_names_match_files() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        for migration in MIGRATIONS {
            assert!(migration.name.starts_with(&format!("{:04}_", migration.version)));
        }
    }

    #[test]
    fn statements_drop_comments_and_name_the_database() {
        let sql = "-- a comment; with a semicolon\nCREATE TABLE {database}.t (x UInt8) ENGINE = Memory;\n\n";
        assert_eq!(
            statements(sql, "silver"),
            ["CREATE TABLE silver.t (x UInt8) ENGINE = Memory"]
        );
    }

    #[test]
    fn database_names_are_identifiers() {
        assert!(check_identifier("packetpulse_2").is_ok());
        for bad in ["", "1db", "a-b", "a;DROP", "a.b"] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
    }
}
