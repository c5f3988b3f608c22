#![allow(clippy::unwrap_used)]

use packetpulse_model::GeofenceShape;

use super::*;

const START_MS: u64 = 1_800_000_000_000;

/// A drive east along latitude 37.98, one event a second: `kmh` per step from `speeds`.
fn drive(session: &str, speeds: &[f64]) -> Vec<(Uuid, u64, GeoPoint, f64, DeliveryStatus)> {
    let mut lon = 23.70;
    speeds
        .iter()
        .enumerate()
        .map(|(step, &kmh)| {
            lon += kmh / 3_600.0 * 1_000.0 / (111_320.0 * 37.98_f64.to_radians().cos());
            let status = if step == 0 {
                DeliveryStatus::Started
            } else {
                DeliveryStatus::EnRoute
            };
            let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{session}/{step}").as_bytes());
            (
                id,
                START_MS + step as u64 * 1_000,
                GeoPoint::new(37.98, lon),
                kmh,
                status,
            )
        })
        .collect()
}

fn run(
    detector: &mut Detector,
    session: &str,
    events: &[(Uuid, u64, GeoPoint, f64, DeliveryStatus)],
) -> Vec<Alert> {
    events
        .iter()
        .flat_map(|&(event_id, time_ms, point, speed_kmh, status)| {
            detector.observe(&Observation {
                event_id,
                session_id: session,
                vehicle_id: "v-1",
                status,
                time_ms,
                point,
                speed_kmh,
                partition: 0,
            })
        })
        .collect()
}

fn kinds(alerts: &[Alert]) -> Vec<(AlertKind, Option<&str>)> {
    alerts
        .iter()
        .map(|a| (a.kind, a.geofence_id.as_deref()))
        .collect()
}

#[test]
fn driving_through_a_geofence_raises_one_enter_and_one_exit() {
    let mut detector = Detector::new(Thresholds::default());
    detector.set_geofences(vec![Geofence {
        id: "market".into(),
        name: "Central market".into(),
        shape: GeofenceShape::Circle {
            center: GeoPoint::new(37.98, 23.705),
            radius_m: 150.0,
        },
        vehicles: None,
    }]);
    // 36 km/h = 10 m/s for 120 s: 1.2 km east, through the 300 m-wide circle ~440 m east of the start.
    let alerts = run(&mut detector, "s-1", &drive("s-1", &[36.0; 120]));
    assert_eq!(
        kinds(&alerts),
        [
            (AlertKind::GeofenceEnter, Some("market")),
            (AlertKind::GeofenceExit, Some("market"))
        ]
    );
    assert!(
        alerts[0].message.contains("entered geofence \"market\""),
        "{}",
        alerts[0].message
    );
}

#[test]
fn overspeed_needs_the_set_time_above_the_limit_and_fires_once_per_episode() {
    let mut detector = Detector::new(Thresholds::default());
    // 20 s above (not enough), back to 50, then 40 s above: one alert, 30 s into the second episode.
    let mut speeds = vec![50.0; 5];
    speeds.extend([100.0; 20]);
    speeds.extend([50.0; 5]);
    speeds.extend([104.0; 40]);
    let events = drive("s-2", &speeds);
    let alerts = run(&mut detector, "s-2", &events);
    assert_eq!(kinds(&alerts), [(AlertKind::Overspeed, None)]);
    assert_eq!(alerts[0].trigger_event_id, events[30 + 30].0);
    assert_eq!(
        alerts[0].message,
        "vehicle \"v-1\" above 90 km/h for 30 s (top 104 km/h)"
    );
}

