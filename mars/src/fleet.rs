//! The simulated vehicles: each drives delivery sessions along a route (started → en_route … → completed),
//! producing one event per tick. Everything random comes from a per-vehicle generator seeded from the run's seed
//! and the vehicle's number, so a run is reproducible whatever the number of connections.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use packetpulse_model::{DeliveryEvent, DeliveryStatus, GeoPoint, WireEvent, derive_event_id};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::routes::Route;

/// The knobs the vehicles read on every tick.
#[derive(Debug, Clone)]
pub struct Driving {
    /// Simulated time per tick.
    pub step: Duration,
    /// Cruising speed range, km/h.
    pub speed_kmh: (f64, f64),
    /// Longest wait before a session starts, in ticks.
    pub max_wait_ticks: u64,
    /// Sessions per vehicle; `None` = continuous.
    pub sessions_per_vehicle: Option<usize>,
    /// Fault injection.
    pub faults: Faults,
    /// Mixed into every session and order id: a fresh one per run gives a run ids of its own while the seed
    /// still decides routes, speeds and faults; 0 keeps the seed's own ids (an exact replay).
    pub identity_salt: u128,
}

/// Fault injection settings.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Up to this much GPS noise on the current position, metres.
    pub gps_jitter_m: f64,
    /// Probability of sending an event twice.
    pub duplicate_rate: f64,
    /// Probability of holding an event back behind the vehicle's next one.
    pub out_of_order_rate: f64,
}

/// One event ready to send: its JSON is built once and kept until Venus acknowledges it.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// The event id (derived from the content, as Venus would).
    pub event_id: Uuid,
    /// The session it belongs to.
    pub session_id: Arc<str>,
    /// Its position in the session.
    pub seq: u64,
    /// The wire JSON.
    pub json: String,
    /// Whether acknowledging it completes the session.
    pub completes_session: bool,
    /// Whether this is an injected duplicate of an event already queued.
    pub duplicate: bool,
}

/// A delivery vehicle.
#[derive(Debug)]
pub struct Vehicle {
    vehicle_id: String,
    device_id: String,
    rng: SmallRng,
    sessions_started: usize,
    state: State,
}

#[derive(Debug)]
enum State {
    Waiting { ticks_left: u64 },
    Driving(Box<Trip>),
    Done,
}

#[derive(Debug)]
struct Trip {
    session_id: Arc<str>,
    order_id: String,
    route: Arc<Route>,
    speed_kmh: f64,
    distance_m: f64,
    seq: u64,
    held_back: Option<OutgoingEvent>,
}

/// A position as the device measures it.
struct Fix {
    point: GeoPoint,
    heading_deg: f64,
}

