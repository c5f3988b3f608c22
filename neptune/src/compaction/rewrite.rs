//! Rewrites a group's data files as one: every row, unchanged and in commit order, into a file named after the
//! group's first commit (`<key>-00000-compacted-<UUIDv7>.parquet`: unique, so an attempt that lost its commit
//! never overwrites a live file). Memory holds one batch being read and one row group being written.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use iceberg::scan::FileScanTask;
use iceberg::spec::DataFile;
use iceberg::table::Table;

use super::plan::Group;
use crate::Error;
use crate::writer::{CommitWriter, TableLayout};

/// Writes `group`'s rows into one new data file (not yet part of the table). Fails if a file of the group is no
/// longer in the table or the rows read differ in number from the rows the manifests list.
pub async fn rewrite(table: &Table, group: &Group, compression_level: i32) -> Result<DataFile, Error> {
    let context = |source: iceberg::Error| Error::Table {
        table: table.identifier().to_string(),
        source: Box::new(source),
    };
    let tasks = scan_tasks(table, group).await?;
    let suffix = format!("compacted-{}", uuid::Uuid::now_v7());
    let mut writer = CommitWriter::named(
        TableLayout::of(table)?,
        compression_level,
        group.key.clone(),
        Some(suffix),
    )?;
    let mut rows = 0_u64;
    // One file at a time, in commit order (the reader would interleave files read concurrently).
    for task in tasks {
        let mut batches = table
            .reader_builder()
            .build()
            .read(futures::stream::iter([Ok(task)]).boxed())
            .map_err(context)?
            .stream();
        while let Some(batch) = batches.try_next().await.map_err(context)? {
            rows += u64::try_from(batch.num_rows()).unwrap_or(u64::MAX);
            writer.write_batch(group.day, batch).await?;
        }
    }
    if rows != group.rows() {
        return Err(Error::Compaction(format!(
            "compacting {} files of day {}: read {rows} rows where the manifests list {}; nothing committed",
            group.files.len(),
            group.day,
            group.rows()
        )));
    }
    let mut files = writer.finish().await?;
    match (files.pop(), files.is_empty()) {
        (Some(file), true) if file.record_count() == rows => Ok(file),
        (file, _) => Err(Error::Compaction(format!(
            "compacting {} files of day {}: the writer produced {} files ({} rows in the last) for {rows} rows",
            group.files.len(),
            group.day,
            files.len() + usize::from(file.is_some()),
            file.map_or(0, |file| file.record_count())
        ))),
    }
}

/// The scan tasks of the group's files, in the group's order.
async fn scan_tasks(table: &Table, group: &Group) -> Result<Vec<FileScanTask>, Error> {
    let context = |source: iceberg::Error| Error::Table {
        table: table.identifier().to_string(),
        source: Box::new(source),
    };
    let position: HashMap<&str, usize> = group
        .files
        .iter()
        .enumerate()
        .map(|(index, file)| (file.path.as_str(), index))
        .collect();
    let mut tasks: Vec<Option<FileScanTask>> = group.files.iter().map(|_| None).collect();
    let mut planned = table
        .scan()
        .build()
        .map_err(context)?
        .plan_files()
        .await
        .map_err(context)?;
    while let Some(task) = planned.try_next().await.map_err(context)? {
        if let Some(&index) = position.get(task.data_file_path.as_str()) {
            tasks[index] = Some(task);
        }
    }
    tasks
        .into_iter()
        .zip(&group.files)
        .map(|(task, file)| {
            task.ok_or_else(|| {
                Error::Compaction(format!(
                    "compacting day {}: {} is no longer in the table",
                    group.day, file.path
                ))
            })
        })
        .collect()
}