#[test]
fn standing_still_en_route_raises_idle_and_silence_raises_offline_then_abandoned() {
    let mut detector = Detector::new(Thresholds::default());
    let mut speeds = vec![30.0; 3];
    speeds.extend([0.5; 302]); // 301 s still: past the 5 minutes
    let events = drive("s-3", &speeds);
    let alerts = run(&mut detector, "s-3", &events);
    assert_eq!(kinds(&alerts), [(AlertKind::Idle, None)]);

    let last_ms = events.last().unwrap().1;
    assert!(
        detector.tick(|_| Some(last_ms + 60_000)).is_empty(),
        "a minute of silence is not offline"
    );
    let offline = detector.tick(|_| Some(last_ms + 121_000));
    assert_eq!(kinds(&offline), [(AlertKind::Offline, None)]);
    assert_eq!(offline[0].trigger_event_id, events.last().unwrap().0);
    assert_eq!(offline[0].at.timestamp_millis() as u64, last_ms + 120_000);
    assert!(
        detector.tick(|_| Some(last_ms + 600_000)).is_empty(),
        "offline once per silence"
    );
    let abandoned = detector.tick(|_| Some(last_ms + 3 * 3_600_000));
    assert_eq!(kinds(&abandoned), [(AlertKind::Abandoned, None)]);
    assert_eq!(
        detector.sessions(),
        0,
        "an abandoned session is no longer followed"
    );
}

#[test]
fn the_same_events_give_the_same_alert_ids_whenever_the_clock_is_read() {
    let speeds: Vec<f64> = (0..100)
        .map(|step| if step > 50 { 120.0 } else { 40.0 })
        .collect();
    let events = drive("s-4", &speeds);
    let ids = |tick_at: u64| {
        let mut detector = Detector::new(Thresholds::default());
        let mut alerts = run(&mut detector, "s-4", &events);
        alerts.extend(detector.tick(|_| Some(tick_at)));
        alerts.iter().map(|a| (a.alert_id, a.at)).collect::<Vec<_>>()
    };
    let last_ms = events.last().unwrap().1;
    assert_eq!(ids(last_ms + 200_000), ids(last_ms + 900_000));
    assert_eq!(ids(last_ms + 200_000).len(), 2, "overspeed and offline");
}

#[test]
fn a_completed_session_raises_no_timer_alerts() {
    let mut detector = Detector::new(Thresholds::default());
    let mut events = drive("s-5", &[30.0; 10]);
    events.last_mut().unwrap().4 = DeliveryStatus::Completed;
    run(&mut detector, "s-5", &events);
    assert!(detector.tick(|_| Some(START_MS + 10 * 3_600_000)).is_empty());
}

#[test]
fn a_silence_the_next_event_reveals_raises_what_ticks_would_have_raised() {
    let events = drive("s-6", &[30.0; 10]);
    let (last_id, last_ms) = (events[9].0, events[9].1);
    let resumed = |after_ms: u64| {
        let mut later = events.clone();
        later.push((
            Uuid::from_u128(6),
            last_ms + after_ms,
            events[9].2,
            30.0,
            DeliveryStatus::EnRoute,
        ));
        later
    };
    let ticked = |after_ms: u64| {
        let mut detector = Detector::new(Thresholds::default());
        run(&mut detector, "s-6", &events);
        let mut alerts = detector.tick(|_| Some(last_ms + 130_000));
        alerts.extend(detector.tick(|_| Some(last_ms + after_ms)));
        alerts
    };

    // Three minutes: offline, and the session goes on.
    let mut detector = Detector::new(Thresholds::default());
    let revealed = run(&mut detector, "s-6", &resumed(180_000));
    assert_eq!(kinds(&revealed), [(AlertKind::Offline, None)]);
    assert_eq!(revealed, ticked(180_000));
    assert_eq!(revealed[0].trigger_event_id, last_id);
    assert_eq!(detector.sessions(), 1);

    // Three hours: offline and abandoned, and the late comer is not followed.
    let mut detector = Detector::new(Thresholds::default());
    let revealed = run(&mut detector, "s-6", &resumed(3 * 3_600_000));
    assert_eq!(
        kinds(&revealed),
        [(AlertKind::Offline, None), (AlertKind::Abandoned, None)]
    );
    assert_eq!(revealed, ticked(3 * 3_600_000));
    assert_eq!(detector.sessions(), 0);
    assert!(run(&mut detector, "s-6", &resumed(3 * 3_600_000 + 1_000)).is_empty());
}