impl Vehicle {
    /// Vehicle number `index` of a fleet seeded with `seed`.
    pub fn new(index: usize, seed: u64, driving: &Driving) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let ticks_left = rng.random_range(0..=driving.max_wait_ticks);
        Self {
            vehicle_id: format!("vehicle-{index:05}"),
            device_id: format!("device-{index:05}"),
            rng,
            sessions_started: 0,
            state: State::Waiting { ticks_left },
        }
    }

    /// Whether the vehicle has driven all its sessions.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Advances one tick at simulated time `now`, appending the events it produces to `out`; returns whether a
    /// session started.
    pub fn tick(
        &mut self,
        now: DateTime<Utc>,
        routes: &[Arc<Route>],
        driving: &Driving,
        out: &mut Vec<OutgoingEvent>,
    ) -> bool {
        match &mut self.state {
            State::Done => false,
            State::Waiting { ticks_left } if *ticks_left > 0 => {
                *ticks_left -= 1;
                false
            }
            State::Waiting { .. } => {
                let trip = self.start_trip(routes, driving);
                self.state = State::Driving(Box::new(trip));
                self.drive(now, driving, out);
                true
            }
            State::Driving(_) => {
                self.drive(now, driving, out);
                false
            }
        }
    }

    fn start_trip(&mut self, routes: &[Arc<Route>], driving: &Driving) -> Trip {
        self.sessions_started += 1;
        let route = routes[self.rng.random_range(0..routes.len())].clone();
        let (low, high) = driving.speed_kmh;
        let speed_kmh = if high > low {
            self.rng.random_range(low..=high)
        } else {
            low
        };
        // Drawn whatever the salt, so the seed's later draws (speeds, faults) stay the same.
        let session_bits = u128::from_le_bytes(self.rng.random()) ^ driving.identity_salt;
        let order_bits = self.rng.random::<u64>() ^ (driving.identity_salt >> 64) as u64;
        let session_id: Arc<str> = uuid::Builder::from_random_bytes(session_bits.to_le_bytes())
            .into_uuid()
            .to_string()
            .into();
        let order_id = format!("order-{order_bits:016x}");
        Trip {
            session_id,
            order_id,
            route,
            speed_kmh,
            distance_m: 0.0,
            seq: 0,
            held_back: None,
        }
    }

    /// One tick of the trip under way: the vehicle moves on, produces its event, and the faults are applied
    /// on the way out. The order of the random draws is part of a seed's run: keep it.
    fn drive(&mut self, now: DateTime<Utc>, driving: &Driving, out: &mut Vec<OutgoingEvent>) {
        let State::Driving(trip) = &mut self.state else {
            return;
        };
        // ±10 % around the cruising speed, tick by tick, like traffic.
        let speed_kmh = trip.speed_kmh * self.rng.random_range(0.9..=1.1);
        let status = trip.advance(speed_kmh, driving.step);
        let fix = trip.fix(driving.faults.gps_jitter_m, &mut self.rng);
        let event = trip.event(&self.device_id, &self.vehicle_id, now, status, speed_kmh, fix);
        let outgoing = trip.outgoing(event);
        let completes_session = outgoing.completes_session;
        trip.send(outgoing, &driving.faults, &mut self.rng, out);
        if completes_session {
            self.state = self.after_session(driving);
        }
    }

    /// What the vehicle does once a session completed: wait for the next one, or stop after its last.
    fn after_session(&mut self, driving: &Driving) -> State {
        match driving.sessions_per_vehicle {
            Some(limit) if self.sessions_started >= limit => State::Done,
            _ => State::Waiting {
                ticks_left: self.rng.random_range(1..=driving.max_wait_ticks.max(1)),
            },
        }
    }
}

impl Trip {
    /// Moves on at `speed_kmh` for one `step` (not on the first tick, which starts the session); returns the
    /// status of this tick's event.
    fn advance(&mut self, speed_kmh: f64, step: std::time::Duration) -> DeliveryStatus {
        if self.seq == 0 {
            return DeliveryStatus::Started;
        }
        self.distance_m += speed_kmh / 3.6 * step.as_secs_f64();
        if self.distance_m >= self.route.line.length_m() {
            DeliveryStatus::Completed
        } else {
            DeliveryStatus::EnRoute
        }
    }

    /// Where the device measures the vehicle: its point on the route, moved by up to `jitter_m` (GPS noise).
    fn fix(&self, jitter_m: f64, rng: &mut SmallRng) -> Fix {
        let position = self.route.line.position_at(self.distance_m);
        Fix {
            point: jitter(position.point, jitter_m, rng),
            heading_deg: position.bearing_deg,
        }
    }

