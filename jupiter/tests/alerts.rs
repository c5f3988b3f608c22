//! Alerts end to end on the real broker and ClickHouse: a fleet drives through a geofence, speeds, stands still
//! and goes silent while 200 other vehicles drive ordinary trips. Exactly the expected alerts — by id, derived
//! from the triggering events — reach the `alerts` topic and silver's `alerts` table, with Jupiter killed
//! (SIGKILL) and restarted while it works through the stream. And a geofence published while Jupiter runs is
//! in force within 5 s.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::TimeZone;
use common::{InProcess, produce, test_config};
use jupiter::Config;
use packetpulse_model::{
    Alert, AlertKind, DeliveryEvent, DeliveryStatus, GeoPoint, Geofence, GeofenceShape, PublishedEvent,
    alert_id, testing,
};
use packetpulse_testkit::{Kafka, shared_clickhouse, shared_kafka, wait_until};
use rdkafka::producer::{FutureProducer, FutureRecord};
use uuid::Uuid;

/// Seconds of event time every trip lasts (one event per second).
const TRIP_S: u32 = 400;
/// Vehicles driving ordinary trips around the ones that raise alerts.
const FILLER: u32 = 200;
const DEPOT: GeoPoint = GeoPoint {
    lat: 37.98,
    lon: 23.73,
};

fn depot() -> Geofence {
    Geofence {
        id: "depot".into(),
        name: "Depot".into(),
        shape: GeofenceShape::Circle {
            center: DEPOT,
            radius_m: 300.0,
        },
        vehicles: None,
    }
}

/// One trip's event at second `t`: where, how fast; `None` when the vehicle sends nothing then.
type Script = fn(u32) -> Option<(GeoPoint, f64)>;

/// North through the depot at 20 km/h (5.56 m/s), inside from about t = 97 to t = 203.
fn through_the_depot(t: u32) -> Option<(GeoPoint, f64)> {
    let metres = (f64::from(t) - 150.0) * 20.0 / 3.6;
    Some((GeoPoint::new(DEPOT.lat + metres / 111_195.0, DEPOT.lon), 20.0))
}

/// Far from the depot; 100 km/h from t = 50 to t = 120.
fn speeding(t: u32) -> Option<(GeoPoint, f64)> {
    let kmh = if (50..120).contains(&t) { 100.0 } else { 40.0 };
    Some((away(1, t), kmh))
}

/// Standing still (0 km/h, en route) from t = 100 to t = 300.
fn standing(t: u32) -> Option<(GeoPoint, f64)> {
    let kmh = if (100..300).contains(&t) { 0.0 } else { 30.0 };
    Some((away(2, t), kmh))
}

/// Nothing after t = 60.
fn going_silent(t: u32) -> Option<(GeoPoint, f64)> {
    (t <= 60).then(|| (away(3, t), 30.0))
}

fn ordinary(t: u32) -> Option<(GeoPoint, f64)> {
    Some((away(4, t), 40.0))
}

/// A point kilometres from the depot, drifting slowly.
fn away(lane: u32, t: u32) -> GeoPoint {
    GeoPoint::new(38.1 + f64::from(lane) * 0.01, 23.9 + f64::from(t) * 1e-5)
}

fn event_id(session: u32, t: u32) -> Uuid {
    Uuid::from_u128(0xa1e7_0000_0000_0000_0000_0000_0000_0000 | u128::from(session) << 32 | u128::from(t))
}

fn event(session: u32, t: u32, point: GeoPoint, kmh: f64, last: bool) -> PublishedEvent {
    let status = match t {
        0 => DeliveryStatus::Started,
        _ if last => DeliveryStatus::Completed,
        _ => DeliveryStatus::EnRoute,
    };
    let at = chrono::Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap()
        + chrono::Duration::seconds(i64::from(t))
        + chrono::Duration::milliseconds(i64::from(session));
    PublishedEvent {
        event_id: event_id(session, t),
        ..testing::published(DeliveryEvent {
            device_id: format!("device-{session}"),
            vehicle_id: format!("vehicle-{session}"),
            session_id: format!("trip-{session:04}"),
            order_id: format!("order-{session:04}"),
            status,
            timestamp: at,
            current_lat: point.lat,
            current_lon: point.lon,
            speed_kmh: Some(kmh),
            seq: Some(u64::from(t)),
            ..testing::event()
        })
    }
}

/// The fleet's events, second by second across vehicles (as a live fleet sends them): sessions 0–3 are the
/// scripted ones, the rest ordinary. Every trip but the silent one completes at its last second.
fn fleet() -> Vec<PublishedEvent> {
    let scripts: Vec<Script> = [through_the_depot, speeding, standing, going_silent]
        .into_iter()
        .chain(std::iter::repeat_n(ordinary as Script, FILLER as usize))
        .collect();
    let mut events = Vec::new();
    for t in 0..TRIP_S {
        for (session, script) in scripts.iter().enumerate() {
            if let Some((point, kmh)) = script(t) {
                events.push(event(session as u32, t, point, kmh, t == TRIP_S - 1));
            }
        }
    }
    events
}

