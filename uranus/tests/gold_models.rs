//! The gold models compute the right numbers. Four sessions with known routes and timings go through Jupiter's
//! own enrichment into real silver tables; the project in `uranus/dbt` runs against them; every model's rows are
//! compared with values computed by hand (below, from the haversine formula with R = 6,371,008.8 m):
//! - S1 (vehicle V1): 08:00:00 → 08:01:00 → 08:02:00, two steps of 0.01° latitude north, completed:
//!   2 × 1,111.951 m = 2.223902 km in 120 s = 66.717 km/h.
//! - S2 (V1): 09:00:00, +0.01° longitude at 38° N (876.229 m) at 09:00:30, +0.01° latitude (1,111.951 m) at
//!   10:00:30, completed: 1.988180 km in 3,630 s — late (over 45 minutes).
//! - S4 (V2): 10:00:00, a jump of 1° latitude (111 km) 30 s later — flagged as a teleport, not counted — then
//!   +0.01° longitude at 38.98° N (864.392 m) at 10:01:00, completed: 0.864392 km in 60 s.
//! - S3 (V2): still driving: started 120 s ago, 0.01° north 60 s later, 0.01° short of its drop-off.
//!
//! All on 2026-11-20 (a Friday, ISO week of Monday 2026-11-16) except S3, which is now.

#![allow(clippy::unwrap_used, clippy::float_cmp)]

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use jupiter::testing::SilverSeeder;
use packetpulse_model::{DeliveryEvent, DeliveryStatus, PublishedEvent, testing};
use packetpulse_testkit::shared_clickhouse;
use uranus::project::Project;
use uranus::runner::{Runner, summarise};

const S1_KM: f64 = 2.223_902;
const S2_KM: f64 = 1.988_180;
const S4_KM: f64 = 0.864_392;
const STEP_KM: f64 = 1.111_951;

fn at(hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, hour, minute, second).unwrap()
}

fn event(
    session: &str,
    vehicle: &str,
    status: DeliveryStatus,
    time: DateTime<Utc>,
    (lat, lon): (f64, f64),
    end: (f64, f64),
) -> PublishedEvent {
    PublishedEvent {
        event_id: uuid::Uuid::new_v4(),
        ..testing::published(DeliveryEvent {
            device_id: format!("device-{vehicle}"),
            vehicle_id: vehicle.to_owned(),
            session_id: session.to_owned(),
            order_id: format!("order-{session}"),
            status,
            timestamp: time,
            end_lat: end.0,
            end_lon: end.1,
            current_lat: lat,
            current_lon: lon,
            route_name: Some("athens-test".to_owned()),
            ..testing::event()
        })
    }
}

fn fleet(now: DateTime<Utc>) -> Vec<PublishedEvent> {
    use DeliveryStatus::{Completed, EnRoute, Started};
    let s3_start = now - chrono::Duration::seconds(120);
    vec![
        event("S1", "V1", Started, at(8, 0, 0), (37.98, 23.72), (38.0, 23.72)),
        event("S1", "V1", EnRoute, at(8, 1, 0), (37.99, 23.72), (38.0, 23.72)),
        event("S1", "V1", Completed, at(8, 2, 0), (38.00, 23.72), (38.0, 23.72)),
        event("S2", "V1", Started, at(9, 0, 0), (38.00, 23.72), (38.01, 23.73)),
        event("S2", "V1", EnRoute, at(9, 0, 30), (38.00, 23.73), (38.01, 23.73)),
        event(
            "S2",
            "V1",
            Completed,
            at(10, 0, 30),
            (38.01, 23.73),
            (38.01, 23.73),
        ),
        event("S4", "V2", Started, at(10, 0, 0), (37.98, 23.72), (38.98, 23.73)),
        event("S4", "V2", EnRoute, at(10, 0, 30), (38.98, 23.72), (38.98, 23.73)),
        event(
            "S4",
            "V2",
            Completed,
            at(10, 1, 0),
            (38.98, 23.73),
            (38.98, 23.73),
        ),
        event("S3", "V2", Started, s3_start, (37.98, 23.72), (38.0, 23.72)),
        event(
            "S3",
            "V2",
            EnRoute,
            s3_start + chrono::Duration::seconds(60),
            (37.99, 23.72),
            (38.0, 23.72),
        ),
    ]
}

