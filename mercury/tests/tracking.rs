//! The public tracking page: anyone with an order's tracking link sees its status, ETA and the vehicle on a
//! map — without signing in, and without anything that identifies the vehicle, its session or other orders.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Dashboard, browser, find, screenshot, text};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_tracked_without_login_and_the_page_leaks_nothing_else() {
    let dashboard = Dashboard::start().await;
    let live = dashboard.fleet.live().clone();
    let url = format!("{}/track/{}", dashboard.url, live.order_id);

    let html = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(html.contains(&live.order_id), "{html}");
    assert!(html.contains("en route"), "{html}");
    for secret in [
        live.vehicle_id.as_str(),
        &live.session_id,
        &live.route_name,
        "device-veh",
        "veh-1",
        "admin",
    ] {
        assert!(!html.contains(secret), "the tracking page shows {secret}: {html}");
    }
    let api: serde_json::Value = reqwest::get(format!("{}/api/v1/track/{}", dashboard.url, live.order_id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut keys: Vec<&str> = api.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "destination",
            "distance_remaining_km",
            "eta_s",
            "last_update_ms",
            "order_id",
            "position",
            "status"
        ]
    );
    assert!(api["eta_s"].as_u64().unwrap() > 0, "{api}");

    let (_driver, client) = browser().await;
    client.goto(&url).await.unwrap();
    assert_eq!(text(&client, "#order-id").await, live.order_id);
    assert!(text(&client, "#track-eta").await.starts_with("about "));
    find(&client, "#track-map[data-ready='true']").await;
    screenshot(&client, "public-tracking").await;

    let missing = format!("{}/track/order-does-not-exist", dashboard.url);
    client.goto(&missing).await.unwrap();
    assert_eq!(
        text(&client, "#not-found").await,
        "No delivery with this tracking number."
    );
    client.close().await.unwrap();
    let api_missing = reqwest::get(format!("{}/api/v1/track/order-does-not-exist", dashboard.url))
        .await
        .unwrap();
    assert_eq!(api_missing.status(), StatusCode::NOT_FOUND);
    // The rest of the API stays closed to the anonymous visitor.
    let sessions = reqwest::get(format!("{}/api/v1/sessions", dashboard.url))
        .await
        .unwrap();
    assert_eq!(sessions.status(), StatusCode::UNAUTHORIZED);
    dashboard.stop().await;
}
