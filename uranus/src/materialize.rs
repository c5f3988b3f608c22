//! Builds a rendered model in ClickHouse, the way its `materialized` config asks:
//! - `view`: `CREATE VIEW` (re-created only when its SQL changed since this process last created it: ClickHouse
//!   18.16 has no `CREATE OR REPLACE VIEW`, so a re-creation is a short moment without the view).
//! - `table`: built complete into `<model>__uranus_tmp`, then swapped in with `ALTER TABLE … REPLACE PARTITION
//!   ID … FROM …` per partition (an unpartitioned table has one, `all`), which exchanges its data parts at once:
//!   readers see the old rows or the new, never a missing or half-built table; a partition the new build lacks
//!   is dropped (an empty build empties the table: modern ClickHouse refuses to replace from nothing). Only when
//!   the model's columns or engine changed is the table renamed away and the new one renamed in (a moment without
//!   the table; logged).
//! - `incremental`: the first build is a table build; later runs render with `is_incremental()` true and append
//!   the new rows, or, with `unique_key`, rebuild from old rows whose key is not among the new ones plus the new
//!   ones, swapped in as a table is (dbt-clickhouse's "legacy" strategy: 18.16 has no lightweight deletes).
//!   When the model's definition (columns, engine, partitioning, order) no longer matches the table's, the merge
//!   is not attempted: the table is rebuilt whole once (see [`Builder::incremental`]).
//!
//! Model SQL is sent verbatim (`query_raw`): a `?` in it is not a bind placeholder.

use std::collections::BTreeMap;
use std::path::Path;

use clickhouse::Client;
use serde_json::Value;

use crate::Error;
use crate::render::relation;

/// How a model is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Materialization {
    /// A view.
    View,
    /// A table rebuilt on every run.
    Table,
    /// A table that new rows are added to.
    Incremental,
}

/// The configuration keys the runner understands (dbt-clickhouse's names and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// `materialized`, default `view` (as dbt).
    pub materialized: Materialization,
    /// `engine`, default `MergeTree()`.
    pub engine: String,
    /// `order_by` (a column list or expression), default `tuple()`.
    pub order_by: String,
    /// `unique_key` for incremental models.
    pub unique_key: Option<String>,
    /// `partition_by`: with `unique_key`, an incremental merge rebuilds only the partitions its new rows fall in
    /// (the expression must not change for a key, e.g. the month a session started).
    pub partition_by: Option<String>,
}

impl ModelConfig {
    /// `ENGINE = … [PARTITION BY …] ORDER BY (…)` for a `CREATE TABLE`.
    fn table_clause(&self) -> String {
        let partition = self
            .partition_by
            .as_deref()
            .map(|by| format!(" PARTITION BY {by}"))
            .unwrap_or_default();
        format!("ENGINE = {}{partition} ORDER BY ({})", self.engine, self.order_by)
    }
}

impl ModelConfig {
    /// Reads the configuration of `model` (from its file at `path`), rejecting values the runner cannot honour.
    pub fn from_values(model: &str, path: &Path, values: &BTreeMap<String, Value>) -> Result<Self, Error> {
        let bad = |message: String| Error::Config {
            model: model.to_owned(),
            path: path.to_owned(),
            message,
        };
        let text = |key: &str| -> Result<Option<String>, Error> {
            match values.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(|items| Some(items.join(", ")))
                    .ok_or_else(|| bad(format!("{key}: expected a string or a list of strings"))),
                Some(other) => Err(bad(format!("{key}: expected a string, got {other}"))),
            }
        };
        let materialized = match text("materialized")?.as_deref() {
            None | Some("view") => Materialization::View,
            Some("table") => Materialization::Table,
            Some("incremental") => Materialization::Incremental,
            Some(other) => {
                return Err(bad(format!(
                    "materialized={other:?}: expected view, table or incremental"
                )));
            }
        };
        let unique_key = text("unique_key")?;
        if unique_key.is_some() && materialized != Materialization::Incremental {
            return Err(bad("unique_key applies to incremental models only".to_owned()));
        }
        Ok(Self {
            materialized,
            engine: text("engine")?.unwrap_or_else(|| "MergeTree()".to_owned()),
            order_by: text("order_by")?.unwrap_or_else(|| "tuple()".to_owned()),
            unique_key,
            partition_by: text("partition_by")?,
        })
    }
}

