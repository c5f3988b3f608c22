//! Which data files to compact together.
//!
//! Jupiter's backfill replays bronze one commit at a time in commit order (data files are named after their
//! commit's UUIDv7, `packetpulse_lake::data_files`), sorting each commit's rows by (partition, offset). A compacted
//! file is named after the first commit it replaces, so it replays where that commit did; Kafka order survives
//! only if the commits it replaces are consecutive in the table and wrote nothing else. A group is therefore a run
//! of consecutive commits that each wrote exactly one file, all of the same closed day, packed up to the target
//! size. Closed: no event of that day is expected any more, so no commit will add to it.

use std::collections::BTreeMap;

use packetpulse_lake::data_files::commit_key;
use packetpulse_lake::table_files::LiveFile;

/// Files to rewrite as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Their `day(event_time)` partition (days since 1970-01-01).
    pub day: i32,
    /// The commit key of the first file: the compacted file's name starts with it.
    pub key: String,
    /// The files, in commit order.
    pub files: Vec<LiveFile>,
}

impl Group {
    /// Bytes in the group's files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|file| file.bytes).sum()
    }

    /// Rows in the group's files.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|file| file.rows).sum()
    }
}

/// The groups worth compacting among the table's `files`, oldest first: runs of at least two single-file
/// commits of one day before `closed_before`, each run cut into groups of at most `target_bytes`.
pub fn plan(files: &[LiveFile], closed_before: i32, target_bytes: u64) -> Vec<Group> {
    let mut commits: BTreeMap<String, Vec<&LiveFile>> = BTreeMap::new();
    for file in files {
        commits.entry(commit_key(&file.path)).or_default().push(file);
    }
    let mut groups = Vec::new();
    let mut run: Vec<&LiveFile> = Vec::new();
    for commit_files in commits.values() {
        let eligible = match commit_files.as_slice() {
            [file] => file.day.is_some_and(|day| day < closed_before),
            _ => false,
        };
        if !eligible {
            flush(&mut run, &mut groups);
            continue;
        }
        let file = commit_files[0];
        let fits = run.first().is_some_and(|first| first.day == file.day)
            && run.iter().map(|file| file.bytes).sum::<u64>() + file.bytes <= target_bytes;
        if !fits {
            flush(&mut run, &mut groups);
        }
        run.push(file);
    }
    flush(&mut run, &mut groups);
    groups
}

/// Ends the current run: a group if it has two files or more.
fn flush(run: &mut Vec<&LiveFile>, groups: &mut Vec<Group>) {
    let files: Vec<LiveFile> = run.drain(..).cloned().collect();
    if files.len() < 2 {
        return;
    }
    let (Some(day), key) = (files[0].day, commit_key(&files[0].path)) else {
        return;
    };
    groups.push(Group { day, key, files });
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: i32 = 20_600;

    /// A file of commit number `commit` (its key sorts by that number) in `day`.
    fn file(commit: u32, day: i32, bytes: u64) -> LiveFile {
        LiveFile {
            path: format!(
                "s3://b/data/event_day=x/0193a6f0-{commit:04x}-7000-8000-000000000000-00000.parquet"
            ),
            day: Some(day),
            bytes,
            rows: bytes * 10,
            added_by: None,
        }
    }

    fn paths(groups: &[Group]) -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|group| group.files.iter().map(|file| file.path.clone()).collect())
            .collect()
    }

    #[test]
    fn consecutive_small_files_of_a_closed_day_are_packed_up_to_the_target() {
        let files: Vec<LiveFile> = (0..7).map(|commit| file(commit, TODAY - 3, 30)).collect();
        let groups = plan(&files, TODAY - 1, 100);
        assert_eq!(
            paths(&groups),
            vec![
                files[0..3].iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
                files[3..6].iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
            ],
            "groups of three 30-byte files; the seventh is left alone"
        );
        assert_eq!(groups[0].key, commit_key(&files[0].path));
        assert_eq!(groups[0].bytes(), 90);
        assert_eq!(groups[0].day, TODAY - 3);
    }

    #[test]
    fn days_not_yet_closed_are_left_alone() {
        let files: Vec<LiveFile> = (0..4).map(|commit| file(commit, TODAY - 1, 10)).collect();
        assert!(plan(&files, TODAY - 1, 100).is_empty());
    }

    #[test]
    fn a_commit_that_wrote_two_days_or_another_day_breaks_a_run() {
        let day = TODAY - 5;
        let mut files = vec![file(0, day, 10), file(1, day, 10), file(2, day, 10)];
        // Commit 3 wrote two days (a late event of day - 1 among day's).
        files.push(file(3, day, 10));
        files.push(LiveFile {
            day: Some(day - 1),
            path: files[3].path.replace("-00000.parquet", "-00001.parquet"),
            ..files[3].clone()
        });
        files.extend([file(4, day, 10), file(5, day, 10)]);
        // Commit 6 wrote only the next day: no group spans it.
        files.extend([file(6, day + 1, 10), file(7, day, 10), file(8, day, 10)]);
        let groups = plan(&files, TODAY - 1, 1_000);
        assert_eq!(
            paths(&groups),
            vec![
                vec![
                    files[0].path.clone(),
                    files[1].path.clone(),
                    files[2].path.clone()
                ],
                vec![files[5].path.clone(), files[6].path.clone()],
                vec![files[8].path.clone(), files[9].path.clone()],
            ]
        );
    }

    #[test]
    fn files_at_the_target_and_lone_small_files_stay() {
        let day = TODAY - 2;
        let files = vec![file(0, day, 100), file(1, day, 100), file(2, day, 5)];
        assert!(plan(&files, TODAY - 1, 100).is_empty());
    }

    #[test]
    fn a_compacted_file_is_one_commit_like_any_other() {
        let day = TODAY - 9;
        let mut compacted = file(0, day, 50);
        compacted.path = compacted
            .path
            .replace("-00000.parquet", "-00000-compacted-x.parquet");
        let files = vec![compacted.clone(), file(1, day, 20), file(2, day, 20)];
        let groups = plan(&files, TODAY - 1, 100);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].files[0], compacted);
        assert_eq!(groups[0].rows(), 900);
    }
}
