//! What Uranus' tests share: throw-away dbt projects written to temp dirs, and a runner for them against the
//! test ClickHouse in a fresh database.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use packetpulse_testkit::ClickHouse;
use uranus::project::Project;
use uranus::runner::Runner;

/// Writes a project named `test_project` with `models` (path under `models/` → content) into `dir`.
pub fn write_project(dir: &Path, models: &[(&str, &str)]) {
    std::fs::write(
        dir.join("dbt_project.yml"),
        "name: test_project\nconfig-version: 2\nprofile: test\nvars:\n  answer: 42\n",
    )
    .unwrap();
    for (path, content) in models {
        let path = dir.join("models").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// A runner for the project in `dir`, building into a fresh database of `clickhouse`.
pub async fn runner(clickhouse: &ClickHouse, dir: &Path) -> (Runner, String) {
    let (database, client) = clickhouse.fresh_database().await.unwrap();
    let project = Project::load(dir, &database).unwrap();
    (Runner::new(client, &database, project).unwrap(), database)
}

/// Runs the `uranus` binary's `command` on the project in `dir`, building into `database`.
pub fn run_binary(command: &str, dir: &Path, clickhouse: &ClickHouse, database: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_uranus"))
        .args([command, "--project-dir"])
        .arg(dir)
        .args([
            "--clickhouse-url",
            &clickhouse.url(),
            "--clickhouse-database",
            database,
        ])
        .output()
        .unwrap()
}
