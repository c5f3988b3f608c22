//! The geofence API: GeoJSON in and out, written to the compacted topic Jupiter's detector follows (key = id,
//! a tombstone on delete), validated with clear errors, read back before the answer. And the per-rule alert
//! threshold overrides, which travel the same way in the `alert-rules` topic.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{ADMIN_PASSWORD, Dashboard, http, http_sign_in};
use packetpulse_model::{Geofence, GeofenceShape, RuleThresholds};
use rdkafka::Message;
use serde_json::{Value, json};

/// The payload under `key` in the dashboard's settings topic `{topic}.{suffix}`, which holds at least `at_least`
/// records: what Jupiter reads.
fn record(dashboard: &Dashboard, suffix: &str, at_least: usize, key: &str) -> Vec<u8> {
    let records = dashboard
        .kafka
        .read_topic(
            &format!("{}.{suffix}", dashboard.topic),
            at_least,
            Duration::from_millis(500),
            Duration::from_secs(10),
        )
        .unwrap();
    records
        .iter()
        .find(|record| record.key() == Some(key.as_bytes()))
        .and_then(|record| record.payload())
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geofences_round_trip_through_the_compacted_topic_as_geojson() {
    let dashboard = Dashboard::start().await;
    let base = &dashboard.url;
    let client = http();
    http_sign_in(&client, base, "admin", ADMIN_PASSWORD).await;
    let put = |id: &str, body: Value| {
        client
            .put(format!("{base}/api/v1/geofences/{id}"))
            .json(&body)
            .send()
    };

    // The follower reads the topic at start; until then the API says so (503), then lists nothing.
    let listed = packetpulse_testkit::wait_until("the geofence list", Duration::from_secs(30), || async {
        let response = client
            .get(format!("{base}/api/v1/geofences"))
            .send()
            .await
            .unwrap();
        Ok::<_, String>((response.status() == 200).then_some(()))
    });
    listed.await.unwrap();

    let depot = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [23.73, 37.98]},
        "properties": {"name": "Depot", "radius_m": 300.0}});
    let saved = put("depot", depot).await.unwrap();
    assert_eq!(saved.status(), 200);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(saved["geometry"]["coordinates"], json!([23.73, 37.98]));
    assert_eq!(saved["properties"]["radius_m"], json!(300.0));
    let square = json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
        [23.72, 37.97], [23.74, 37.97], [23.74, 37.99], [23.72, 37.99], [23.72, 37.97]]]},
        "properties": {"name": "Centre", "vehicles": ["van-1", "van-2"]}});
    assert_eq!(put("centre", square).await.unwrap().status(), 200);

    // Listed at once (read back before the answer), as a FeatureCollection.
    let all: Value = common::json(client.get(format!("{base}/api/v1/geofences"))).await;
    assert_eq!(all["type"], "FeatureCollection");
    let ids: Vec<&str> = all["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["centre", "depot"]);
    let centre = &all["features"][0];
    assert_eq!(
        centre["geometry"]["coordinates"][0].as_array().unwrap().len(),
        5,
        "the ring is closed"
    );
    assert_eq!(centre["properties"]["vehicles"], json!(["van-1", "van-2"]));

    // In the topic as Jupiter reads it: key = id, the model's JSON, the ring not repeated.
    let centre = record(&dashboard, "geofences", 2, "centre");
    let fence = Geofence::from_record("centre", &centre).unwrap();
    let GeofenceShape::Polygon { ring } = fence.shape else {
        panic!("a polygon")
    };
    assert_eq!(ring.len(), 4);
    assert_eq!(fence.vehicles, Some(vec!["van-1".to_owned(), "van-2".to_owned()]));

    // Refused with the reason: a circle without a radius, a zero radius, holes, two corners, junk, a long name.
    for (body, reason) in [
        (
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [23.7, 37.9]}, "properties": {"name": "x"}}),
            "radius_m",
        ),
        (
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [23.7, 37.9]}, "properties": {"name": "x", "radius_m": 0}}),
            "radius",
        ),
        (
            json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]], [[0, 0], [0.5, 0], [0.5, 0.5]]]}, "properties": {"name": "x"}}),
            "one ring",
        ),
        (
            json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}, "properties": {"name": "x"}}),
            "3 to",
        ),
        (json!({"nonsense": true}), "not a geofence Feature"),
        (
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [23.7, 97.0]}, "properties": {"name": "x", "radius_m": 5}}),
            "latitude",
        ),
        (
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [23.7, 37.9]}, "properties": {"name": "n".repeat(201), "radius_m": 5}}),
            "name",
        ),
    ] {
        let answer = put("bad", body).await.unwrap();
        assert_eq!(answer.status(), 400);
        let error = answer.text().await.unwrap();
        assert!(error.contains(reason), "{error} should mention {reason}");
    }

    // Deleted: a tombstone, gone from the list; deleting again is not found.
    let deleted = client
        .delete(format!("{base}/api/v1/geofences/depot"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let all: Value = common::json(client.get(format!("{base}/api/v1/geofences"))).await;
    assert_eq!(all["features"].as_array().unwrap().len(), 1);
    let again = client
        .delete(format!("{base}/api/v1/geofences/depot"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_draws_a_geofence_on_the_map_and_a_viewer_sees_it_without_the_tools() {
    use common::{browser, find, hydrated, screenshot, sign_in, wait_for_path};
    let dashboard = Dashboard::start().await;
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client
        .goto(&format!("{}/geofences", dashboard.url))
        .await
        .unwrap();
    hydrated(&client).await;
    find(&client, "#geofence-map[data-ready='true']").await;
    // leaflet-geoman's toolbar is there for a dispatcher (admin).
    find(&client, ".leaflet-pm-toolbar").await;
    fill_input(&client, "#geofence-name", "North depot").await;
    fill_input(&client, "#geofence-vehicles", "van-1, van-2").await;
    // A drawn circle takes the same path as one geoman finishes: the map's pm:create event.
    client
        .execute(
            "window.packetpulseGeofences.created(L.circle([37.99, 23.73], { radius: 250 }))",
            vec![],
        )
        .await
        .unwrap();
    find(&client, "#geofence-map[data-geofences='1']").await;
    let item = find(&client, "#geofence-list li").await.text().await.unwrap();
    assert_eq!(item, "North depot — van-1, van-2");
    let status = find(&client, "#geofence-status").await.text().await.unwrap();
    assert_eq!(status, "Saved “North depot”.");
    screenshot(&client, "geofence-editor").await;

    // Through the API as Jupiter will read it: a 250 m circle for the two vans.
    let http = http();
    http_sign_in(&http, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    let all: Value = common::json(http.get(format!("{}/api/v1/geofences", dashboard.url))).await;
    let feature = &all["features"][0];
    assert!(feature["id"].as_str().unwrap().starts_with("north-depot-"));
    assert_eq!(feature["properties"]["radius_m"], json!(250.0));
    assert_eq!(feature["properties"]["vehicles"], json!(["van-1", "van-2"]));

    // A viewer sees it, without the drawing tools.
    common::create_user(&dashboard.url, "watcher", "viewer").await;
    client.goto(&format!("{}/login", dashboard.url)).await.unwrap();
    client.delete_all_cookies().await.unwrap();
    sign_in(&client, &dashboard.url, "watcher", common::USER_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client
        .goto(&format!("{}/geofences", dashboard.url))
        .await
        .unwrap();
    hydrated(&client).await;
    find(&client, "#geofence-map[data-geofences='1']").await;
    assert!(
        client
            .find(fantoccini::Locator::Css(".leaflet-pm-toolbar"))
            .await
            .is_err()
    );
    assert!(
        client
            .find(fantoccini::Locator::Css("#geofence-form"))
            .await
            .is_err()
    );
    // Closing the session closes the browser; chromedriver's exit alone leaves it running.
    client.close().await.unwrap();
    dashboard.stop().await;
}

async fn fill_input(client: &fantoccini::Client, css: &str, value: &str) {
    common::find(client, css).await.send_keys(value).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_overrides_round_trip_through_their_compacted_topic() {
    let dashboard = Dashboard::start().await;
    let base = &dashboard.url;
    let client = http();
    http_sign_in(&client, base, "admin", ADMIN_PASSWORD).await;
    let rules = packetpulse_testkit::wait_until("the rule list", Duration::from_secs(30), || async {
        let response = client
            .get(format!("{base}/api/v1/alert-rules"))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => Ok(Some(response.json::<Value>().await.unwrap())),
            status => Err(format!("status {status}")),
        }
    })
    .await
    .unwrap();
    assert_eq!(
        rules,
        json!([
            {"rule": "overspeed", "kmh": null, "seconds": null},
            {"rule": "idle", "kmh": null, "seconds": null},
            {"rule": "offline", "kmh": null, "seconds": null},
            {"rule": "abandoned", "kmh": null, "seconds": null},
        ])
    );
    let put = |rule: &str, body: Value| {
        client
            .put(format!("{base}/api/v1/alert-rules/{rule}"))
            .json(&body)
            .send()
    };
    assert_eq!(
        put("overspeed", json!({"kmh": 70, "seconds": 15}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        put("offline", json!({"seconds": 300})).await.unwrap().status(),
        200
    );
    let rules: Value = common::json(client.get(format!("{base}/api/v1/alert-rules"))).await;
    assert_eq!(rules[0], json!({"rule": "overspeed", "kmh": 70.0, "seconds": 15}));
    assert_eq!(rules[2], json!({"rule": "offline", "kmh": null, "seconds": 300}));

    // In the topic as Jupiter reads it.
    let overspeed = record(&dashboard, "alert-rules", 2, "overspeed");
    assert_eq!(
        RuleThresholds::from_record("overspeed", &overspeed),
        Ok(RuleThresholds {
            kmh: Some(70.0),
            seconds: Some(15)
        })
    );

    for (rule, body, reason) in [
        ("speeding", json!({"seconds": 5}), "rule must be one of"),
        ("offline", json!({"kmh": 10, "seconds": 60}), "no speed"),
        ("overspeed", json!({"kmh": 1000}), "kmh must be from"),
        ("idle", json!({}), "set kmh or seconds"),
        ("idle", json!({"seconds": "soon"}), "not rule thresholds"),
    ] {
        let answer = put(rule, body).await.unwrap();
        assert_eq!(answer.status(), 400);
        let error = answer.text().await.unwrap();
        assert!(error.contains(reason), "{error} should mention {reason}");
    }

    let reset = client
        .delete(format!("{base}/api/v1/alert-rules/overspeed"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    let rules: Value = common::json(client.get(format!("{base}/api/v1/alert-rules"))).await;
    assert_eq!(rules[0]["kmh"], Value::Null);
    let again = client
        .delete(format!("{base}/api/v1/alert-rules/overspeed"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    dashboard.stop().await;
}
