//! What Uranus' tests share: throw-away dbt projects written to temp dirs, and a runner for them against the
//! test ClickHouse in a fresh database; reads of the project's gold models.

#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use packetpulse_testkit::ClickHouse;
use uranus::project::Project;
use uranus::runner::Runner;

/// A `sources.yml` declaring the table `src` of the target database as source `raw`.
pub const SOURCES: &str = "version: 2\nsources:\n  - name: raw\n    schema: \"{{ target.schema }}\"\n    tables:\n      - name: src\n";

/// Selects `src`'s rows, only those of newer batches than the model has when incremental.
pub const SELECT_NEW: &str = "SELECT batch, k, v FROM {{ source('raw', 'src') }}\n\
    {% if is_incremental() %}WHERE batch > (SELECT max(batch) FROM {{ this }}){% endif %}";

/// Selects one row per key `k` of `src` (its newest batch's `v`), from newer batches only when incremental: what a
/// `unique_key='k'` model must select.
pub const SELECT_ONE_ROW_PER_KEY: &str = "SELECT max(b) AS batch, k, argMax(v, b) AS v FROM (\
    SELECT batch AS b, k, v FROM {{ source('raw', 'src') }}\n\
    {% if is_incremental() %}WHERE batch > (SELECT max(batch) FROM {{ this }}){% endif %}) GROUP BY k";

/// Creates the source table `src` the SELECT constants read.
pub async fn create_source(client: &clickhouse::Client) {
    execute(
        client,
        "CREATE TABLE src (batch UInt32, k UInt32, v String) ENGINE = MergeTree() ORDER BY k",
    )
    .await;
}

/// Runs `sql` (no result), failing the test on an error.
pub async fn execute(client: &clickhouse::Client, sql: &str) {
    client.query(sql).execute().await.unwrap();
}

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

/// A row of the project's `vehicle_daily`.
#[derive(Debug, PartialEq, serde::Deserialize, clickhouse::Row)]
pub struct VehicleDay {
    pub day: u16,
    pub vehicle_id: String,
    pub trips: u64,
    pub completed: u64,
    pub distance_km: f64,
    pub driving_s: f64,
}

/// `vehicle_daily`'s days with trips, by day and vehicle.
pub async fn vehicle_daily(client: &clickhouse::Client) -> Vec<VehicleDay> {
    client
        .query(
            "SELECT toUInt16(day) AS day, vehicle_id, trips, completed, distance_km, driving_s FROM vehicle_daily \
             WHERE trips > 0 ORDER BY day, vehicle_id",
        )
        .fetch_all()
        .await
        .unwrap()
}

/// What `vehicle_daily` holds if built from scratch out of `session_summary`.
pub async fn vehicle_daily_from_sessions(client: &clickhouse::Client) -> Vec<VehicleDay> {
    client
        .query(
            "SELECT toUInt16(trip_day) AS day, vehicle AS vehicle_id, count() AS trips, \
             toUInt64(countIf(trip_status = 'completed')) AS completed, toFloat64(sum(km)) AS distance_km, \
             toFloat64(sum(seconds)) AS driving_s \
             FROM (SELECT toDate(started_at) AS trip_day, vehicle_id AS vehicle, status AS trip_status, \
                   distance_km AS km, duration_s AS seconds FROM session_summary) \
             GROUP BY trip_day, vehicle ORDER BY trip_day, vehicle",
        )
        .fetch_all()
        .await
        .unwrap()
}

/// `vehicle_daily` (its days with trips) is what a build from scratch would give: the same days, vehicles and
/// counts, and the same sums up to the order they were added in.
pub async fn assert_vehicle_daily_is_a_fresh_grouping(client: &clickhouse::Client) {
    let (kept, fresh) = (
        vehicle_daily(client).await,
        vehicle_daily_from_sessions(client).await,
    );
    let keys = |rows: &[VehicleDay]| -> Vec<(u16, String, u64, u64)> {
        rows.iter()
            .map(|row| (row.day, row.vehicle_id.clone(), row.trips, row.completed))
            .collect()
    };
    assert_eq!(keys(&kept), keys(&fresh), "vehicle_daily's rows");
    for (kept_row, fresh_row) in kept.iter().zip(&fresh) {
        for (what, kept, fresh) in [
            ("km", kept_row.distance_km, fresh_row.distance_km),
            ("driving s", kept_row.driving_s, fresh_row.driving_s),
        ] {
            assert!(
                (kept - fresh).abs() <= 1e-9 * fresh.abs().max(1.0),
                "{what} of {} on day {}: {kept}, from scratch {fresh}",
                fresh_row.vehicle_id,
                fresh_row.day
            );
        }
    }
}
