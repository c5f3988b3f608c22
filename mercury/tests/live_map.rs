//! The live map: a vehicle event produced to Kafka moves the vehicle's marker in the browser within a second
//! (Mercury's own consumer pushes it over the WebSocket).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_PASSWORD, Dashboard, browser, find, hydrated, screenshot, sign_in, wait_for_path};
use packetpulse_model::DeliveryStatus;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_produced_to_kafka_moves_its_marker_within_a_second() {
    let dashboard = Dashboard::start().await;
    let live = dashboard.fleet.live().clone();
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client.goto(&format!("{}/live", dashboard.url)).await.unwrap();
    hydrated(&client).await;
    // The session under way comes from ClickHouse at Mercury's start: the first snapshot shows it.
    find(&client, "#live-map[data-vehicles='1']").await;
    let marker = |session: String| {
        let client = client.clone();
        async move {
            client
                .execute(
                    "return window.packetpulseLiveMap.markerPosition(arguments[0])",
                    vec![json!(session)],
                )
                .await
                .unwrap()
        }
    };
    let seeded = live.points.last().unwrap();
    assert_eq!(marker(live.session_id.clone()).await, json!([seeded.1, seeded.2]));

    // Each round moves the vehicle further north. Rounds produced before Mercury's consumer got its partitions
    // are not seen at all: the latency counts from the first round that got through.
    let mut latencies = Vec::new();
    for round in 1..=20 {
        let position = (seeded.1 + 0.001 * f64::from(round), seeded.2);
        let event = common::event(&live, chrono::Utc::now(), position, DeliveryStatus::EnRoute);
        dashboard.produce(&[event]).await;
        let produced = Instant::now();
        let deadline = produced + Duration::from_secs(3);
        let expected = json!([position.0, position.1]);
        while marker(live.session_id.clone()).await != expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if marker(live.session_id.clone()).await == expected {
            latencies.push(produced.elapsed());
        } else {
            assert!(
                latencies.is_empty(),
                "round {round} never reached the map after earlier rounds did"
            );
        }
        if latencies.len() == 5 {
            break;
        }
    }
    assert_eq!(latencies.len(), 5, "no event reached the map");
    println!("produced → marker moved: {latencies:?}");
    let worst_of_last_four = latencies[1..].iter().max().unwrap();
    assert!(*worst_of_last_four <= Duration::from_secs(1), "{latencies:?}");
    // A click on the vehicle shows its details, distance remaining and ETA.
    client
        .execute(
            "window.packetpulseLiveMap.select(arguments[0])",
            vec![json!(live.session_id)],
        )
        .await
        .unwrap();
    let details = find(&client, "#live-details[data-session]")
        .await
        .text()
        .await
        .unwrap();
    for expected in [
        live.vehicle_id.as_str(),
        &live.order_id,
        "en route",
        "40 km/h",
        "Distance remaining",
        "ETA",
    ] {
        assert!(details.contains(expected), "{expected} missing from {details}");
    }
    // Filtering by another status hides it; by its own shows it.
    let filter = find(&client, "#live-filter").await;
    filter.clone().select_by_value("started").await.unwrap();
    find(&client, "#live-map[data-visible='0']").await;
    filter.select_by_value("en_route").await.unwrap();
    find(&client, "#live-map[data-visible='1']").await;
    screenshot(&client, "live-map").await;

    // Ten thousand vehicles at once: batches from the server, each applied in one animation frame.
    let fleet: Vec<_> = (0..10_000)
        .map(|i| {
            let mut session = live.clone();
            session.session_id = format!("bulk-{i:05}");
            session.vehicle_id = format!("bulk-vehicle-{i:05}");
            let position = (
                seeded.1 + 0.0001 * f64::from(i % 100),
                seeded.2 + 0.0001 * f64::from(i / 100),
            );
            common::event(&session, chrono::Utc::now(), position, DeliveryStatus::EnRoute)
        })
        .collect();
    let produced = Instant::now();
    dashboard.produce(&fleet).await;
    find(&client, "#live-map[data-vehicles='10001']").await;
    let batch = find(&client, "#live-map")
        .await
        .attr("data-last-batch")
        .await
        .unwrap()
        .unwrap_or_default();
    println!(
        "10,000 vehicles produced → all on the map in {:?}; last batch: {batch}",
        produced.elapsed()
    );
    screenshot(&client, "live-map-10k").await;

    // Completed: the marker goes away.
    let done = common::event(
        &live,
        chrono::Utc::now(),
        (live.end.0, live.end.1),
        DeliveryStatus::Completed,
    );
    dashboard.produce(&[done]).await;
    find(&client, "#live-map[data-vehicles='10000']").await;
    client.close().await.unwrap();
    dashboard.stop().await;
}