    /// This tick's event, sent by `device_id` in `vehicle_id`.
    fn event(
        &self,
        device_id: &str,
        vehicle_id: &str,
        now: DateTime<Utc>,
        status: DeliveryStatus,
        speed_kmh: f64,
        fix: Fix,
    ) -> DeliveryEvent {
        let points = self.route.line.points();
        let (start, end) = (points[0], points[points.len() - 1]);
        DeliveryEvent {
            device_id: device_id.to_owned(),
            vehicle_id: vehicle_id.to_owned(),
            session_id: self.session_id.to_string(),
            order_id: self.order_id.clone(),
            status,
            timestamp: now,
            start_lat: start.lat,
            start_lon: start.lon,
            end_lat: end.lat,
            end_lon: end.lon,
            current_lat: fix.point.lat,
            current_lon: fix.point.lon,
            seq: Some(self.seq),
            speed_kmh: Some(if status == DeliveryStatus::Started {
                0.0
            } else {
                speed_kmh
            }),
            heading_deg: Some(fix.heading_deg),
            route_name: Some(self.route.name.clone()),
            waypoint_count: u32::try_from(points.len()).ok(),
        }
    }

    /// `event` ready to send: its id derived from its content (a resend carries the same id) and its JSON.
    fn outgoing(&mut self, event: DeliveryEvent) -> OutgoingEvent {
        let event_id = derive_event_id(&event);
        let completes_session = event.status == DeliveryStatus::Completed;
        let outgoing = OutgoingEvent {
            event_id,
            session_id: self.session_id.clone(),
            seq: self.seq,
            json: serde_json::to_string(&WireEvent {
                event_id: Some(event_id),
                event,
            })
            .expect("events always serialise"),
            completes_session,
            duplicate: false,
        };
        self.seq += 1;
        outgoing
    }

    /// Appends `outgoing` to `out` with the configured faults: sometimes held back to go after the next event
    /// (out of order on the wire), sometimes sent twice.
    fn send(
        &mut self,
        outgoing: OutgoingEvent,
        faults: &Faults,
        rng: &mut SmallRng,
        out: &mut Vec<OutgoingEvent>,
    ) {
        if !outgoing.completes_session
            && self.held_back.is_none()
            && rng.random_bool(faults.out_of_order_rate)
        {
            self.held_back = Some(outgoing);
            return;
        }
        if rng.random_bool(faults.duplicate_rate) {
            out.push(OutgoingEvent {
                duplicate: true,
                ..outgoing.clone()
            });
        }
        out.push(outgoing);
        // The held-back event goes after a later one: out of order on the wire.
        out.extend(self.held_back.take());
    }
}

