//! The ClickHouse 26 engine behind its HTTP front speaks what the `clickhouse` crate sends: statements with a
//! default database, streamed RowBinary inserts (LZ4-compressed, the crate's default, and plain), RowBinary
//! results, and errors as ClickHouse's text with its code.

#![allow(clippy::unwrap_used)]

use packetpulse_testkit::{ClickHouseEngine, shared_modern_clickhouse};

#[derive(Debug, PartialEq, clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct Point {
    id: u32,
    name: String,
    speed: Option<f64>,
}

#[tokio::test]
async fn inserts_and_queries_round_trip_and_errors_keep_their_code() {
    let server = shared_modern_clickhouse().unwrap();
    assert_eq!(server.engine(), ClickHouseEngine::Chdb);
    assert_eq!(server.tcp_port(), None);
    let (_database, client) = server.fresh_database().await.unwrap();
    client
        .query("CREATE TABLE points (id UInt32, name String, speed Nullable(Float64)) ENGINE = MergeTree ORDER BY id")
        .execute()
        .await
        .unwrap();
    let version: String = client.query("SELECT version()").fetch_one().await.unwrap();
    assert!(version.starts_with("26."), "{version}");

    let rows: Vec<Point> = (0..5_000)
        .map(|id| Point {
            id,
            name: format!("vehicle-{id} → depot 'O\"Brien'"),
            speed: (id % 3 != 0).then_some(f64::from(id) / 7.0),
        })
        .collect();
    for (client, part) in [
        (client.clone(), &rows[..2_500]),
        (
            client.clone().with_compression(clickhouse::Compression::None),
            &rows[2_500..],
        ),
    ] {
        let mut insert = client.insert::<Point>("points").await.unwrap();
        for row in part {
            insert.write(row).await.unwrap();
        }
        insert.end().await.unwrap();
    }
    let back: Vec<Point> = client
        .query("SELECT id, name, speed FROM points WHERE id >= ? ORDER BY id")
        .bind(0)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(back, rows);

    let error = client
        .query("SELECT * FROM no_such_table")
        .fetch_all::<Point>()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("Code: 60") && error.contains("no_such_table"),
        "{error}"
    );
}
