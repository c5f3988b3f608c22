//! The silver schema on the real ClickHouse: migrations apply once, and movements inserted with duplicates and
//! out of order read back deduplicated, with the newest position per session by event time.

#![allow(clippy::unwrap_used)]

mod common;

use jupiter::migrations::{MIGRATIONS, migrate};
use jupiter::transform::{Enricher, Movement, Position};
use packetpulse_model::{DeliveryStatus, PublishedEvent};
use packetpulse_testkit::{shared_clickhouse, unique_name};

fn event(session: u32, step: u32, status: DeliveryStatus) -> PublishedEvent {
    let mut event = common::event(session, step);
    event.event.vehicle_id = format!("vehicle-{}", session % 2);
    event.event.status = status;
    event
}

#[tokio::test]
async fn migrations_apply_once_and_duplicates_and_late_events_read_back_clean() {
    let server = shared_clickhouse().unwrap();
    let database = unique_name("silver");
    let client = server.client();
    let all: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(migrate(&client, &database).await.unwrap(), all);
    assert!(
        migrate(&client, &database).await.unwrap().is_empty(),
        "second run applies nothing"
    );

    // Three sessions of 10 events; session 0 completes. Every event is sent twice, the second round in
    // reverse order (late arrivals), as a resend after a crash would.
    let mut events = Vec::new();
    for session in 0..3 {
        for step in 0..10 {
            let status = match step {
                0 => DeliveryStatus::Started,
                9 if session == 0 => DeliveryStatus::Completed,
                _ => DeliveryStatus::EnRoute,
            };
            events.push(event(session, step, status));
        }
    }
    let mut enricher = Enricher::new(200.0);
    let mut rows: Vec<Movement> = events
        .iter()
        .map(|e| enricher.enrich(e.clone(), Position::default(), 1))
        .collect();
    rows.extend(
        events
            .iter()
            .rev()
            .map(|e| enricher.enrich(e.clone(), Position::default(), 2)),
    );
    for chunk in rows.chunks(20) {
        // The crate quotes the table name as one identifier: the database goes on the client.
        let mut insert = client
            .clone()
            .with_database(&database)
            .insert::<Movement>("session_movements")
            .await
            .unwrap();
        for row in chunk {
            insert.write(row).await.unwrap();
        }
        insert.end().await.unwrap();
    }

    let count = |sql: String| {
        let client = client.clone();
        async move { client.query(&sql).fetch_one::<u64>().await.unwrap() }
    };
    assert_eq!(
        count(format!("SELECT count() FROM {database}.session_movements FINAL")).await,
        30
    );
    assert_eq!(
        count(format!(
            "SELECT uniqExact(event_id) FROM {database}.session_movements FINAL"
        ))
        .await,
        30
    );
    let latest: Vec<(String, u64, String)> = client
        .query(&format!(
            "SELECT session_id, event_time_ms, status FROM {database}.latest_positions FINAL ORDER BY session_id"
        ))
        .fetch_all()
        .await
        .unwrap();
    let time_ms = |session: u32, step: u32| {
        u64::try_from(
            event(session, step, DeliveryStatus::EnRoute)
                .event
                .timestamp
                .timestamp_millis(),
        )
        .unwrap()
    };
    let expected: Vec<(String, u64, String)> = (0..3)
        .map(|session| {
            let status = if session == 0 { "completed" } else { "en_route" };
            (
                format!("session-{session:04}"),
                time_ms(session, 9),
                status.to_owned(),
            )
        })
        .collect();
    assert_eq!(latest, expected);
    let sessions: Vec<(String, u64, u64)> = client
        .query(&format!(
            "SELECT session_id, minMerge(started_at_ms), uniqExactMerge(events) FROM {database}.sessions \
             GROUP BY session_id ORDER BY session_id"
        ))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(sessions.len(), 3);
    for (session, (_, started, events)) in (0..).zip(&sessions) {
        assert_eq!((*started, *events), (time_ms(session, 0), 10));
    }
    let orders: Vec<(String, f64)> = client
        .query(&format!(
            "SELECT order_id, duration_s FROM {database}.orders FINAL"
        ))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(orders, [("order-0000".to_owned(), 9.0)]);
    let vehicles: Vec<(String, u64)> = client
        .query(&format!(
            "SELECT vehicle_id, uniqExactMerge(total_events) FROM {database}.vehicles GROUP BY vehicle_id \
             ORDER BY vehicle_id"
        ))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        vehicles,
        [("vehicle-0".to_owned(), 20), ("vehicle-1".to_owned(), 10)]
    );
}
