//! `uranus test` runs the schema.yml tests and reports each with the number of rows that break it; any failure
//! makes the exit code non-zero. (The gold project's own tests pass on seeded data: see `gold_models.rs`.)

#![allow(clippy::unwrap_used)]

mod common;

use packetpulse_testkit::shared_clickhouse;
use uranus::data_tests::{self, TestOutcome, collect, run};
use uranus::runner::summarise;

const SCHEMA: &str = r#"
version: 2
models:
  - name: trips
    columns:
      - name: id
        data_tests: [not_null, unique]
      - name: status
        tests:
          - accepted_values:
              values: ['open', 'done']
      - name: vehicle
        data_tests:
          - relationships:
              arguments:
                to: ref('vehicles')
                field: id
  - name: vehicles
    columns:
      - name: id
        data_tests: [unique]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_test_reports_the_rows_that_break_it() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write_project(
        dir.path(),
        &[
            (
                "trips.sql",
                "{{ config(materialized='table') }}\n\
                 SELECT toNullable(1) AS id, 'open' AS status, 'v1' AS vehicle UNION ALL \
                 SELECT 1, 'lost', 'v9' UNION ALL SELECT NULL, 'gone', 'v1' UNION ALL SELECT 2, 'done', 'v8'",
            ),
            (
                "vehicles.sql",
                "{{ config(materialized='table') }}\nSELECT 'v1' AS id",
            ),
            ("schema.yml", SCHEMA),
        ],
    );
    let (mut runner, database) = common::runner(clickhouse, dir.path()).await;
    summarise(&runner.run(&runner.select(&[]).unwrap(), false).await).unwrap();

    let tests = collect(runner.project(), &Default::default());
    let outcomes = run(&clickhouse.client(), &database, tests).await;
    let expected = [
        ("not_null_trips_id", TestOutcome::Fail(1)),
        ("unique_trips_id", TestOutcome::Fail(1)),
        ("accepted_values_trips_status", TestOutcome::Fail(2)),
        ("relationships_trips_vehicle", TestOutcome::Fail(2)),
        ("unique_vehicles_id", TestOutcome::Pass),
    ]
    .map(|(name, outcome)| (name.to_owned(), outcome));
    assert_eq!(outcomes, expected);
    assert_eq!(
        data_tests::summarise(&outcomes).unwrap_err().to_string(),
        "4 of 5 tests failed"
    );

    // The binary: one line per test with its failing rows, exit code non-zero.
    let output = common::run_binary("test", dir.path(), clickhouse, &database);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    for line in [
        "FAIL 1 not_null_trips_id",
        "FAIL 1 unique_trips_id",
        "FAIL 2 accepted_values_trips_status",
        "FAIL 2 relationships_trips_vehicle",
        "PASS  unique_vehicles_id",
    ] {
        assert!(stdout.contains(line), "{line:?} missing in:\n{stdout}");
    }
}