/// The alerts the fleet must raise, by id, with the thresholds of [`alert_flags`].
fn expected() -> BTreeMap<Uuid, (AlertKind, String)> {
    let id = |kind, session: u32, geofence: &str, t: u32| {
        let session_id = format!("trip-{session:04}");
        (
            alert_id(kind, &session_id, geofence, event_id(session, t)),
            (kind, session_id),
        )
    };
    let inside = |t: u32| depot().shape.contains(through_the_depot(t).unwrap().0);
    let entered = (1..TRIP_S).find(|&t| inside(t)).unwrap();
    let left = (entered..TRIP_S).find(|&t| !inside(t)).unwrap();
    BTreeMap::from([
        id(AlertKind::GeofenceEnter, 0, "depot", entered),
        id(AlertKind::GeofenceExit, 0, "depot", left),
        // Above 90 km/h from t = 50: 30 s held at t = 80.
        id(AlertKind::Overspeed, 1, "", 80),
        // Still from t = 100: more than 2 min at t = 221.
        id(AlertKind::Idle, 2, "", 221),
        // Last heard at t = 60.
        id(AlertKind::Offline, 3, "", 60),
        id(AlertKind::Abandoned, 3, "", 60),
    ])
}

/// Thresholds shortened so a 400 s trip shows every rule.
fn alert_flags() -> Vec<(&'static str, String)> {
    vec![
        ("--idle-for", "2m".into()),
        ("--offline-after", "60s".into()),
        ("--abandoned-after", "5m".into()),
    ]
}

async fn publish_geofence(kafka: &Kafka, topic: &str, id: &str, fence: Option<&Geofence>) {
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let payload = fence.map(|fence| serde_json::to_vec(fence).unwrap());
    let mut record = FutureRecord::<str, [u8]>::to(topic).key(id);
    if let Some(payload) = &payload {
        record = record.payload(payload);
    }
    producer.send(record, Duration::from_secs(10)).await.unwrap();
}

fn alerts_in_topic(kafka: &Kafka, config: &Config, at_least: usize) -> Vec<Alert> {
    kafka
        .read_topic(
            &config.alerts.alerts_topic,
            at_least,
            Duration::from_secs(2),
            Duration::from_secs(120),
        )
        .unwrap()
        .iter()
        .map(|message| serde_json::from_slice(rdkafka::Message::payload(message).unwrap()).unwrap())
        .collect()
}

