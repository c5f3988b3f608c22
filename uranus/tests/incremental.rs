//! Incremental models: the first run builds the table; later runs render with `is_incremental()` true and add
//! only the new rows — appended, or merged by `unique_key` (a new row replaces the old one with its key);
//! `--full-refresh` rebuilds from scratch.

#![allow(clippy::unwrap_used)]

mod common;

use common::{SELECT_NEW, SELECT_ONE_ROW_PER_KEY, SOURCES, execute};

use packetpulse_testkit::shared_clickhouse;
use uranus::runner::summarise;

/// Active partitions of the model table `m` in `database`.
async fn partitions_of_m(client: &clickhouse::Client, database: &str) -> u64 {
    client
        .query("SELECT uniqExact(partition) FROM system.parts WHERE database = ? AND table = 'm' AND active")
        .bind(database)
        .fetch_one()
        .await
        .unwrap()
}

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
    common::create_source(&client).await;
    let everything = runner.select(&[]).unwrap();

    execute(&client, "INSERT INTO src VALUES (1, 1, 'a'), (1, 2, 'b')").await;
    summarise(&runner.run(&everything, false).await).unwrap();
    let first = vec![(1, 1, "a".to_owned()), (1, 2, "b".to_owned())];
    assert_eq!(rows(&client, "merged").await, first);
    assert_eq!(rows(&client, "appended").await, first);

    execute(&client, "INSERT INTO src VALUES (2, 2, 'B'), (2, 3, 'c')").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_merge_rewrites_only_the_partitions_its_new_rows_touch() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Partitioned by a month column `m`; key `k`.
    let model = "{{ config(materialized='incremental', unique_key='k', order_by='k', partition_by='m') }}\n\
        SELECT batch, k, m, v FROM {{ source('raw', 'src') }}\n\
        {% if is_incremental() %}WHERE batch > (SELECT max(batch) FROM {{ this }}){% endif %}";
    common::write_project(dir.path(), &[("sources.yml", SOURCES), ("by_month.sql", model)]);
    let (mut runner, database) = common::runner(clickhouse, dir.path()).await;
    let client = clickhouse.client().with_database(&database);
    execute(
        &client,
        "CREATE TABLE src (batch UInt32, k UInt32, m UInt32, v String) ENGINE = MergeTree() ORDER BY k",
    )
    .await;
    let everything = runner.select(&[]).unwrap();
    // Three months of keys.
    execute(
        &client,
        "INSERT INTO src SELECT 1, number, 202609 + intDiv(number, 100), 'a' FROM system.numbers LIMIT 300",
    )
    .await;
    summarise(&runner.run(&everything, false).await).unwrap();
    let parts = || async {
        client
            .query(&format!(
                "SELECT partition, name FROM system.parts WHERE database = '{database}' AND table = 'by_month' \
                 AND active ORDER BY partition, name"
            ))
            .fetch_all::<(String, String)>()
            .await
            .unwrap()
    };
    let before = parts().await;

    // New versions of two keys of the newest month, and one key that moves from the first month to it.
    execute(
        &client,
        "INSERT INTO src VALUES (2, 250, 202611, 'B'), (2, 260, 202611, 'B'), (2, 5, 202611, 'moved')",
    )
    .await;
    summarise(&runner.run(&everything, false).await).unwrap();
    let after = parts().await;
    let month = |parts: &[(String, String)], m: &str| -> Vec<String> {
        parts
            .iter()
            .filter(|(p, _)| p == m)
            .map(|(_, n)| n.clone())
            .collect()
    };
    assert_eq!(
        month(&after, "202610"),
        month(&before, "202610"),
        "an untouched month is not rewritten"
    );
    assert_ne!(month(&after, "202611"), month(&before, "202611"));
    assert_ne!(
        month(&after, "202609"),
        month(&before, "202609"),
        "the moved key's old month is rewritten"
    );

    let rows: Vec<(u32, u32, String)> = client
        .query("SELECT k, m, v FROM by_month WHERE k IN (5, 250, 260) ORDER BY k")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            (5, 202611, "moved".to_owned()),
            (250, 202611, "B".to_owned()),
            (260, 202611, "B".to_owned())
        ]
    );
    let (rows, keys): (u64, u64) = client
        .query("SELECT count(), uniqExact(k) FROM by_month")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((rows, keys), (300, 300));

    // A key alone in its month moves away: that month's partition is emptied, not left with the old row.
    execute(&client, "INSERT INTO src VALUES (3, 999, 202612, 'alone')").await;
    summarise(&runner.run(&everything, false).await).unwrap();
    execute(&client, "INSERT INTO src VALUES (4, 999, 202611, 'back')").await;
    summarise(&runner.run(&everything, false).await).unwrap();
    let (rows, keys, december): (u64, u64, u64) = client
        .query("SELECT count(), uniqExact(k), countIf(m = 202612) FROM by_month")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((rows, keys, december), (301, 301, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_whose_model_definition_changed_is_rebuilt_whole_once() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = |config: &str| {
        format!(
            "{{{{ config(materialized='incremental', unique_key='k', order_by='k'{config}) }}}}\n{SELECT_ONE_ROW_PER_KEY}"
        )
    };
    common::write_project(dir.path(), &[("sources.yml", SOURCES), ("m.sql", &model(""))]);
    let (mut runner, database) = common::runner(clickhouse, dir.path()).await;
    let client = clickhouse.client().with_database(&database);
    common::create_source(&client).await;
    execute(
        &client,
        "INSERT INTO src SELECT 1, number, 'a' FROM system.numbers LIMIT 100",
    )
    .await;
    summarise(&runner.run(&runner.select(&[]).unwrap(), false).await).unwrap();

    common::write_project(dir.path(), &[("m.sql", &model(", partition_by='k % 4'"))]);
    let project = uranus::project::Project::load(dir.path(), &database).unwrap();
    let mut runner = uranus::runner::Runner::new(client.clone(), &database, project).unwrap();
    execute(&client, "INSERT INTO src VALUES (2, 7, 'b')").await;
    let results = runner.run(&runner.select(&[]).unwrap(), false).await;
    summarise(&results).unwrap();
    assert!(
        matches!(
            results[0].outcome,
            uranus::runner::Outcome::Built { copied: None, .. }
        ),
        "rebuilt whole, not merged: {:?}",
        results[0].outcome
    );
    let partitions = partitions_of_m(&client, &database).await;
    assert_eq!(partitions, 4);
    let (rows, b): (u64, u64) = client
        .query("SELECT count(), countIf(v = 'b') FROM m")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((rows, b), (100, 1));

    // From now on it is merged, partition by partition.
    execute(&client, "INSERT INTO src VALUES (3, 8, 'c')").await;
    let results = runner.run(&runner.select(&[]).unwrap(), false).await;
    summarise(&results).unwrap();
    assert!(
        matches!(
            results[0].outcome,
            uranus::runner::Outcome::Built { copied: Some(24), .. }
        ),
        "merged, copying the rest of key 8's partition: {:?}",
        results[0].outcome
    );

    // Another partitioning and a new column: rebuilt whole once more, then merged again.
    let with_column =
        SELECT_ONE_ROW_PER_KEY.replacen("argMax(v, b) AS v", "argMax(v, b) AS v, upper(v) AS shout", 1);
    let model = format!(
        "{{{{ config(materialized='incremental', unique_key='k', order_by='k', partition_by='k % 2') }}}}\n{with_column}"
    );
    common::write_project(dir.path(), &[("m.sql", &model)]);
    let project = uranus::project::Project::load(dir.path(), &database).unwrap();
    let mut runner = uranus::runner::Runner::new(client.clone(), &database, project).unwrap();
    for (batch, copied) in [(4, None), (5, Some(49))] {
        execute(&client, &format!("INSERT INTO src VALUES ({batch}, 9, 'd')")).await;
        let results = runner.run(&runner.select(&[]).unwrap(), false).await;
        summarise(&results).unwrap();
        match &results[0].outcome {
            uranus::runner::Outcome::Built { copied: got, .. } => {
                assert_eq!(
                    *got, copied,
                    "batch {batch}: rebuilt (None) or merged (copied rows)"
                );
            }
            other => panic!("batch {batch}: {other:?}"),
        }
    }
    let partitions = partitions_of_m(&client, &database).await;
    let (rows, shouted): (u64, u64) = client
        .query("SELECT count(), countIf(shout = upper(v)) FROM m")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((rows, partitions, shouted), (100, 2, 100));
}
