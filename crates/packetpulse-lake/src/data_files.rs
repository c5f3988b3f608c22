//! How bronze data files are named, the contract between their writer and their readers: Neptune names the data
//! files of one commit `<commit prefix>-<n>.parquet`, the prefix a fresh UUIDv7 per commit attempt (so files of an
//! attempt that crashed before its commit never collide with a later attempt's, and names order commits in time);
//! Jupiter's backfill groups files by [`commit_key`] to replay one commit at a time in Kafka order.

/// The prefix of the data files of a new commit attempt: a UUIDv7, so prefixes sort in time.
pub fn new_commit_prefix() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The commit a data file belongs to: its prefix when it follows [`new_commit_prefix`]'s naming; any other name
/// (a file another engine wrote, e.g. Trino's `optimize`) is a group of its own.
pub fn commit_key(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.get(..36) {
        Some(prefix) if uuid::Uuid::try_parse(prefix).is_ok() => prefix.to_owned(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_one_commit_share_a_key() {
        let a = "s3://b/w/bronze/delivery_events/data/event_day=2026-11-27/0193a6f0-0000-7000-8000-000000000000-00000.parquet";
        let b = "file:///w/data/event_day=2026-11-28/0193a6f0-0000-7000-8000-000000000000-00001.parquet";
        assert_eq!(commit_key(a), commit_key(b));
        assert_eq!(commit_key(a), "0193a6f0-0000-7000-8000-000000000000");
        assert_eq!(
            commit_key("/w/data/20261127_trino_optimized.parquet"),
            "20261127_trino_optimized.parquet"
        );
    }

    #[test]
    fn a_new_prefix_is_its_own_commit_key() {
        let prefix = new_commit_prefix();
        assert_eq!(commit_key(&format!("/w/data/{prefix}-00003.parquet")), prefix);
    }
}
