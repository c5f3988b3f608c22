//! Incremental models: the first run builds the table; later runs render with `is_incremental()` true and add
//! only the new rows — appended, or merged by `unique_key` (a new row replaces the old one with its key);
//! `--full-refresh` rebuilds from scratch.

#![allow(clippy::unwrap_used)]

mod common;

use packetpulse_testkit::shared_clickhouse;
use uranus::runner::summarise;

const SOURCES: &str = "version: 2\nsources:\n  - name: raw\n    schema: \"{{ target.schema }}\"\n    tables:\n      - name: src\n";

const SELECT_NEW: &str = "SELECT batch, k, v FROM {{ source('raw', 'src') }}\n\
    {% if is_incremental() %}WHERE batch > (SELECT max(batch) FROM {{ this }}){% endif %}";

async fn rows(client: &clickhouse::Client, table: &str) -> Vec<(u32, u32, String)> {
    client
        .query(&format!("SELECT batch, k, v FROM {table} ORDER BY k, batch"))
        .fetch_all()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_models_append_or_merge_by_unique_key_and_full_refresh_rebuilds() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let merged =
        format!("{{{{ config(materialized='incremental', unique_key='k', order_by='k') }}}}\n{SELECT_NEW}");
    let appended = format!("{{{{ config(materialized='incremental', order_by='k') }}}}\n{SELECT_NEW}");
    common::write_project(
        dir.path(),
        &[
            ("sources.yml", SOURCES),
            ("merged.sql", &merged),
            ("appended.sql", &appended),
        ],
    );
    let (mut runner, database) = common::runner(clickhouse, dir.path()).await;
    let client = clickhouse.client().with_database(&database);
    client
        .query("CREATE TABLE src (batch UInt32, k UInt32, v String) ENGINE = MergeTree() ORDER BY k")
        .execute()
        .await
        .unwrap();
    let everything = runner.select(&[]).unwrap();

    client
        .query("INSERT INTO src VALUES (1, 1, 'a'), (1, 2, 'b')")
        .execute()
        .await
        .unwrap();
    summarise(&runner.run(&everything, false).await).unwrap();
    let first = vec![(1, 1, "a".to_owned()), (1, 2, "b".to_owned())];
    assert_eq!(rows(&client, "merged").await, first);
    assert_eq!(rows(&client, "appended").await, first);

    client
        .query("INSERT INTO src VALUES (2, 2, 'B'), (2, 3, 'c')")
        .execute()
        .await
        .unwrap();
    summarise(&runner.run(&everything, false).await).unwrap();
    assert_eq!(
        rows(&client, "merged").await,
        [
            (1, 1, "a".to_owned()),
            (2, 2, "B".to_owned()),
            (2, 3, "c".to_owned())
        ]
    );
    assert_eq!(
        rows(&client, "appended").await,
        [
            (1, 1, "a".to_owned()),
            (1, 2, "b".to_owned()),
            (2, 2, "B".to_owned()),
            (2, 3, "c".to_owned())
        ]
    );
    // Nothing new: nothing changes.
    summarise(&runner.run(&everything, false).await).unwrap();
    assert_eq!(rows(&client, "merged").await.len(), 3);
    assert_eq!(rows(&client, "appended").await.len(), 4);

    summarise(&runner.run(&everything, true).await).unwrap();
    assert_eq!(
        rows(&client, "merged").await.len(),
        4,
        "a full refresh selects every source row again"
    );
}