async fn alerts_in_silver(config: &Config) -> Vec<(String, String, String)> {
    config
        .silver_client()
        .query("SELECT alert_id, kind, session_id FROM alerts FINAL ORDER BY alert_id")
        .fetch_all()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_raises_exactly_the_expected_alerts_once_each_through_kills() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-alerts", 3).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    kafka
        .create_topic(&config.alerts.geofences_topic, 1)
        .await
        .unwrap();
    publish_geofence(kafka, &config.alerts.geofences_topic, "depot", Some(&depot())).await;
    let events = fleet();
    produce(kafka, &topic, &events, None).await;

    let dir = tempfile::tempdir().unwrap();
    // Small batches, so the kills land between many commits.
    let mut extra = vec![("--flush-rows", "2000".to_owned())];
    extra.extend(alert_flags());
    let mut jupiter = common::start_binary(&config, "jupiter-alerts-test", extra, dir.path());
    let client = config.silver_client();
    let stored = || {
        let client = client.clone();
        async move {
            client
                .query("SELECT uniqExact(event_id) FROM session_movements")
                .fetch_one::<u64>()
                .await
                .unwrap_or(0)
        }
    };
    // Kill whenever another quarter of the stream is in silver, three times.
    let total = events.len() as u64;
    for quarter in 1..=3 {
        wait_until(
            &format!("{quarter}/4 of the events in silver"),
            Duration::from_secs(180),
            || async { Ok::<_, String>((stored().await >= total * quarter / 4).then_some(())) },
        )
        .await
        .unwrap();
        jupiter.kill();
        jupiter.restart().unwrap();
    }
    let expected = expected();
    wait_until(
        "every event and alert in silver",
        Duration::from_secs(180),
        || async {
            let alerts = alerts_in_silver(&config).await.len();
            Ok::<_, String>((stored().await == total && alerts >= expected.len()).then_some(()))
        },
    )
    .await
    .unwrap();

    let in_silver: BTreeMap<Uuid, (AlertKind, String)> = alerts_in_silver(&config)
        .await
        .into_iter()
        .map(|(id, kind, session)| {
            let kind = serde_json::from_value(serde_json::Value::String(kind)).unwrap();
            (Uuid::parse_str(&id).unwrap(), (kind, session))
        })
        .collect();
    assert_eq!(in_silver, expected, "silver's alerts");
    let in_topic = alerts_in_topic(kafka, &config, expected.len());
    let ids: BTreeSet<Uuid> = in_topic.iter().map(|alert| alert.alert_id).collect();
    assert_eq!(
        ids,
        expected.keys().copied().collect(),
        "the alerts topic ({} records)",
        in_topic.len()
    );
    let overspeed = in_topic
        .iter()
        .find(|alert| alert.kind == AlertKind::Overspeed)
        .unwrap();
    assert_eq!(overspeed.vehicle_id, "vehicle-1");
    assert!(
        overspeed.message.contains("top 100 km/h"),
        "{}",
        overspeed.message
    );
    jupiter.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_geofence_published_while_jupiter_runs_is_in_force_within_five_seconds() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-fences", 1).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    let jupiter = InProcess::start(&config).await;
    wait_until(
        "Jupiter following the geofences",
        Duration::from_secs(60),
        || async {
            Ok::<_, String>(
                (jupiter.metrics.geofences.get() == 0 && jupiter.health().await.0 == 200).then_some(()),
            )
        },
    )
    .await
    .unwrap();

    let published = Instant::now();
    publish_geofence(kafka, &config.alerts.geofences_topic, "depot", Some(&depot())).await;
    wait_until("the geofence in force", Duration::from_secs(5), || async {
        Ok::<_, String>((jupiter.metrics.geofences.get() == 1).then_some(()))
    })
    .await
    .unwrap();
    println!("geofence in force {:?} after publishing", published.elapsed());

    let trip: Vec<PublishedEvent> = (0..TRIP_S)
        .map(|t| event(0, t, through_the_depot(t).unwrap().0, 20.0, t == TRIP_S - 1))
        .collect();
    produce(kafka, &topic, &trip, None).await;
    let kinds = wait_until("the enter and exit alerts", Duration::from_secs(60), || async {
        let kinds: Vec<String> = alerts_in_silver(&config)
            .await
            .into_iter()
            .map(|(_, kind, _)| kind)
            .collect();
        Ok::<_, String>((kinds.len() >= 2).then_some(kinds))
    })
    .await
    .unwrap();
    assert_eq!(
        kinds.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from(["geofence_enter".to_owned(), "geofence_exit".to_owned()])
    );

    let deleted = Instant::now();
    publish_geofence(kafka, &config.alerts.geofences_topic, "depot", None).await;
    wait_until("the geofence deleted", Duration::from_secs(5), || async {
        Ok::<_, String>((jupiter.metrics.geofences.get() == 0).then_some(()))
    })
    .await
    .unwrap();
    println!("geofence deleted {:?} after the tombstone", deleted.elapsed());
    jupiter.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_override_published_while_jupiter_runs_is_in_force_within_five_seconds() {
    let kafka = shared_kafka().unwrap();
    let clickhouse = shared_clickhouse().unwrap();
    let topic = kafka.create_unique_topic("jupiter-rules", 1).await.unwrap();
    let config = test_config(kafka, clickhouse, &topic);
    let jupiter = InProcess::start(&config).await;
    wait_until("Jupiter following the rules", Duration::from_secs(60), || async {
        Ok::<_, String>((jupiter.health().await.0 == 200).then_some(()))
    })
    .await
    .unwrap();

    // 60 km/h for 20 s: nothing under the setting (90 km/h for 30 s), an overspeed under the override.
    let published = Instant::now();
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let lowered = br#"{"kmh": 50, "seconds": 10}"#;
    let record = FutureRecord::<str, [u8]>::to(&config.alerts.rules_topic)
        .key("overspeed")
        .payload(lowered);
    producer.send(record, Duration::from_secs(10)).await.unwrap();
    wait_until("the override in force", Duration::from_secs(5), || async {
        Ok::<_, String>((jupiter.metrics.alert_rule_overrides.get() == 1).then_some(()))
    })
    .await
    .unwrap();
    println!(
        "rule override in force {:?} after publishing",
        published.elapsed()
    );

    let trip: Vec<PublishedEvent> = (0..60)
        .map(|t| {
            let kmh = if (10..30).contains(&t) { 60.0 } else { 30.0 };
            event(0, t, away(0, t), kmh, t == 59)
        })
        .collect();
    produce(kafka, &topic, &trip, None).await;
    let alerts = alerts_in_topic(kafka, &config, 1);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind, AlertKind::Overspeed);
    assert!(
        alerts[0].message.contains("above 50 km/h"),
        "{}",
        alerts[0].message
    );

    let record = FutureRecord::<str, [u8]>::to(&config.alerts.rules_topic).key("overspeed");
    producer.send(record, Duration::from_secs(10)).await.unwrap();
    wait_until("the override removed", Duration::from_secs(5), || async {
        Ok::<_, String>((jupiter.metrics.alert_rule_overrides.get() == 0).then_some(()))
    })
    .await
    .unwrap();
    jupiter.stop().await.unwrap();
}
