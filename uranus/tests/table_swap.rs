//! A table model rebuilt again and again while a reader queries it in a loop: the reader never gets an error, an
//! empty or a partial result — the new rows are swapped in with `REPLACE PARTITION`, not by drop and rename.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use packetpulse_testkit::shared_clickhouse;
use uranus::runner::{Outcome, summarise};

const ROWS: u64 = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_table_model_missing_or_half_built_while_it_is_rebuilt() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write_project(
        dir.path(),
        &[(
            "numbers.sql",
            &format!(
                "{{{{ config(materialized='table', order_by='n') }}}}\nSELECT number AS n FROM system.numbers LIMIT {ROWS}"
            ),
        )],
    );
    let (mut runner, database) = common::runner(clickhouse, dir.path()).await;
    let everything = runner.select(&[]).unwrap();
    summarise(&runner.run(&everything, false).await).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let client = clickhouse.client();
        let stop = stop.clone();
        let sql = format!("SELECT count() FROM `{database}`.`numbers`");
        tokio::spawn(async move {
            let (mut reads, mut wrong) = (0u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match client.query(&sql).fetch_one::<u64>().await {
                    Ok(ROWS) => {}
                    Ok(other) => wrong.push(format!("{other} rows")),
                    Err(error) => wrong.push(error.to_string()),
                }
                reads += 1;
            }
            (reads, wrong)
        })
    };
    for _ in 0..10 {
        let results = runner.run(&everything, false).await;
        assert!(
            matches!(results[0].outcome, Outcome::Built { rows: Some(ROWS), .. }),
            "{results:?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let (reads, wrong) = reader.await.unwrap();
    println!("{reads} reads during 10 rebuilds");
    assert!(reads >= 10, "the reader hardly ran: {reads} reads");
    assert!(
        wrong.is_empty(),
        "{} of {reads} reads went wrong, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(3)]
    );
}

/// A table model whose new build has no rows empties the table, and an empty table rebuilt empty stays so: modern
/// ClickHouse refuses `REPLACE PARTITION` from a table without that partition (CI on ClickHouse 26, 2026-12-03:
/// `kpi_aggregates` before any completed delivery), so the swap drops the partition instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_model_that_builds_no_rows_empties_the_table() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write_project(
        dir.path(),
        &[
            ("sources.yml", common::SOURCES),
            (
                "latest.sql",
                "{{ config(materialized='table', order_by='k') }}\n\
                 SELECT k, v FROM {{ source('raw', 'src') }}\n\
                 WHERE batch = (SELECT max(batch) FROM {{ source('raw', 'src') }}) AND v != ''",
            ),
        ],
    );
    let (mut runner, database) = common::runner(clickhouse, dir.path()).await;
    let client = clickhouse.client().with_database(&database);
    common::create_source(&client).await;
    let everything = runner.select(&[]).unwrap();
    let rows = |client: clickhouse::Client| async move {
        client
            .query("SELECT count() FROM latest")
            .fetch_one::<u64>()
            .await
            .unwrap()
    };

    common::execute(&client, "INSERT INTO src VALUES (1, 1, 'kept')").await;
    summarise(&runner.run(&everything, false).await).unwrap();
    assert_eq!(rows(client.clone()).await, 1);
    // The newest batch has nothing the model keeps: the next builds are empty.
    common::execute(&client, "INSERT INTO src VALUES (2, 2, '')").await;
    for build in 0..2 {
        summarise(&runner.run(&everything, false).await).unwrap();
        assert_eq!(rows(client.clone()).await, 0, "build {build}");
    }
}
