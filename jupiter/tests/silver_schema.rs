//! The silver schema on the real ClickHouse: migrations apply once, and movements inserted with duplicates and
//! out of order read back deduplicated, with the newest position per session by event time.

#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use jupiter::migrations::{MIGRATIONS, migrate};
use jupiter::transform::{Enricher, Movement};
use packetpulse_model::{DeliveryEvent, DeliveryStatus, PublishedEvent};
use packetpulse_testkit::{shared_clickhouse, unique_name};
use uuid::Uuid;

fn event(session: u32, step: u32, status: DeliveryStatus) -> PublishedEvent {
    let at =
        Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap() + chrono::Duration::seconds(i64::from(step));
    PublishedEvent {
        event_id: Uuid::from_u128(u128::from(session) << 32 | u128::from(step)),
        event: DeliveryEvent {
            device_id: format!("device-{session}"),
            vehicle_id: format!("vehicle-{}", session % 2),
            session_id: format!("session-{session}"),
            order_id: format!("order-{session}"),
            status,
            timestamp: at,
            start_lat: 37.98,
            start_lon: 23.72,
            end_lat: 38.0,
            end_lon: 23.8,
            current_lat: 37.98 + f64::from(step) * 1e-4,
            current_lon: 23.72,
            seq: Some(u64::from(step)),
            speed_kmh: None,
            heading_deg: Some(0.0),
            route_name: Some("athens-01".into()),
            waypoint_count: Some(10),
        },
        received_at: at,
    }
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
    let mut rows: Vec<Movement> = events.iter().map(|e| enricher.enrich(e, 1)).collect();
    rows.extend(events.iter().rev().map(|e| enricher.enrich(e, 2)));
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
    let newest_ms = |step: u32| {
        u64::try_from(
            event(0, step, DeliveryStatus::EnRoute)
                .event
                .timestamp
                .timestamp_millis(),
        )
        .unwrap()
    };
    assert_eq!(
        latest,
        [
            ("session-0".to_owned(), newest_ms(9), "completed".to_owned()),
            ("session-1".to_owned(), newest_ms(9), "en_route".to_owned()),
            ("session-2".to_owned(), newest_ms(9), "en_route".to_owned()),
        ]
    );
    let sessions: Vec<(String, u64, u64)> = client
        .query(&format!(
            "SELECT session_id, minMerge(started_at_ms), uniqExactMerge(events) FROM {database}.sessions \
             GROUP BY session_id ORDER BY session_id"
        ))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(sessions.len(), 3);
    assert!(
        sessions
            .iter()
            .all(|(_, started, events)| *started == newest_ms(0) && *events == 10)
    );
    let orders: Vec<(String, f64)> = client
        .query(&format!(
            "SELECT order_id, duration_s FROM {database}.orders FINAL"
        ))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(orders, [("order-0".to_owned(), 9.0)]);
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
