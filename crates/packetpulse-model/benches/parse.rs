//! How fast the contract's hot paths are: `cargo bench -p packetpulse-model` prints nanoseconds per event for
//! validating a 500-event batch frame, for publishing (id, stamp, serialise) and its parts, and for re-reading
//! an event.

#![allow(clippy::unwrap_used, missing_docs)] // A benchmark binary: a panic is the failure report.

use std::hint::black_box;
use std::time::Instant;

use packetpulse_model::{PublishedEvent, parse_frame};

fn frame(events: usize) -> String {
    let one = |n: usize| {
        format!(
            r#"{{"device_id":"device-{n:05}","vehicle_id":"vehicle-{n:05}","session_id":"session-{n:05}","order_id":"order-{n:05}","status":"en_route","timestamp":"2024-05-01T12:30:{:02}.123456Z","start_lat":37.975678,"start_lon":23.767335,"end_lat":37.98381,"end_lon":23.727539,"current_lat":37.9{n:04},"current_lon":23.7{n:04},"seq":{n},"speed_kmh":35.5,"heading_deg":270.0,"route_name":"athens-01","waypoint_count":88}}"#,
            n % 60
        )
    };
    format!("[{}]", (0..events).map(one).collect::<Vec<_>>().join(","))
}

fn measure(name: &str, events_per_round: usize, rounds: usize, mut round: impl FnMut()) {
    round(); // warm-up
    let started = Instant::now();
    for _ in 0..rounds {
        round();
    }
    let per_event = started.elapsed().as_nanos() as f64 / (rounds * events_per_round) as f64;
    println!(
        "{name}: {per_event:.0} ns/event ({:.0} events/s on one core)",
        1e9 / per_event
    );
}

fn main() {
    let text = frame(500);
    measure("parse_frame + validate (500-event batch)", 500, 200, || {
        black_box(parse_frame(black_box(&text)).unwrap());
    });
    measure(
        "serde_json::Value of the same batch (reference)",
        500,
        200,
        || {
            black_box(serde_json::from_str::<serde_json::Value>(black_box(&text)).unwrap());
        },
    );
    let events: Vec<_> = parse_frame(&text)
        .unwrap()
        .into_iter()
        .map(|e| e.result.unwrap())
        .collect();
    let now = chrono::Utc::now();
    measure("publish + to_json", events.len(), 200, || {
        for event in &events {
            black_box(event.clone().publish(now).to_json());
        }
    });
    measure("derive_event_id", events.len(), 200, || {
        for event in &events {
            black_box(packetpulse_model::derive_event_id(&event.event));
        }
    });
    let published: Vec<PublishedEvent> = events.iter().map(|e| e.clone().publish(now)).collect();
    let mut buffer = Vec::new();
    measure("write_json into a reused buffer", published.len(), 200, || {
        for event in &published {
            buffer.clear();
            event.write_json(&mut buffer);
            black_box(&buffer);
        }
    });
    let payloads: Vec<String> = events.iter().map(|e| e.clone().publish(now).to_json()).collect();
    measure(
        "PublishedEvent::from_json (consumers)",
        payloads.len(),
        200,
        || {
            for payload in &payloads {
                black_box(PublishedEvent::from_json(payload.as_bytes()).unwrap());
            }
        },
    );
}