/// Runs model statements against one database, naming the model in every error.
pub struct Builder<'a> {
    client: &'a Client,
    database: &'a str,
    model: &'a str,
}

impl<'a> Builder<'a> {
    /// A builder for `model` in `database`.
    pub fn new(client: &'a Client, database: &'a str, model: &'a str) -> Self {
        Self {
            client,
            database,
            model,
        }
    }

    fn relation(&self, suffix: &str) -> String {
        relation(self.database, &format!("{}{suffix}", self.model))
    }

    async fn execute(&self, what: &str, sql: &str) -> Result<(), Error> {
        tracing::debug!(model = self.model, sql, "{what}");
        self.client
            .query_raw(sql)
            .execute()
            .await
            .map_err(|source| self.error(what, source))
    }

    fn error(&self, what: &str, source: clickhouse::error::Error) -> Error {
        Error::ClickHouse {
            model: self.model.to_owned(),
            what: what.to_owned(),
            source,
        }
    }

    /// Whether the model's relation exists.
    pub async fn exists(&self) -> Result<bool, Error> {
        self.client
            .query("SELECT count() FROM system.tables WHERE database = ? AND name = ?")
            .bind(self.database)
            .bind(self.model)
            .fetch_one::<u64>()
            .await
            .map(|n| n > 0)
            .map_err(|source| self.error("looking the table up", source))
    }

    /// Rows in the built table.
    pub async fn rows(&self) -> Result<u64, Error> {
        self.count(&self.relation("")).await
    }

    /// (Re-)creates the view.
    pub async fn view(&self, sql: &str) -> Result<(), Error> {
        let target = self.relation("");
        self.execute("dropping the old view", &format!("DROP TABLE IF EXISTS {target}"))
            .await?;
        self.execute("creating the view", &format!("CREATE VIEW {target} AS {sql}"))
            .await
    }

    /// Builds the table completely under a temporary name, then swaps it in.
    pub async fn table(&self, sql: &str, config: &ModelConfig) -> Result<(), Error> {
        let staging = self.relation("__uranus_tmp");
        self.build_into(&staging, "building the table", sql, config)
            .await?;
        self.swap_in(&staging).await
    }

    /// Creates `table` (dropping a leftover of that name) with the model's engine and keys, filled by `sql`.
    async fn build_into(
        &self,
        table: &str,
        what: &str,
        sql: &str,
        config: &ModelConfig,
    ) -> Result<(), Error> {
        self.execute(
            "dropping a leftover staging table",
            &format!("DROP TABLE IF EXISTS {table}"),
        )
        .await?;
        self.execute(
            what,
            &format!("CREATE TABLE {table} {} AS {sql}", config.table_clause()),
        )
        .await
    }

