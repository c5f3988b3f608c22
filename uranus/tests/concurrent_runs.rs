//! One run at a time per database: runs started together (a `uranus run` while `serve` refreshes, two
//! schedulers) wait for each other instead of dropping each other's staging tables, and an incremental model
//! gets each new row once. A lock left by a crashed run is taken over once it is stale.

#![allow(clippy::unwrap_used)]

mod common;

use common::{SELECT_NEW, SELECT_ONE_ROW_PER_KEY, SOURCES, execute};

use packetpulse_testkit::shared_clickhouse;
use uranus::runner::summarise;

async fn count(client: &clickhouse::Client, sql: &str) -> u64 {
    client.query(sql).fetch_one::<u64>().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_started_together_wait_for_each_other_and_duplicate_nothing() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // One row per key in each refresh, as a unique_key model must select.
    let merged = format!(
        "{{{{ config(materialized='incremental', unique_key='k', order_by='k') }}}}\n{SELECT_ONE_ROW_PER_KEY}"
    );
    let appended = format!("{{{{ config(materialized='incremental', order_by='k') }}}}\n{SELECT_NEW}");
    let table = "{{ config(materialized='table', order_by='k') }}\nSELECT k, count() AS n FROM {{ ref('merged') }} GROUP BY k";
    common::write_project(
        dir.path(),
        &[
            ("sources.yml", SOURCES),
            ("merged.sql", &merged),
            ("appended.sql", &appended),
            ("counted.sql", table),
        ],
    );
    let (mut first, database) = common::runner(clickhouse, dir.path()).await;
    let client = clickhouse.client().with_database(&database);
    common::create_source(&client).await;
    execute(
        &client,
        "INSERT INTO src SELECT 1, number, 'a' FROM system.numbers LIMIT 1000",
    )
    .await;
    let everything = first.select(&[]).unwrap();
    summarise(&first.run(&everything, false).await).unwrap();

    // Four runners (as four processes would) run three rounds each while new batches arrive.
    let mut runs = Vec::new();
    for _ in 0..4 {
        let project = uranus::project::Project::load(dir.path(), &database).unwrap();
        let mut runner = uranus::runner::Runner::new(client.clone(), &database, project).unwrap();
        let everything = everything.clone();
        runs.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..3 {
                results.extend(runner.run(&everything, false).await);
            }
            results
        }));
    }
    for batch in 2..=6u32 {
        client
            .query("INSERT INTO src SELECT ?, number + ?, 'b' FROM system.numbers LIMIT 500")
            .bind(batch)
            .bind(batch * 100)
            .execute()
            .await
            .unwrap();
    }
    for run in runs {
        summarise(&run.await.unwrap()).unwrap();
    }
    summarise(&first.run(&everything, false).await).unwrap();

    let source_rows = count(&client, "SELECT count() FROM src").await;
    assert_eq!(
        count(&client, "SELECT count() FROM appended").await,
        source_rows,
        "each row appended once"
    );
    let keys = count(&client, "SELECT uniqExact(k) FROM src").await;
    assert_eq!(count(&client, "SELECT count() FROM merged").await, keys);
    assert_eq!(count(&client, "SELECT uniqExact(k) FROM merged").await, keys);
    assert_eq!(count(&client, "SELECT max(n) FROM counted").await, 1);
    let locks = format!(
        "SELECT count() FROM system.tables WHERE database = '{database}' AND name LIKE '%{}%'",
        uranus::lock::LOCK_TABLE
    );
    assert_eq!(count(&client, &locks).await, 0, "the lock is released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_left_by_a_crashed_run_is_taken_over_once_stale() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write_project(dir.path(), &[("one.sql", "SELECT 1 AS x")]);
    let (mut runner, database) = common::runner(clickhouse, dir.path()).await;
    let client = clickhouse.client().with_database(&database);
    let lock = uranus::lock::LOCK_TABLE;
    execute(
        &client,
        &format!("CREATE TABLE {lock} (holder String, at DateTime) ENGINE = Log"),
    )
    .await;
    execute(
        &client,
        &format!("INSERT INTO {lock} SELECT 'crashed:1:0', now() - 120"),
    )
    .await;
    let everything = runner.select(&[]).unwrap();
    let results = tokio::time::timeout(std::time::Duration::from_secs(30), runner.run(&everything, false))
        .await
        .expect("a stale lock does not block");
    summarise(&results).unwrap();
}
