//! Where servers keep their data: one directory per test process under the system temp dir, each server in a
//! fresh subdirectory. Directories of processes that no longer run are swept on first use, so shared servers
//! (which outlive every `Drop`) leave nothing behind for long.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

const ROOT_NAME: &str = "packetpulse-testkit";

/// This process's run directory, created (and stale ones swept) on first call.
pub(crate) fn run_dir() -> Result<&'static Path, Error> {
    static RUN_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = RUN_DIR.get_or_init(|| {
        let root = std::env::temp_dir().join(ROOT_NAME);
        sweep_stale(&root);
        let dir = root.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir)
            .map(|()| dir)
            .map_err(|e| format!("creating {}: {e}", root.display()))
    });
    dir.as_deref().map_err(|message| Error::Io {
        context: message.clone(),
        source: std::io::Error::other("run directory unavailable"),
    })
}

/// A new, empty directory for one server.
pub(crate) fn server_dir(server: &str) -> Result<tempfile::TempDir, Error> {
    let parent = run_dir()?;
    tempfile::Builder::new()
        .prefix(&format!("{server}-"))
        .tempdir_in(parent)
        .map_err(Error::io(format!(
            "creating a data directory for {server} in {}",
            parent.display()
        )))
}

/// Removes run directories whose process is gone.
fn sweep_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            // Best effort: a directory we cannot remove only costs disk space.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A name no other test (in this or another process) uses: `{prefix}_{pid}_{counter}_{nanos}`; with a lower-case
/// prefix it is a valid Kafka topic and ClickHouse database name (S3 buckets: see [`crate::S3Server`]).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}