    /// Appends the model's rows, or merges them by `unique_key` (see the module documentation). Returns how many
    /// of the table's old rows the merge copied (0 for an append), or `None` when the new rows' table (built with
    /// the model's current config) has another definition than the target's: the model's columns, partitioning or
    /// order changed since the table was built, so it must be rebuilt whole instead (nothing was changed).
    pub async fn incremental(&self, sql: &str, config: &ModelConfig) -> Result<Option<u64>, Error> {
        let target = self.relation("");
        let new_rows = self.relation("__uranus_new");
        self.build_into(&new_rows, "building the new rows", sql, config)
            .await?;
        if self.structure(&new_rows).await? != self.structure(&target).await? {
            tracing::warn!(
                model = self.model,
                "the model's definition (columns, engine, partitioning or order) changed since its table was \
                 built: rebuilding it whole"
            );
            self.execute("dropping the new rows", &format!("DROP TABLE {new_rows}"))
                .await?;
            return Ok(None);
        }
        let Some(unique_key) = &config.unique_key else {
            self.execute(
                "appending new rows",
                &format!("INSERT INTO {target} SELECT * FROM {new_rows}"),
            )
            .await?;
            self.execute("dropping the new rows", &format!("DROP TABLE {new_rows}"))
                .await?;
            return Ok(Some(0));
        };
        let staging = self.relation("__uranus_tmp");
        self.execute(
            "dropping a leftover staging table",
            &format!("DROP TABLE IF EXISTS {staging}"),
        )
        .await?;
        self.execute(
            "creating the staging table",
            &format!("CREATE TABLE {staging} AS {target}"),
        )
        .await?;
        // With partitions, only those the new rows fall in are copied and replaced: a refresh costs what
        // changed, not the table's size. (The target has the model's partitioning: checked above.) The
        // partitions of the new rows, and those where rows of their keys are now (in case a key's partition
        // moved): the key is the sort key, so finding them is an index lookup, not a scan.
        let touched = match config.partition_by {
            Some(_) => Some(self.touched_partitions(&new_rows, &target, unique_key).await?),
            None => None,
        };
        let only_touched = match &touched {
            Some(_) => format!(
                "_partition_id IN (SELECT partition_id FROM {}) AND ",
                self.relation("__uranus_touched")
            ),
            None => String::new(),
        };
        self.execute(
            "keeping the old rows that are not replaced",
            &format!(
                "INSERT INTO {staging} SELECT * FROM {target} WHERE {only_touched}({unique_key}) NOT IN (SELECT {unique_key} FROM {new_rows})"
            ),
        )
        .await?;
        let copied = self.count(&staging).await?;
        self.execute(
            "adding the new rows",
            &format!("INSERT INTO {staging} SELECT * FROM {new_rows}"),
        )
        .await?;
        self.execute("dropping the new rows", &format!("DROP TABLE {new_rows}"))
            .await?;
        match touched {
            None => self.swap_in(&staging).await?,
            Some(partitions) => {
                // Every touched partition is replaced, or dropped if the staging table has no rows for it (its
                // keys all moved away).
                self.execute(
                    "dropping the touched partitions' list",
                    &format!("DROP TABLE {}", self.relation("__uranus_touched")),
                )
                .await?;
                self.replace_partitions_by_id(&partitions, &staging).await?;
            }
        }
        Ok(Some(copied))
    }

    /// The ids of the partitions of `target` a merge of `new_rows` rewrites: those its rows fall in and those where
    /// rows of their keys are now. Also kept in the table `<model>__uranus_touched` for the copy to filter on.
    async fn touched_partitions(
        &self,
        new_rows: &str,
        target: &str,
        unique_key: &str,
    ) -> Result<Vec<String>, Error> {
        let touched = self.relation("__uranus_touched");
        self.execute(
            "dropping a leftover list of partitions",
            &format!("DROP TABLE IF EXISTS {touched}"),
        )
        .await?;
        self.execute(
            "listing the partitions the new rows touch",
            &format!(
                "CREATE TABLE {touched} ENGINE = Memory AS SELECT DISTINCT partition_id FROM ( \
                 SELECT CAST(_partition_id AS String) AS partition_id FROM {new_rows} UNION ALL \
                 SELECT CAST(_partition_id AS String) AS partition_id FROM {target} \
                 WHERE ({unique_key}) IN (SELECT {unique_key} FROM {new_rows}))"
            ),
        )
        .await?;
        self.client
            .query_raw(&format!(
                "SELECT partition_id FROM {touched} ORDER BY partition_id"
            ))
            .fetch_all()
            .await
            .map_err(|source| self.error("listing the partitions the new rows touch", source))
    }

