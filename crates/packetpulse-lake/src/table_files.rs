//! The bronze table's live data files, as its current snapshot lists them: what file-size reports read (the fleet
//! benchmark, the tests of Neptune's commit policy).

use std::collections::BTreeMap;

use iceberg::spec::{Literal, PrimitiveLiteral};
use iceberg::table::Table;

use crate::LakeError;

/// One live data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFile {
    /// Where the file is.
    pub path: String,
    /// Its `day(event_time)` partition, as days since 1970-01-01 (`None` for a table not partitioned by day).
    pub day: Option<i32>,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows.
    pub rows: u64,
    /// The snapshot that added it.
    pub added_by: Option<i64>,
}

/// Files, rows and sizes of one day partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayFiles {
    /// Data files.
    pub files: usize,
    /// Rows in them.
    pub rows: u64,
    /// Bytes in them.
    pub bytes: u64,
    /// The median file size in bytes (the upper one of an even count).
    pub median_bytes: u64,
}

/// Every live data file of the table's current snapshot (none before the first commit).
pub async fn live_files(table: &Table) -> Result<Vec<LiveFile>, LakeError> {
    let Some(snapshot) = table.metadata().current_snapshot() else {
        return Ok(Vec::new());
    };
    let context = |source: iceberg::Error| LakeError::Table {
        table: table.identifier().to_string(),
        source: Box::new(source),
    };
    let manifests = table
        .manifest_list_reader(snapshot)
        .load()
        .await
        .map_err(context)?;
    let mut files = Vec::new();
    for manifest in manifests.entries() {
        for entry in manifest
            .load_manifest(table.file_io())
            .await
            .map_err(context)?
            .entries()
        {
            if !entry.is_alive() {
                continue;
            }
            let data_file = entry.data_file();
            let day = match data_file.partition().fields() {
                [Some(Literal::Primitive(PrimitiveLiteral::Int(day)))] => Some(*day),
                _ => None,
            };
            files.push(LiveFile {
                path: data_file.file_path().to_owned(),
                day,
                bytes: data_file.file_size_in_bytes(),
                rows: data_file.record_count(),
                added_by: entry.snapshot_id(),
            });
        }
    }
    Ok(files)
}

/// `files` per day partition.
pub fn per_day(files: &[LiveFile]) -> BTreeMap<Option<i32>, DayFiles> {
    let mut sizes: BTreeMap<Option<i32>, Vec<&LiveFile>> = BTreeMap::new();
    for file in files {
        sizes.entry(file.day).or_default().push(file);
    }
    sizes
        .into_iter()
        .map(|(day, files)| {
            let mut bytes: Vec<u64> = files.iter().map(|file| file.bytes).collect();
            bytes.sort_unstable();
            let summary = DayFiles {
                files: files.len(),
                rows: files.iter().map(|file| file.rows).sum(),
                bytes: bytes.iter().sum(),
                median_bytes: bytes[bytes.len() / 2],
            };
            (day, summary)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(day: i32, bytes: u64) -> LiveFile {
        LiveFile {
            path: format!("{day}-{bytes}.parquet"),
            day: Some(day),
            bytes,
            rows: bytes / 100,
            added_by: None,
        }
    }

    #[test]
    fn per_day_counts_sums_and_takes_the_median_of_each_day() {
        let days = per_day(&[file(1, 300), file(1, 100), file(1, 200), file(2, 50)]);
        assert_eq!(
            days[&Some(1)],
            DayFiles {
                files: 3,
                rows: 6,
                bytes: 600,
                median_bytes: 200
            }
        );
        assert_eq!(days[&Some(2)].median_bytes, 50);
    }
}