fn assert_close(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-3 * expected.abs().max(1.0),
        "{what}: {actual}, expected {expected}"
    );
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct SessionSummary {
    session_id: String,
    vehicle_id: String,
    duration_s: f64,
    distance_km: f64,
    avg_speed_kmh: f64,
    status: String,
    events: u64,
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct Kpi {
    period: String,
    period_start: u16,
    sessions_completed: u64,
    avg_duration_s: f64,
    total_distance_km: f64,
    avg_speed_kmh: f64,
    on_time_rate: f64,
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct Fleet {
    vehicle_id: String,
    active: u8,
    trips: u64,
    completed_trips: u64,
    total_km: f64,
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct Active {
    session_id: String,
    status: String,
    distance_to_destination_km: f64,
    elapsed_s: f64,
    distance_travelled_km: f64,
    avg_speed_kmh: f64,
    eta_s: Option<u64>,
}

/// Days since 1970-01-01, as ClickHouse's `Date` travels.
fn day(date: chrono::NaiveDate) -> u16 {
    u16::try_from((date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gold_model_equals_the_hand_computed_values() {
    let clickhouse = shared_clickhouse().unwrap();
    let (database, client) = clickhouse.fresh_database().await.unwrap();
    let now = Utc::now();
    let events = fleet(now);
    let mut events_per_hour = EventsPerHour::default();
    events_per_hour.count(&events);
    let mut silver = SilverSeeder::new(&client, &database).await;
    silver.insert(events, now - chrono::Duration::minutes(10)).await;

    let project = Project::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dbt"),
        &database,
    )
    .unwrap();
    let mut runner = Runner::new(client.clone(), &database, project).unwrap();
    summarise(&runner.run(&runner.select(&[]).unwrap(), false).await).unwrap();
    // The project's own schema.yml tests hold on this data.
    let tests = uranus::data_tests::collect(runner.project(), &Default::default());
    assert!(tests.len() >= 10, "{tests:?}");
    let outcomes = uranus::data_tests::run(&client, &database, tests).await;
    uranus::data_tests::summarise(&outcomes).unwrap();
    let client = client.with_database(&database);

    let sessions: Vec<SessionSummary> = client
        .query("SELECT session_id, vehicle_id, toFloat64(duration_s), distance_km, avg_speed_kmh, status, events FROM session_summary ORDER BY session_id")
        .fetch_all()
        .await
        .unwrap();
    let expected = [
        ("S1", "V1", 120.0, S1_KM, "completed", 3),
        ("S2", "V1", 3_630.0, S2_KM, "completed", 3),
        ("S3", "V2", 60.0, STEP_KM, "en_route", 2),
        ("S4", "V2", 60.0, S4_KM, "completed", 3),
    ];
    assert_eq!(sessions.len(), expected.len(), "{sessions:?}");
    for (row, (id, vehicle, duration, km, status, events)) in sessions.iter().zip(expected) {
        assert_eq!(
            (
                row.session_id.as_str(),
                row.vehicle_id.as_str(),
                row.status.as_str(),
                row.events
            ),
            (id, vehicle, status, events)
        );
        assert_close(&format!("{id} duration"), row.duration_s, duration);
        assert_close(&format!("{id} distance"), row.distance_km, km);
        assert_close(
            &format!("{id} speed"),
            row.avg_speed_kmh,
            km / (duration / 3_600.0),
        );
    }

    let kpis: Vec<Kpi> = client
        .query("SELECT period, toUInt16(period_start), sessions_completed, avg_duration_s, total_distance_km, avg_speed_kmh, on_time_rate FROM kpi_aggregates ORDER BY period, period_start")
        .fetch_all()
        .await
        .unwrap();
    let total_km = S1_KM + S2_KM + S4_KM;
    let friday = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let expected_periods = [
        ("day", day(friday)),
        (
            "month",
            day(chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()),
        ),
        (
            "week",
            day(chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()),
        ),
    ];
    assert_eq!(kpis.len(), 3, "{kpis:?}");
    for (row, (period, start)) in kpis.iter().zip(expected_periods) {
        assert_eq!(
            (row.period.as_str(), row.period_start, row.sessions_completed),
            (period, start, 3)
        );
        assert_close(
            "average duration",
            row.avg_duration_s,
            (120.0 + 3_630.0 + 60.0) / 3.0,
        );
        assert_close("total distance", row.total_distance_km, total_km);
        assert_close("average speed", row.avg_speed_kmh, total_km / (3_810.0 / 3_600.0));
        assert_close("on-time rate", row.on_time_rate, 2.0 / 3.0);
    }

    let fleet: Vec<Fleet> = client
        .query("SELECT vehicle_id, toUInt8(active), trips, completed_trips, total_km FROM fleet_summary ORDER BY vehicle_id")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(fleet.len(), 2, "{fleet:?}");
    assert_eq!(
        (
            fleet[0].vehicle_id.as_str(),
            fleet[0].active,
            fleet[0].trips,
            fleet[0].completed_trips
        ),
        ("V1", 0, 2, 2)
    );
    assert_close("V1 km", fleet[0].total_km, S1_KM + S2_KM);
    assert_eq!(
        (
            fleet[1].vehicle_id.as_str(),
            fleet[1].active,
            fleet[1].trips,
            fleet[1].completed_trips
        ),
        ("V2", 1, 2, 1)
    );
    assert_close("V2 km", fleet[1].total_km, STEP_KM + S4_KM);

    let daily = common::vehicle_daily(&client).await;
    let friday = day(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
    let s3_day = day((now - chrono::Duration::seconds(120)).date_naive());
    let expected_daily = [
        (friday, "V1", 2, 2, S1_KM + S2_KM, 3_750.0),
        (friday, "V2", 1, 1, S4_KM, 60.0),
        (s3_day, "V2", 1, 0, STEP_KM, 60.0),
    ];
    assert_eq!(daily.len(), expected_daily.len(), "{daily:?}");
    for (row, (day, vehicle, trips, completed, km, seconds)) in daily.iter().zip(expected_daily) {
        assert_eq!(
            (row.day, row.vehicle_id.as_str(), row.trips, row.completed),
            (day, vehicle, trips, completed)
        );
        assert_close(&format!("{vehicle} km on day {day}"), row.distance_km, km);
        assert_close(&format!("{vehicle} driving on day {day}"), row.driving_s, seconds);
    }

    assert_eq!(hourly(&client).await, events_per_hour.expected());

    let active: Vec<Active> = client
        .query("SELECT session_id, status, distance_to_destination_km, toFloat64(elapsed_s), distance_travelled_km, avg_speed_kmh, eta_s FROM active_sessions")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    let s3 = &active[0];
    assert_eq!((s3.session_id.as_str(), s3.status.as_str()), ("S3", "en_route"));
    assert_close(
        "S3 distance to destination",
        s3.distance_to_destination_km,
        STEP_KM,
    );
    assert_close("S3 distance travelled", s3.distance_travelled_km, STEP_KM);
    assert_close("S3 speed", s3.avg_speed_kmh, STEP_KM / (60.0 / 3_600.0));
    // Same distance left as driven in 60 s, at the same speed.
    assert!(s3.eta_s.is_some_and(|eta| (59..=61).contains(&eta)), "{s3:?}");
    assert!((119.0..=180.0).contains(&s3.elapsed_s), "{s3:?}");

    // An incremental refresh: S3 reaches its drop-off (still en route), S5 starts. Only sessions with new rows
    // are recomputed; the results are what a full build would give.
    let s3_third = event(
        "S3",
        "V2",
        DeliveryStatus::EnRoute,
        now,
        (38.00, 23.72),
        (38.0, 23.72),
    );
    let s5 = event(
        "S5",
        "V3",
        DeliveryStatus::Started,
        at(11, 0, 0),
        (37.98, 23.72),
        (38.0, 23.72),
    );
    let more = vec![s3_third, s5];
    events_per_hour.count(&more);
    silver.insert(more, Utc::now()).await;
    summarise(&runner.run(&runner.select(&[]).unwrap(), false).await).unwrap();
    let sessions: Vec<SessionSummary> = client
        .query("SELECT session_id, vehicle_id, toFloat64(duration_s), distance_km, avg_speed_kmh, status, events FROM session_summary ORDER BY session_id")
        .fetch_all()
        .await
        .unwrap();
    let ids: Vec<&str> = sessions.iter().map(|s| s.session_id.as_str()).collect();
    assert_eq!(ids, ["S1", "S2", "S3", "S4", "S5"]);
    assert_eq!(sessions[2].events, 3);
    assert_close(
        "S3 distance after the refresh",
        sessions[2].distance_km,
        2.0 * STEP_KM,
    );
    assert_close("S1 distance after the refresh", sessions[0].distance_km, S1_KM);
    common::assert_vehicle_daily_is_a_fresh_grouping(&client).await;
    assert_eq!(hourly(&client).await, events_per_hour.expected());

    // Jupiter closes S5 as abandoned (offline, then abandoned: two alerts, no new movement). The next refresh
    // marks it abandoned, it leaves the sessions under way, and the alerts are counted per day and vehicle.
    client
        .query(
            "INSERT INTO alerts (alert_id, kind, session_id, vehicle_id, geofence_id, trigger_event_id, at, at_ms, \
             lat, lon, message, detected_at_ms) VALUES \
             ('a-1', 'offline', 'S5', 'V3', '', 'e', toDateTime('2026-11-20 11:02:00', 'UTC'), 1, 0, 0, '', ?), \
             ('a-2', 'abandoned', 'S5', 'V3', '', 'e', toDateTime('2026-11-20 13:00:00', 'UTC'), 2, 0, 0, '', ?)",
        )
        .bind(now_ms())
        .bind(now_ms())
        .execute()
        .await
        .unwrap();
    summarise(&runner.run(&runner.select(&[]).unwrap(), false).await).unwrap();
    let status: String = client
        .query("SELECT status FROM session_summary WHERE session_id = 'S5'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(status, "abandoned");
    let active: Vec<String> = client
        .query("SELECT session_id FROM active_sessions ORDER BY session_id")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(active, ["S3"]);
    let daily: Vec<(u16, String, String, u64, u64)> = client
        .query("SELECT toUInt16(day), vehicle_id, kind, alerts, sessions FROM alert_daily ORDER BY kind")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        daily,
        [
            (friday, "V3".to_owned(), "abandoned".to_owned(), 1, 1),
            (friday, "V3".to_owned(), "offline".to_owned(), 1, 1),
        ]
    );
}

/// An event of `session` `seconds` after 08:00 reporting `speed_kmh` (a device's own speed, kept by Jupiter).
fn at_speed(session: &str, seconds: i64, speed_kmh: f64) -> PublishedEvent {
    let mut event = event(
        session,
        &format!("V-{session}"),
        DeliveryStatus::EnRoute,
        at(8, 0, 0) + chrono::Duration::seconds(seconds),
        (37.98, 23.72 + seconds as f64 * 1e-4),
        (38.0, 23.8),
    );
    event.event.speed_kmh = Some(speed_kmh);
    event
}

#[derive(Debug, PartialEq, serde::Deserialize, clickhouse::Row)]
struct Stops {
    session_id: String,
    started: Vec<u64>,
    ended: Vec<u64>,
    lon: Vec<f64>,
}

/// Stops (what the dashboard's stops report reads) run from a session's first point under 2 km/h until it moves
/// again, or until its last point; a session that never stood still has none. Points arrive out of order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_last_from_the_first_still_point_until_the_vehicle_moves() {
    let clickhouse = shared_clickhouse().unwrap();
    let (database, client) = clickhouse.fresh_database().await.unwrap();
    let speeds: [(&str, &[(i64, f64)]); 3] = [
        // Still at 60 (and 120, under 2 km/h) until it moves at 240; again at 300 until 330.
        (
            "A",
            &[
                (0, 40.0),
                (60, 0.0),
                (120, 1.0),
                (240, 30.0),
                (300, 0.0),
                (330, 50.0),
            ],
        ),
        // Still from its first point to its last.
        ("B", &[(200, 0.0), (0, 0.0), (100, 1.9)]),
        ("C", &[(0, 30.0), (500, 2.0)]),
    ];
    let events: Vec<PublishedEvent> = speeds
        .iter()
        .flat_map(|(session, points)| {
            points
                .iter()
                .map(|(seconds, speed)| at_speed(session, *seconds, *speed))
        })
        .collect();
    let mut silver = SilverSeeder::new(&client, &database).await;
    silver.insert(events, Utc::now()).await;
    let project = Project::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dbt"),
        &database,
    )
    .unwrap();
    let mut runner = Runner::new(client.clone(), &database, project).unwrap();
    summarise(
        &runner
            .run(&runner.select(&["session_summary".to_owned()]).unwrap(), false)
            .await,
    )
    .unwrap();

    let rows: Vec<Stops> = client
        .with_database(&database)
        .query(
            "SELECT session_id, stop_started_at_ms, stop_ended_at_ms, stop_lon FROM session_summary \
             ORDER BY session_id",
        )
        .fetch_all()
        .await
        .unwrap();
    let ms = |seconds: i64| {
        u64::try_from((at(8, 0, 0) + chrono::Duration::seconds(seconds)).timestamp_millis()).unwrap()
    };
    let lon = |seconds: i64| 23.72 + seconds as f64 * 1e-4;
    let expected = [
        ("A", vec![(60, 240), (300, 330)]),
        ("B", vec![(0, 200)]),
        ("C", vec![]),
    ];
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for (row, (session, stops)) in rows.iter().zip(expected) {
        assert_eq!(row.session_id, session);
        let started: Vec<u64> = stops.iter().map(|(start, _)| ms(*start)).collect();
        let ended: Vec<u64> = stops.iter().map(|(_, end)| ms(*end)).collect();
        assert_eq!((&row.started, &row.ended), (&started, &ended), "{session}");
        for (actual, (start, _)) in row.lon.iter().zip(&stops) {
            assert_close(&format!("{session} stop at {start} s"), *actual, lon(*start));
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap()
}

/// Events and distinct sessions per hour of event time, counted from the events sent.
#[derive(Default)]
struct EventsPerHour(BTreeMap<i64, (u64, std::collections::BTreeSet<String>)>);

impl EventsPerHour {
    fn count(&mut self, events: &[PublishedEvent]) {
        for event in events {
            let hour = event.event.timestamp.timestamp().div_euclid(3600) * 3600;
            let entry = self.0.entry(hour).or_default();
            entry.0 += 1;
            entry.1.insert(event.event.session_id.clone());
        }
    }

    fn expected(&self) -> Vec<(u32, u64, u64)> {
        self.0
            .iter()
            .map(|(hour, (events, sessions))| (u32::try_from(*hour).unwrap(), sessions.len() as u64, *events))
            .collect()
    }
}

async fn hourly(client: &clickhouse::Client) -> Vec<(u32, u64, u64)> {
    client
        .query("SELECT toUInt32(hour), sessions, events FROM hourly_activity ORDER BY hour")
        .fetch_all()
        .await
        .unwrap()
}