    /// Replaces each partition (by id) of the target with the staging table's, or drops it where the staging
    /// table has none (modern ClickHouse refuses to replace from nothing), then drops the staging table (always
    /// this model's `__uranus_tmp`).
    async fn replace_partitions_by_id(&self, ids: &[String], staging: &str) -> Result<(), Error> {
        let target = self.relation("");
        let present = self.partition_ids(&format!("{}__uranus_tmp", self.model)).await?;
        for id in ids {
            let (what, sql) = if present.contains(id) {
                (
                    "swapping a partition in",
                    format!("ALTER TABLE {target} REPLACE PARTITION ID ? FROM {staging}"),
                )
            } else {
                (
                    "dropping a partition the new rows leave empty",
                    format!("ALTER TABLE {target} DROP PARTITION ID ?"),
                )
            };
            self.client
                .query(&sql)
                .bind(id)
                .execute()
                .await
                .map_err(|source| self.error(what, source))?;
        }
        self.execute("dropping the staging table", &format!("DROP TABLE {staging}"))
            .await
    }

    /// Rows in the table `relation` (already qualified).
    async fn count(&self, relation: &str) -> Result<u64, Error> {
        self.client
            .query_raw(&format!("SELECT count() FROM {relation}"))
            .fetch_one()
            .await
            .map_err(|source| self.error("counting rows", source))
    }

    /// The ids of the partitions holding rows of the table `name` of this database.
    async fn partition_ids(&self, name: &str) -> Result<Vec<String>, Error> {
        self.client
            .query(
                "SELECT DISTINCT partition_id FROM system.parts \
                 WHERE database = ? AND table = ? AND active ORDER BY partition_id",
            )
            .bind(self.database)
            .bind(name)
            .fetch_all()
            .await
            .map_err(|source| self.error("listing partitions", source))
    }

    /// Makes the staging table's rows the target's: creates the target from it if missing, exchanges its data
    /// parts if the two tables have the same structure, renames otherwise.
    async fn swap_in(&self, staging: &str) -> Result<(), Error> {
        let target = self.relation("");
        if !self.exists().await? {
            return self
                .execute(
                    "renaming the new table into place",
                    &format!("RENAME TABLE {staging} TO {target}"),
                )
                .await;
        }
        // An unpartitioned table has one partition, id `all`, when it has rows: the same path replaces it, or
        // drops it when the new build is empty (modern ClickHouse refuses to replace from nothing).
        if self.structure(&target).await? == self.structure(staging).await? {
            return self.replace_every_partition(staging).await;
        }
        tracing::warn!(
            model = self.model,
            "the model's columns or engine changed: replacing the table by renames (readers may miss it briefly)"
        );
        let backup = self.relation("__uranus_backup");
        self.execute(
            "dropping a leftover backup",
            &format!("DROP TABLE IF EXISTS {backup}"),
        )
        .await?;
        self.execute(
            "renaming the new table into place",
            &format!("RENAME TABLE {target} TO {backup}, {staging} TO {target}"),
        )
        .await?;
        self.execute("dropping the old table", &format!("DROP TABLE {backup}"))
            .await
    }

    /// A table's swap: each partition of the staging table replaces the target's, and partitions the staging
    /// table does not have are dropped. Atomic per partition, not across them (an unpartitioned table has one).
    async fn replace_every_partition(&self, staging: &str) -> Result<(), Error> {
        // `swap_in`'s staging table is always this model's `__uranus_tmp`.
        let mut ids = self.partition_ids(&format!("{}__uranus_tmp", self.model)).await?;
        ids.extend(self.partition_ids(self.model).await?);
        ids.sort_unstable();
        ids.dedup();
        self.replace_partitions_by_id(&ids, staging).await
    }

    /// A table's definition without its name: columns, engine, keys.
    async fn structure(&self, table: &str) -> Result<String, Error> {
        let statement: String = self
            .client
            .query_raw(&format!("SHOW CREATE TABLE {table}"))
            .fetch_one()
            .await
            .map_err(|source| self.error("reading the table definition", source))?;
        Ok(statement
            .split_once('(')
            .map_or(statement.clone(), |(_, definition)| definition.to_owned()))
    }
}
