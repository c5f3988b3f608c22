//! Alert detection throughput: `cargo bench -p jupiter --bench detection` (release build). Prints events/s
//! through [`jupiter::alerts::Detector`] with `BENCH_GEOFENCES` geofences (default 1,000: half circles of
//! 100–1,500 m, half hexagons of the same size, spread over 40 × 40 km around Athens), `BENCH_VEHICLES` vehicles
//! (default 10,000) driving at 10–110 km/h, `BENCH_EVENTS` events (default 2,000,000), and a `tick` every 10,000
//! events. Target (issue 19): ≥ 200k events/s with 1,000 geofences.

#![allow(clippy::unwrap_used, missing_docs)] // A benchmark binary: a panic is the failure report.

use std::time::Instant;

use jupiter::alerts::{Detector, Observation, Thresholds};
use packetpulse_model::{DeliveryStatus, GeoPoint, Geofence, GeofenceShape};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const CENTRE: GeoPoint = GeoPoint::new(37.98, 23.73);
/// Half the area's side, degrees of latitude (~20 km).
const SPREAD: f64 = 0.18;

fn random_point(rng: &mut SmallRng) -> GeoPoint {
    GeoPoint::new(
        CENTRE.lat + rng.random_range(-SPREAD..SPREAD),
        CENTRE.lon + rng.random_range(-SPREAD..SPREAD) * 1.27,
    )
}

fn geofences(count: u64, rng: &mut SmallRng) -> Vec<Geofence> {
    (0..count)
        .map(|n| {
            let center = random_point(rng);
            let radius_m = rng.random_range(100.0..1_500.0);
            let shape = if n % 2 == 0 {
                GeofenceShape::Circle { center, radius_m }
            } else {
                let dlat = radius_m / 111_320.0;
                let dlon = dlat / center.lat.to_radians().cos();
                let ring = (0..6)
                    .map(|corner| {
                        let angle = f64::from(corner) * std::f64::consts::PI / 3.0;
                        GeoPoint::new(center.lat + dlat * angle.sin(), center.lon + dlon * angle.cos())
                    })
                    .collect();
                GeofenceShape::Polygon { ring }
            };
            Geofence {
                id: format!("fence-{n}"),
                name: format!("Fence {n}"),
                shape,
                vehicles: None,
            }
        })
        .collect()
}

struct Vehicle {
    session: String,
    vehicle: String,
    point: GeoPoint,
    heading: f64,
    kmh: f64,
}

fn main() {
    let (fence_count, vehicle_count, events) = (
        env_or("BENCH_GEOFENCES", 1_000),
        env_or("BENCH_VEHICLES", 10_000),
        env_or("BENCH_EVENTS", 2_000_000),
    );
    let mut rng = SmallRng::seed_from_u64(19);
    let mut detector = Detector::new(Thresholds::default());
    detector.set_geofences(geofences(fence_count, &mut rng));
    let mut fleet: Vec<Vehicle> = (0..vehicle_count)
        .map(|n| Vehicle {
            session: format!("session-{n}"),
            vehicle: format!("vehicle-{n}"),
            point: random_point(&mut rng),
            heading: rng.random_range(0.0..std::f64::consts::TAU),
            kmh: rng.random_range(10.0..110.0),
        })
        .collect();
    let ids: Vec<Uuid> = (0..events).map(|n| Uuid::from_u128(u128::from(n) + 1)).collect();
    let start_ms = 1_800_000_000_000u64;
    let mut alerts = 0usize;
    let started = Instant::now();
    for n in 0..events {
        let index = usize::try_from(n % vehicle_count).unwrap();
        let vehicle = &mut fleet[index];
        let second = n / vehicle_count;
        // One event a second per vehicle; each moves along its heading at its speed.
        let step_deg = vehicle.kmh / 3_600.0 / 111.32;
        vehicle.point = GeoPoint::new(
            vehicle.point.lat + step_deg * vehicle.heading.sin(),
            vehicle.point.lon + step_deg * vehicle.heading.cos() / vehicle.point.lat.to_radians().cos(),
        );
        let status = if second == 0 {
            DeliveryStatus::Started
        } else {
            DeliveryStatus::EnRoute
        };
        alerts += detector
            .observe(&Observation {
                event_id: ids[usize::try_from(n).unwrap()],
                session_id: &vehicle.session,
                vehicle_id: &vehicle.vehicle,
                status,
                time_ms: start_ms + second * 1_000 + n % vehicle_count / 10,
                point: vehicle.point,
                speed_kmh: vehicle.kmh,
                partition: 0,
            })
            .len();
        if n % 10_000 == 0 {
            alerts += detector.tick(|_| Some(start_ms + second * 1_000)).len();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "detection: {events} events of {vehicle_count} vehicles, {fence_count} geofences: {:.0} events/s \
         ({seconds:.2} s), {alerts} alerts",
        events as f64 / seconds
    );
}
