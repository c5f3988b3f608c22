//! Commits a compaction: a `replace` snapshot that deletes the group's files and adds the compacted one, written as
//! iceberg-rust writes any snapshot (manifests, manifest list, metadata file) with its public spec writers, then
//! swapped in with the SQL catalog's compare-and-set (`packetpulse_lake::metadata_swap`), since none of
//! iceberg-rust's transaction actions removes data files.
//!
//! Manifests without a replaced file are kept as they are; each one with a replaced file is rewritten with that
//! file marked deleted and the others existing (their snapshot and sequence numbers kept). The compacted file gets
//! the new snapshot's sequence number, which is correct only without delete files: a table with delete files is
//! refused (bronze is append-only; nothing writes them).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use iceberg::MetadataLocation;
use iceberg::spec::{
    DataFile, FormatVersion, MAIN_BRANCH, ManifestContentType, ManifestFile, ManifestListWriter,
    ManifestWriterBuilder, Operation, Snapshot, SnapshotSummaryCollector, Summary, TableMetadata,
};
use iceberg::table::Table;
use packetpulse_lake::LakeConfig;

use crate::Error;

/// What committing a compaction came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The table now reads the compacted file instead of the group's.
    Committed,
    /// Another writer committed since `table` was loaded: reload and try again.
    Conflict,
    /// A file of the group is no longer in the table (another compaction or engine replaced it): the compacted
    /// file is not needed.
    Stale,
}

/// `(total, added, removed)` summary properties: each total is the previous one plus added minus removed.
const TOTALS: [(&str, &str, &str); 6] = [
    ("total-data-files", "added-data-files", "deleted-data-files"),
    ("total-delete-files", "added-delete-files", "removed-delete-files"),
    ("total-records", "added-records", "deleted-records"),
    ("total-files-size", "added-files-size", "removed-files-size"),
    (
        "total-position-deletes",
        "added-position-deletes",
        "removed-position-deletes",
    ),
    (
        "total-equality-deletes",
        "added-equality-deletes",
        "removed-equality-deletes",
    ),
];

/// Replaces `removed` (paths of live data files) with `added` in `table`'s current snapshot.
pub async fn commit(
    lake: &LakeConfig,
    table: &Table,
    removed: &[String],
    added: &DataFile,
) -> Result<Outcome, Error> {
    let context = |source: iceberg::Error| Error::Table {
        table: table.identifier().to_string(),
        source: Box::new(source),
    };
    let metadata = table.metadata();
    if metadata.format_version() != FormatVersion::V2 {
        return Err(Error::Compaction(format!(
            "table {} is format version {:?}; compaction writes version 2 metadata only",
            table.identifier(),
            metadata.format_version()
        )));
    }
    let Some(current) = metadata.current_snapshot() else {
        return Ok(Outcome::Stale);
    };
    let current_location = table.metadata_location_result().map_err(context)?.to_owned();
    let snapshot_id = new_snapshot_id(metadata);
    let sequence_number = metadata.next_sequence_number();
    let commit_id = uuid::Uuid::now_v7();
    let file_io = table.file_io();
    let schema = metadata.current_schema().clone();
    let manifest_path = |index: usize| format!("{}/metadata/{commit_id}-m{index}.avro", metadata.location());

    let removed: HashSet<&str> = removed.iter().map(String::as_str).collect();
    let mut summary = SnapshotSummaryCollector::default();
    let default_spec = metadata.default_partition_spec().clone();
    summary.add_file(added, schema.clone(), default_spec.clone());
    let mut new_manifest = ManifestWriterBuilder::new(
        file_io.new_output(manifest_path(0)).map_err(context)?,
        Some(snapshot_id),
        schema.clone(),
        default_spec.as_ref().clone(),
    )
    .build_v2_data();
    new_manifest
        .add_file(added.clone(), sequence_number)
        .map_err(context)?;
    let mut manifests: Vec<ManifestFile> = vec![new_manifest.write_manifest_file().await.map_err(context)?];
    let mut written: Vec<String> = vec![manifest_path(0)];
    let mut found = 0;

    let listed = table
        .manifest_list_reader(current)
        .load()
        .await
        .map_err(context)?;
    for manifest_file in listed.entries() {
        if manifest_file.content != ManifestContentType::Data {
            cleanup(table, &written).await;
            return Err(Error::Compaction(format!(
                "table {} has delete files; compacting would revive the rows they delete",
                table.identifier()
            )));
        }
        let manifest = manifest_file.load_manifest(file_io).await.map_err(context)?;
        let hits = manifest
            .entries()
            .iter()
            .filter(|entry| entry.is_alive() && removed.contains(entry.file_path()))
            .count();
        if hits == 0 {
            manifests.push(manifest_file.clone());
            continue;
        }
        found += hits;
        let spec = metadata
            .partition_spec_by_id(manifest_file.partition_spec_id)
            .cloned()
            .ok_or_else(|| {
                Error::Compaction(format!(
                    "manifest {} names partition spec {} the table does not have",
                    manifest_file.manifest_path, manifest_file.partition_spec_id
                ))
            })?;
        let path = manifest_path(manifests.len());
        let mut rewritten = ManifestWriterBuilder::new(
            file_io.new_output(&path).map_err(context)?,
            Some(snapshot_id),
            schema.clone(),
            spec.as_ref().clone(),
        )
        .build_v2_data();
        for entry in manifest.entries().iter().filter(|entry| entry.is_alive()) {
            let (Some(entry_snapshot), Some(entry_sequence)) = (entry.snapshot_id(), entry.sequence_number())
            else {
                cleanup(table, &written).await;
                return Err(Error::Compaction(format!(
                    "manifest {}: an entry of {} lacks its snapshot or sequence number",
                    manifest_file.manifest_path,
                    entry.file_path()
                )));
            };
            let data_file = entry.data_file().clone();
            if removed.contains(entry.file_path()) {
                summary.remove_file(&data_file, schema.clone(), spec.clone());
                rewritten
                    .add_delete_file(data_file, entry_sequence, entry.file_sequence_number)
                    .map_err(context)?;
            } else {
                rewritten
                    .add_existing_file(
                        data_file,
                        entry_snapshot,
                        entry_sequence,
                        entry.file_sequence_number,
                    )
                    .map_err(context)?;
            }
        }
        written.push(path);
        manifests.push(rewritten.write_manifest_file().await.map_err(context)?);
    }
    if found != removed.len() {
        cleanup(table, &written).await;
        return Ok(Outcome::Stale);
    }

    let list_path = format!(
        "{}/metadata/snap-{snapshot_id}-1-{commit_id}.avro",
        metadata.location()
    );
    let output = file_io.new_output(&list_path).map_err(context)?;
    let mut list = ManifestListWriter::v2(
        output.writer().await.map_err(context)?,
        snapshot_id,
        Some(current.snapshot_id()),
        sequence_number,
    );
    list.add_manifests(manifests.into_iter()).map_err(context)?;
    list.close().await.map_err(context)?;
    written.push(list_path.clone());

    let mut properties = summary.build();
    add_totals(&mut properties, &current.summary().additional_properties);
    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(Some(current.snapshot_id()))
        .with_sequence_number(sequence_number)
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .with_manifest_list(list_path)
        .with_summary(Summary {
            operation: Operation::Replace,
            additional_properties: properties,
        })
        .with_schema_id(schema.schema_id())
        .build();
    let new_metadata = metadata
        .clone()
        .into_builder(Some(current_location.clone()))
        .set_branch_snapshot(snapshot, MAIN_BRANCH)
        .and_then(|builder| builder.build())
        .map_err(context)?
        .metadata;
    let location = MetadataLocation::from_str(&current_location)
        .map_err(context)?
        .with_next_version()
        .with_new_metadata(&new_metadata);
    new_metadata.write_to(file_io, &location).await.map_err(context)?;
    written.push(location.to_string());

    if packetpulse_lake::metadata_swap::swap(
        lake,
        table.identifier(),
        &current_location,
        &location.to_string(),
    )
    .await?
    {
        Ok(Outcome::Committed)
    } else {
        cleanup(table, &written).await;
        Ok(Outcome::Conflict)
    }
}

