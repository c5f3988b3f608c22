//! The public tracking page: anyone with an order's tracking link sees its status, ETA and the vehicle on a
//! map — without signing in, and without anything that identifies the vehicle, its session or other orders. The
//! link is an unguessable token a dispatcher copies from the session page, not the order id; it stops working a
//! while after delivery, and anonymous traffic is throttled per address. The open page follows the delivery by
//! push (`/api/v1/track/{token}/live`) without reloading.

#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_PASSWORD, Dashboard, browser, find, hydrated, screenshot, sign_in, text, wait_for_path};
use reqwest::StatusCode;

/// The tracking link of `order_id`, as a dispatcher (here the admin) gets it.
async fn link(base: &str, order_id: &str) -> String {
    let admin = common::http();
    common::http_sign_in(&admin, base, "admin", ADMIN_PASSWORD).await;
    admin
        .post(format!("{base}/api/fn/tracking_link"))
        .form(&[("order_id", order_id)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_tracked_by_its_link_without_login_and_the_page_leaks_nothing_else() {
    let dashboard = Dashboard::start().await;
    let live = dashboard.fleet.live().clone();
    let url = link(&dashboard.url, &live.order_id).await;
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert!(token.starts_with("t_") && token.len() >= 34, "{url}");
    assert!(
        !url.contains(&live.order_id),
        "the link must not be the order id: {url}"
    );
    assert_eq!(
        link(&dashboard.url, &live.order_id).await,
        url,
        "asking again gives the same link"
    );

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
    let api: serde_json::Value = reqwest::get(format!("{}/api/v1/track/{token}", dashboard.url))
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

    // Live by push: the delivery completes at the customer's address; the open page says so without a reload.
    common::mark_page(&client).await;
    let delivered = common::event(
        &live,
        chrono::Utc::now(),
        live.end,
        packetpulse_model::DeliveryStatus::Completed,
    );
    dashboard.seed_more(vec![delivered]).await;
    packetpulse_testkit::wait_until("the pushed delivery", std::time::Duration::from_secs(20), || {
        let client = client.clone();
        async move { Ok::<_, String>((text(&client, "#track-eta").await == "Delivered").then_some(())) }
    })
    .await
    .unwrap();
    assert_eq!(text(&client, "#track-distance").await, "0.0 km");
    common::assert_not_reloaded(&client).await;

    // The order id itself, or a guessed token, opens nothing.
    for guess in [live.order_id.as_str(), "t_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        client
            .goto(&format!("{}/track/{guess}", dashboard.url))
            .await
            .unwrap();
        assert!(
            text(&client, "#not-found")
                .await
                .starts_with("This tracking link opens no delivery")
        );
        let api = reqwest::get(format!("{}/api/v1/track/{guess}", dashboard.url))
            .await
            .unwrap();
        assert_eq!(api.status(), StatusCode::NOT_FOUND, "{guess}");
    }
    // The rest of the API stays closed to the anonymous visitor.
    let sessions = reqwest::get(format!("{}/api/v1/sessions", dashboard.url))
        .await
        .unwrap();
    assert_eq!(sessions.status(), StatusCode::UNAUTHORIZED);
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_copies_the_link_from_the_session_page() {
    let dashboard = Dashboard::start().await;
    let live = dashboard.fleet.live().clone();
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client
        .goto(&format!("{}/sessions/{}", dashboard.url, live.session_id))
        .await
        .unwrap();
    hydrated(&client).await;
    find(&client, "#tracking-link").await.click().await.unwrap();
    let url = find(&client, "#tracking-url")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(url, link(&dashboard.url, &live.order_id).await);
    screenshot(&client, "session-tracking-link").await;
    client.close().await.unwrap();
    // A viewer has no such button, and the server function refuses them.
    common::create_user(&dashboard.url, "watcher", "viewer").await;
    let viewer = common::http();
    common::http_sign_in(&viewer, &dashboard.url, "watcher", common::USER_PASSWORD).await;
    let refused = viewer
        .post(format!("{}/api/fn/tracking_link", dashboard.url))
        .form(&[("order_id", live.order_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_expires_after_delivery_and_anonymous_traffic_is_throttled() {
    // Links live 6 h after delivery here: yesterday's deliveries (noon, at least 12 h ago) are past it at any
    // time of day, today's (at most 2 h ago) are not. (With the default 24 h this test failed before noon UTC.)
    let dashboard =
        Dashboard::start_with(&["--tracking-requests-per-minute=5", "--tracking-link-ttl=6h"]).await;
    // Delivered yesterday, longer ago than a link lives after delivery.
    let delivered = dashboard.fleet.yesterday[0].clone();
    let old = link(&dashboard.url, &delivered.order_id).await;
    let token = old.rsplit('/').next().unwrap();
    let gone = reqwest::get(format!("{}/api/v1/track/{token}", dashboard.url))
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::GONE);
    // Delivered today: still open.
    let today = dashboard.fleet.today[0].clone();
    let fresh = link(&dashboard.url, &today.order_id).await;
    let token = fresh.rsplit('/').next().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = reqwest::get(format!("{}/api/v1/track/{token}", dashboard.url))
            .await
            .unwrap();
        statuses.push(response.status());
    }
    // The first of the five was spent on the expired link.
    assert_eq!(statuses[..4], [StatusCode::OK; 4], "{statuses:?}");
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
    dashboard.stop().await;
}
