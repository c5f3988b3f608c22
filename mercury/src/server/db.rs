//! The account database: SQLite (a file, for the native run and one Mercury) or PostgreSQL (compose, where
//! several Mercury replicas behind a load balancer share the users, sessions' versions, tokens, invitations,
//! devices and tracking links). `MERCURY_DATABASE` chooses: a `postgres://` URL, else a SQLite file path.
//!
//! The stores write their SQL once, for both: `$1`-style placeholders (SQLite reads `$1` as a parameter bound
//! by position, as long as each first appears in order), `lower()` for case-insensitive names, `TRUE`/`FALSE`,
//! `RETURNING`. Each backend has its own migrations (`migrations/sqlite`, `migrations/postgres`) for the same
//! tables. The macros below run one statement on whichever pool this is.

use std::str::FromStr;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// A connection pool to the account database.
#[derive(Clone, Debug)]
pub enum Db {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Connecting failed.
    #[error("connecting: {0}")]
    Connect(#[from] sqlx::Error),
    /// Migrating failed.
    #[error("migrating: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens (creating a SQLite file if missing) and migrates the database `location` names: a `postgres://`
    /// (or `postgresql://`) URL, else a SQLite file path.
    pub async fn open(location: &str) -> Result<Self, DbError> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            let pool = PgPoolOptions::new().max_connections(8).connect(location).await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            return Ok(Self::Postgres(pool));
        }
        // WAL: readers never wait for the writer (the notification outbox writes while pages read), and a commit
        // is one sequential append instead of a rewritten journal.
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(location)
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self::Sqlite(pool))
    }
}

/// Runs a statement; evaluates to `Result<u64, sqlx::Error>`, the rows it affected.
#[macro_export]
macro_rules! db_execute {
    ($db:expr, $sql:expr $(, $bind:expr)* $(,)?) => {
        match $db {
            $crate::server::db::Db::Sqlite(pool) => sqlx::query($sql)$(.bind($bind))*.execute(pool).await
                .map(|done| done.rows_affected()),
            $crate::server::db::Db::Postgres(pool) => sqlx::query($sql)$(.bind($bind))*.execute(pool).await
                .map(|done| done.rows_affected()),
        }
    };
}

/// Runs a query for rows of type `$row` (`sqlx::FromRow` for both backends); `$fetch` is `fetch_one`,
/// `fetch_optional` or `fetch_all`.
#[macro_export]
macro_rules! db_fetch {
    ($db:expr, $fetch:ident, $row:ty, $sql:expr $(, $bind:expr)* $(,)?) => {
        match $db {
            $crate::server::db::Db::Sqlite(pool) => sqlx::query_as::<_, $row>($sql)$(.bind($bind))*.$fetch(pool).await,
            $crate::server::db::Db::Postgres(pool) => sqlx::query_as::<_, $row>($sql)$(.bind($bind))*.$fetch(pool).await,
        }
    };
}