/// A snapshot id the table does not have yet (positive, as iceberg-rust makes them).
fn new_snapshot_id(metadata: &TableMetadata) -> i64 {
    loop {
        let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
        let id = i64::from_ne_bytes((high ^ low).to_ne_bytes()) & i64::MAX;
        if id > 0 && metadata.snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

/// Adds the totals of [`TOTALS`] to a snapshot summary's `properties`, from the `previous` snapshot's.
fn add_totals(properties: &mut HashMap<String, String>, previous: &HashMap<String, String>) {
    let number = |map: &HashMap<String, String>, key: &str| {
        map.get(key)
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    for (total, added, removed) in TOTALS {
        let value =
            (number(previous, total) + number(properties, added)).saturating_sub(number(properties, removed));
        properties.insert(total.to_owned(), value.to_string());
    }
}

/// Deletes the metadata files of a commit that did not land (best effort: an orphan is harmless).
async fn cleanup(table: &Table, written: &[String]) {
    for path in written {
        if let Err(error) = table.file_io().delete(path).await {
            tracing::warn!(%path, %error, "could not delete a file of a compaction that did not commit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_move_by_what_was_added_and_removed() {
        let previous = HashMap::from([
            ("total-data-files".to_owned(), "10".to_owned()),
            ("total-records".to_owned(), "1000".to_owned()),
            ("total-files-size".to_owned(), "5000".to_owned()),
        ]);
        let mut properties = HashMap::from([
            ("added-data-files".to_owned(), "1".to_owned()),
            ("deleted-data-files".to_owned(), "4".to_owned()),
            ("added-records".to_owned(), "400".to_owned()),
            ("deleted-records".to_owned(), "400".to_owned()),
            ("added-files-size".to_owned(), "1500".to_owned()),
            ("removed-files-size".to_owned(), "1800".to_owned()),
        ]);
        add_totals(&mut properties, &previous);
        assert_eq!(properties["total-data-files"], "7");
        assert_eq!(properties["total-records"], "1000");
        assert_eq!(properties["total-files-size"], "4700");
        assert_eq!(properties["total-delete-files"], "0");
    }
}
