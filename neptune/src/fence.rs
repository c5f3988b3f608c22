//! The commit is the fence between writers. Exactly-once holds with one Neptune per table; nothing stops an
//! operator from starting two, and then both would append the same messages. A batch therefore commits only if the
//! table's offsets are still exactly where the batch started, in every partition: if another writer moved any of
//! them, the batch is dropped (its files stay unreferenced) and the sink re-reads from the table's offsets.
//!
//! Every partition, not only those the batch read: the batch's snapshot records the offsets of all partitions, so
//! a batch that read only partition 0 committing after another writer moved partition 1 would move partition 1
//! back, and the rows the other writer committed there would be read and written again.
//!
//! iceberg re-applies a transaction on the table it reloads before each attempt, so the check sits where that
//! reload happens: [`FencedCatalog`] wraps the catalog for one commit and refuses a reloaded table that fails the
//! check. The fast append requires the catalog's current snapshot to be the one it was applied to, so a writer
//! committing between the check and the update makes the update fail and the next reload see it.

use std::collections::HashMap;

use async_trait::async_trait;
use iceberg::table::Table;
use iceberg::{
    Catalog, ErrorKind, Namespace, NamespaceIdent, Result, TableCommit, TableCreation, TableIdent,
};

use crate::offsets::Offsets;

/// Marks the iceberg error [`FencedCatalog`] returns, so the committer can tell it from a failure.
const FENCED: &str = "packetpulse.neptune: fenced";

/// Whether a batch that started at `start` may commit on a table whose offsets are `table`: nobody moved any
/// partition since.
pub fn holds(table: &Offsets, start: &Offsets) -> bool {
    table == start
}

/// Whether `error` is [`FencedCatalog`]'s refusal.
pub fn is_fenced(error: &iceberg::Error) -> bool {
    error.message().starts_with(FENCED)
}

/// A catalog that refuses to load the table for a commit once another writer moved the table's offsets.
pub struct FencedCatalog<'a> {
    inner: &'a dyn Catalog,
    start: &'a Offsets,
}

impl<'a> FencedCatalog<'a> {
    /// The fence for a batch that started at `start`.
    pub fn new(inner: &'a dyn Catalog, start: &'a Offsets) -> Self {
        Self { inner, start }
    }

    /// Checks `table` against the fence.
    pub fn check(&self, table: &Table) -> Result<()> {
        let current = Offsets::from_table(table, &self.start.topic)
            .map_err(|error| iceberg::Error::new(ErrorKind::DataInvalid, error.to_string()))?;
        if holds(&current, self.start) {
            return Ok(());
        }
        Err(iceberg::Error::new(
            ErrorKind::DataInvalid,
            format!(
                "{FENCED}: another writer committed offsets {:?} since this batch started at {:?}",
                current.next, self.start.next
            ),
        )
        .with_retryable(false))
    }
}

impl std::fmt::Debug for FencedCatalog<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FencedCatalog")
            .field("start", &self.start.next)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Catalog for FencedCatalog<'_> {
    async fn list_namespaces(&self, parent: Option<&NamespaceIdent>) -> Result<Vec<NamespaceIdent>> {
        self.inner.list_namespaces(parent).await
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<Namespace> {
        self.inner.create_namespace(namespace, properties).await
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> Result<Namespace> {
        self.inner.get_namespace(namespace).await
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> Result<bool> {
        self.inner.namespace_exists(namespace).await
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<()> {
        self.inner.update_namespace(namespace, properties).await
    }

    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> Result<()> {
        self.inner.drop_namespace(namespace).await
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        self.inner.list_tables(namespace).await
    }

    async fn create_table(&self, namespace: &NamespaceIdent, creation: TableCreation) -> Result<Table> {
        self.inner.create_table(namespace, creation).await
    }

    async fn load_table(&self, table: &TableIdent) -> Result<Table> {
        let loaded = self.inner.load_table(table).await?;
        self.check(&loaded)?;
        Ok(loaded)
    }

    async fn drop_table(&self, table: &TableIdent) -> Result<()> {
        self.inner.drop_table(table).await
    }

    async fn purge_table(&self, table: &TableIdent) -> Result<()> {
        self.inner.purge_table(table).await
    }

    async fn table_exists(&self, table: &TableIdent) -> Result<bool> {
        self.inner.table_exists(table).await
    }

    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
        self.inner.rename_table(src, dest).await
    }

    async fn register_table(&self, table: &TableIdent, metadata_location: String) -> Result<Table> {
        self.inner.register_table(table, metadata_location).await
    }

    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        self.inner.update_table(commit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(next: &[(i32, i64)]) -> Offsets {
        let mut offsets = Offsets::empty("sessions");
        offsets.next.extend(next.iter().copied());
        offsets
    }

    #[test]
    fn a_batch_commits_only_on_the_offsets_it_started_from() {
        let start = offsets(&[(0, 10), (1, 20)]);
        assert!(holds(&start, &start), "nobody else wrote");
        assert!(!holds(&offsets(&[(0, 12), (1, 20)]), &start), "partition 0 moved");
        assert!(
            !holds(&offsets(&[(0, 10), (1, 25)]), &start),
            "another writer moved a partition this batch did not read: committing would move it back"
        );
    }

    #[test]
    fn a_partition_new_to_the_table_must_still_be_new() {
        let start = offsets(&[(0, 5)]);
        assert!(holds(&offsets(&[(0, 5)]), &start));
        assert!(!holds(&offsets(&[(0, 5), (2, 3)]), &start));
        assert!(!holds(&offsets(&[(0, 5)]), &offsets(&[])));
    }
}
