//! Models that cannot build each fail with a message naming the model (and, for Jinja, the file and line): an
//! unknown ref, a bad config, an SQL error from the server. Models reading a failed one are skipped, independent
//! models still build, and the exit code says something failed. A dependency cycle stops the run before it starts.

#![allow(clippy::unwrap_used)]

mod common;

use packetpulse_testkit::shared_clickhouse;
use uranus::runner::{ModelResult, Outcome, summarise};

fn outcome<'a>(results: &'a [ModelResult], model: &str) -> &'a Outcome {
    &results.iter().find(|r| r.model == model).unwrap().outcome
}

fn failure(results: &[ModelResult], model: &str) -> String {
    match outcome(results, model) {
        Outcome::Failed(message) => message.clone(),
        other => panic!("{model}: expected a failure, got {other:?}"),
    }
}

const BROKEN_PROJECT: &[(&str, &str)] = &[
    (
        "good.sql",
        "{{ config(materialized='table') }}\nSELECT {{ var('answer') }} AS x",
    ),
    (
        "gold/unknown_ref.sql",
        "-- reads a model that does not exist\nSELECT * FROM {{ ref('nope') }}",
    ),
    (
        "bad_config.sql",
        "{{ config(materialized='banana') }}\nSELECT 1 AS x",
    ),
    (
        "sql_error.sql",
        "{{ config(materialized='table') }}\nSELECT no_such_function(1) AS x",
    ),
    ("downstream.sql", "SELECT * FROM {{ ref('sql_error') }}"),
    ("reads_good.sql", "SELECT x + 1 AS y FROM {{ ref('good') }}"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failing_model_is_named_and_independent_models_still_build() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write_project(dir.path(), BROKEN_PROJECT);
    let (mut runner, database) = common::runner(clickhouse, dir.path()).await;
    let results = runner.run(&runner.select(&[]).unwrap(), false).await;

    assert!(matches!(
        outcome(&results, "good"),
        Outcome::Built { rows: Some(1), .. }
    ));
    assert!(matches!(
        outcome(&results, "reads_good"),
        Outcome::Built { rows: None, .. }
    ));
    let unknown_ref = failure(&results, "unknown_ref");
    assert!(
        unknown_ref.contains("model unknown_ref (models/gold/unknown_ref.sql:2)")
            && unknown_ref.contains("no model named \"nope\""),
        "{unknown_ref}"
    );
    let bad_config = failure(&results, "bad_config");
    assert!(
        bad_config.contains("model bad_config") && bad_config.contains("\"banana\""),
        "{bad_config}"
    );
    let sql_error = failure(&results, "sql_error");
    assert!(
        sql_error.contains("model sql_error") && sql_error.contains("no_such_function"),
        "{sql_error}"
    );
    assert_eq!(
        outcome(&results, "downstream"),
        &Outcome::Skipped {
            upstream: "sql_error".to_owned()
        }
    );
    let summary = summarise(&results).unwrap_err().to_string();
    assert_eq!(summary, "4 of 6 models failed");

    // The binary prints one line per model and exits non-zero.
    let output = common::run_binary("run", dir.path(), clickhouse, &database);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("ERROR sql_error") && stdout.contains("SKIP  downstream"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("4 of 6 models failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_cycle_is_reported_with_its_models_before_anything_runs() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write_project(
        dir.path(),
        &[
            ("a.sql", "SELECT * FROM {{ ref('c') }}"),
            ("b.sql", "SELECT * FROM {{ ref('a') }}"),
            ("c.sql", "SELECT * FROM {{ ref('b') }}"),
        ],
    );
    let (database, client) = clickhouse.fresh_database().await.unwrap();
    let project = uranus::project::Project::load(dir.path(), &database).unwrap();
    let error = uranus::runner::Runner::new(client, &database, project)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        error,
        "dependency cycle: a → b (models/b.sql:1) → c (models/c.sql:1) → a (models/a.sql:1)"
    );
}
