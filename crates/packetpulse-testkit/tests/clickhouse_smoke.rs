//! The `clickhouse` crate against the real server: create a table, insert 100k rows, read them back exactly.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

use clickhouse::Row;
use packetpulse_testkit::shared_clickhouse;
use serde::{Deserialize, Serialize};

const ROWS: u64 = 100_000;

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
struct Movement {
    id: u64,
    session_id: String,
    lat: f64,
    lon: f64,
}

fn movement(id: u64) -> Movement {
    Movement {
        id,
        session_id: format!("session-{}", id % 1000),
        lat: 37.9 + id as f64 * 1e-6,
        lon: 23.7,
    }
}

#[tokio::test]
async fn inserts_100k_rows_and_reads_them_back() {
    let server =
        shared_clickhouse().expect("ClickHouse must be available: the smoke test needs the real server");
    let (_database, client) = server.fresh_database().await.unwrap();
    client
        .query(
            "CREATE TABLE movements (id UInt64, session_id String, lat Float64, lon Float64) \
             ENGINE = MergeTree ORDER BY id",
        )
        .execute()
        .await
        .unwrap();

    let mut insert = client.insert::<Movement>("movements").await.unwrap();
    for id in 0..ROWS {
        insert.write(&movement(id)).await.unwrap();
    }
    insert.end().await.unwrap();

    let (count, sum, sessions) = client
        .query("SELECT count(), sum(id), uniqExact(session_id) FROM movements")
        .fetch_one::<(u64, u64, u64)>()
        .await
        .unwrap();
    assert_eq!((count, sum, sessions), (ROWS, ROWS * (ROWS - 1) / 2, 1000));

    let rows = client
        .query("SELECT ?fields FROM movements WHERE id >= ? ORDER BY id LIMIT 3")
        .bind(99_997_u64)
        .fetch_all::<Movement>()
        .await
        .unwrap();
    assert_eq!(rows, [movement(99_997), movement(99_998), movement(99_999)]);
}

#[tokio::test]
async fn a_bad_query_is_an_error_with_the_servers_message() {
    let server = shared_clickhouse().expect("ClickHouse must be available");
    let error = server
        .client()
        .query("SELECT * FROM no_such_table")
        .fetch_all::<u8>()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no_such_table"), "{error}");
}
