//! The shared fixture: a fleet's week and a half, deterministic for a given `now`, in two ingestion batches so the
//! incremental gold models run both their first build and an increment.

use chrono::{DateTime, Duration, Utc};
use packetpulse_model::testing::{event, published};
use packetpulse_model::{DeliveryEvent, DeliveryStatus, PublishedEvent};

/// Route names as the simulator's, plus the characters a bound parameter must carry intact.
const ROUTES: [&str; 5] = [
    "Syntagma → Kifisia",
    "Piraeus → Marousi",
    "Glyfada → Halandri",
    "O'Brien St \\ \"Depot\"",
    "Peristeri → Kallithea",
];

/// What was inserted, batch by batch, and the ids the dashboard queries ask for.
pub struct Fleet {
    pub older: Vec<PublishedEvent>,
    pub newer: Vec<PublishedEvent>,
    pub live_session: String,
    pub live_order: String,
    pub completed_session: String,
    pub completed_order: String,
}

/// One session's points, `step` apart from `start`, moving north 0.004° (≈ 450 m) a step.
fn session(index: usize, start: DateTime<Utc>, points: usize, completed: bool) -> Vec<PublishedEvent> {
    let (base_lat, base_lon) = (
        37.90 + 0.01 * (index % 7) as f64,
        23.65 + 0.01 * (index % 5) as f64,
    );
    let step = Duration::seconds(45);
    (0..points)
        .map(|n| {
            let status = match n {
                0 => DeliveryStatus::Started,
                n if completed && n + 1 == points => DeliveryStatus::Completed,
                _ => DeliveryStatus::EnRoute,
            };
            // Session 5 jumps a whole degree once: a point Jupiter flags as a suspect teleport.
            let jump = if index == 5 && n == 2 { 1.0 } else { 0.0 };
            published(DeliveryEvent {
                device_id: format!("device-{}", index % 6),
                vehicle_id: format!("veh-{}", index % 6),
                session_id: format!("s-{index:02}"),
                order_id: format!("order-{index:02}"),
                status,
                timestamp: start + step * n as i32,
                start_lat: base_lat,
                start_lon: base_lon,
                end_lat: base_lat + 0.004 * points as f64,
                end_lon: base_lon,
                current_lat: base_lat + 0.004 * n as f64 + jump,
                current_lon: base_lon,
                seq: Some(n as u64),
                speed_kmh: (n % 3 != 0).then_some(30.0 + n as f64),
                heading_deg: Some(0.0),
                route_name: Some(ROUTES[index % ROUTES.len()].to_owned()),
                waypoint_count: Some(points as u32),
            })
        })
        .collect()
}

/// A session whose device clock jumps by a month per point for ten years: one batch over more months (the
/// silver table's partitions) than modern ClickHouse takes in one insert.
fn wrong_clock(now: DateTime<Utc>) -> Vec<PublishedEvent> {
    (0..125)
        .map(|month| {
            published(DeliveryEvent {
                device_id: "device-clock".into(),
                vehicle_id: "veh-clock".into(),
                session_id: "s-clock".into(),
                order_id: "order-clock".into(),
                timestamp: now - Duration::days(30 * (125 - month)),
                ..event()
            })
        })
        .collect()
}

impl Fleet {
    /// 24 sessions started 1 to 208 hours before `now` (every third one never completed: stale), one over ten
    /// years of a wrong clock, and two live ones heard from within the last minute, one of them continued in the
    /// second batch; the second batch also re-sends an event, as a producer retrying would.
    pub fn new(now: DateTime<Utc>) -> Self {
        let mut older = Vec::new();
        let mut newer = Vec::new();
        for index in 0..24 {
            let start = now - Duration::hours(1 + 9 * index as i64);
            let events = session(index, start, 5 + index % 5, index % 3 != 1);
            if index < 6 {
                newer.extend(events)
            } else {
                older.extend(events)
            }
        }
        older.extend(wrong_clock(now));
        let live = session(30, now - Duration::minutes(4), 6, false);
        let (before, after) = live.split_at(3);
        older.extend_from_slice(before);
        newer.extend_from_slice(after);
        newer.push(before[2].clone());
        newer.extend(session(31, now - Duration::seconds(150), 3, false));
        Self {
            older,
            newer,
            live_session: "s-30".into(),
            live_order: "order-30".into(),
            completed_session: "s-03".into(),
            completed_order: "order-03".into(),
        }
    }
}