/// The point moved by up to `metres` in a random direction (clamped to valid coordinates).
fn jitter(point: GeoPoint, metres: f64, rng: &mut SmallRng) -> GeoPoint {
    if metres <= 0.0 {
        return point;
    }
    const METRES_PER_DEGREE: f64 = 111_320.0;
    let d_lat = rng.random_range(-metres..=metres) / METRES_PER_DEGREE;
    let d_lon =
        rng.random_range(-metres..=metres) / (METRES_PER_DEGREE * point.lat.to_radians().cos().max(0.01));
    GeoPoint::new(
        (point.lat + d_lat).clamp(-90.0, 90.0),
        (point.lon + d_lon).clamp(-180.0, 180.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use packetpulse_model::parse_event;

    fn driving() -> Driving {
        Driving {
            step: Duration::from_secs(5),
            speed_kmh: (30.0, 40.0),
            max_wait_ticks: 3,
            sessions_per_vehicle: Some(1),
            faults: Faults::default(),
            identity_salt: 0,
        }
    }

    fn drive_to_completion(index: usize, seed: u64, driving: &Driving) -> Vec<OutgoingEvent> {
        let routes = crate::routes::built_in().unwrap();
        let mut vehicle = Vehicle::new(index, seed, driving);
        let mut out = Vec::new();
        let start = Utc::now();
        for tick in 0..100_000 {
            vehicle.tick(
                start + chrono::Duration::seconds(5 * tick),
                &routes,
                driving,
                &mut out,
            );
            if vehicle.is_done() {
                return out;
            }
        }
        panic!("vehicle never finished");
    }

    #[test]
    fn a_session_is_started_then_en_route_then_completed_with_valid_events() {
        let events = drive_to_completion(7, 42, &driving());
        let parsed: Vec<_> = events.iter().map(|e| parse_event(&e.json).unwrap()).collect();
        assert_eq!(parsed[0].event.status, DeliveryStatus::Started);
        assert!(
            parsed[1..parsed.len() - 1]
                .iter()
                .all(|e| e.event.status == DeliveryStatus::EnRoute)
        );
        assert_eq!(parsed.last().unwrap().event.status, DeliveryStatus::Completed);
        assert!(events.last().unwrap().completes_session);
        let last = &parsed.last().unwrap().event;
        assert_eq!(
            (last.current_lat, last.current_lon),
            (last.end_lat, last.end_lon),
            "completed at the drop-off"
        );
        for (seq, (event, wire)) in events.iter().zip(&parsed).enumerate() {
            assert_eq!(event.seq, seq as u64);
            assert_eq!(wire.event_id, Some(event.event_id));
            assert_eq!(
                derive_event_id(&wire.event),
                event.event_id,
                "Venus would derive the same id"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_run_and_another_seed_another() {
        let ids = |seed| {
            drive_to_completion(3, seed, &driving())
                .into_iter()
                .map(|e| e.json)
                .collect::<Vec<_>>()
        };
        // Timestamps come from the clock passed in: compare everything but them.
        let strip = |v: Vec<String>| {
            v.into_iter()
                .map(|json| {
                    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
                    value.as_object_mut().unwrap().remove("timestamp");
                    value.as_object_mut().unwrap().remove("event_id");
                    value
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(ids(9)), strip(ids(9)));
        assert_ne!(strip(ids(9)), strip(ids(10)));
    }

    #[test]
    fn a_fresh_identity_salt_renames_the_trips_and_drives_them_the_same() {
        let run = |salt| {
            let driving = Driving {
                identity_salt: salt,
                ..driving()
            };
            drive_to_completion(4, 9, &driving)
                .into_iter()
                .map(|e| serde_json::from_str::<serde_json::Value>(&e.json).unwrap())
                .collect::<Vec<_>>()
        };
        let (replayed, first, second) = (run(0), run(0x1234_5678_9abc_def0_1122_3344_5566_7788), run(99));
        let ids =
            |events: &[serde_json::Value]| (events[0]["session_id"].clone(), events[0]["order_id"].clone());
        assert_eq!(ids(&replayed), ids(&run(0)), "salt 0 keeps the seed's ids");
        assert_ne!(ids(&first).0, ids(&replayed).0);
        assert_ne!(ids(&first).1, ids(&replayed).1);
        assert_ne!(ids(&first), ids(&second));
        let driven = |events: Vec<serde_json::Value>| {
            events
                .into_iter()
                .map(|mut e| {
                    for key in ["timestamp", "event_id", "session_id", "order_id"] {
                        e.as_object_mut().unwrap().remove(key);
                    }
                    e
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            driven(first),
            driven(replayed),
            "same route, speeds and positions"
        );
    }

    #[test]
    fn injected_duplicates_and_reordering_keep_every_event() {
        let mut faulty = driving();
        faulty.faults = Faults {
            gps_jitter_m: 15.0,
            duplicate_rate: 0.2,
            out_of_order_rate: 0.2,
        };
        let events = drive_to_completion(1, 5, &faulty);
        let distinct: std::collections::BTreeSet<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(
            distinct.len() as u64,
            distinct.iter().max().unwrap() + 1,
            "no seq missing"
        );
        assert!(events.iter().any(|e| e.duplicate), "some duplicates injected");
        let originals: Vec<u64> = events.iter().filter(|e| !e.duplicate).map(|e| e.seq).collect();
        assert!(
            originals.windows(2).any(|w| w[0] > w[1]),
            "some events out of order"
        );
        for event in &events {
            parse_event(&event.json).unwrap();
        }
    }
}
