//! Alerts in the browser: an alert Jupiter publishes reaches every signed-in page within a second (a toast and
//! the counter), the alerts page lists silver's alerts with filters, and a dispatcher's acknowledgement is
//! recorded once, shown, told to the other browsers, and refused to a viewer.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{ADMIN_PASSWORD, Dashboard, browser, find, hydrated, screenshot, sign_in, wait_for_path};
use packetpulse_model::{Alert, AlertKind, GeoPoint, alert_id};
use rdkafka::producer::{FutureProducer, FutureRecord};
use uuid::Uuid;

fn alert(round: u32, kind: AlertKind) -> Alert {
    let session_id = format!("alerting-{round}");
    let trigger = Uuid::new_v4();
    Alert {
        alert_id: alert_id(kind, &session_id, "", trigger),
        kind,
        session_id,
        vehicle_id: format!("van-{round}"),
        geofence_id: None,
        trigger_event_id: trigger,
        at: Utc::now(),
        position: GeoPoint::new(37.98, 23.72),
        message: format!("vehicle \"van-{round}\" above 90 km/h for 30 s (top 104 km/h)"),
    }
}

/// What Jupiter does with an alert: the topic (acknowledged), then silver's row.
async fn raise(dashboard: &Dashboard, alert: &Alert) {
    let producer: FutureProducer = dashboard.kafka.client_config().create().unwrap();
    let payload = serde_json::to_vec(alert).unwrap();
    producer
        .send(
            FutureRecord::to(&dashboard.alerts_topic)
                .key(&alert.session_id)
                .payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let client = packetpulse_testkit::shared_clickhouse()
        .unwrap()
        .client()
        .with_database(&dashboard.clickhouse_database);
    client
        .query(
            "INSERT INTO alerts (alert_id, kind, session_id, vehicle_id, geofence_id, trigger_event_id, at, at_ms, \
             lat, lon, message, detected_at_ms) VALUES (?, ?, ?, ?, '', ?, toDateTime(?, 'UTC'), ?, ?, ?, ?, ?)",
        )
        .bind(alert.alert_id.to_string())
        .bind(alert.kind.as_str())
        .bind(&alert.session_id)
        .bind(&alert.vehicle_id)
        .bind(alert.trigger_event_id.to_string())
        .bind(alert.at.timestamp())
        .bind(alert.at.timestamp_millis())
        .bind(alert.position.lat)
        .bind(alert.position.lon)
        .bind(&alert.message)
        .bind(Utc::now().timestamp_millis())
        .execute()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_alert_reaches_every_page_within_a_second_and_a_dispatcher_acknowledges_it() {
    let dashboard = Dashboard::start().await;
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    hydrated(&client).await;
    find(&client, "#alert-count").await;

    // Alerts raised before Mercury's consumer got its partition are not pushed: the latency counts from the
    // first round that got through, and every later round must arrive within a second.
    let mut latencies = Vec::new();
    let mut raised = Vec::new();
    for round in 1..=20 {
        let alert = alert(round, AlertKind::Overspeed);
        raise(&dashboard, &alert).await;
        let produced = Instant::now();
        let toast = format!(".toast[data-alert='{}']", alert.alert_id);
        let deadline = produced + Duration::from_secs(3);
        let mut seen = false;
        while Instant::now() < deadline {
            if client.find(fantoccini::Locator::Css(&toast)).await.is_ok() {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        raised.push(alert);
        if seen {
            latencies.push(produced.elapsed());
        } else {
            assert!(
                latencies.is_empty(),
                "round {round} never reached the page after earlier rounds did"
            );
        }
        if latencies.len() == 5 {
            break;
        }
    }
    println!("alert produced → toast shown: {latencies:?}");
    assert_eq!(latencies.len(), 5, "no alert reached the page");
    assert!(
        latencies[1..]
            .iter()
            .all(|latency| *latency <= Duration::from_secs(1)),
        "{latencies:?}"
    );
    let toast = find(&client, ".toast").await.text().await.unwrap();
    assert!(
        toast.contains("overspeed") && toast.contains("top 104 km/h"),
        "{toast}"
    );
    // The counter counts the toasts seen on top of the open alerts found at load.
    let count: u64 = find(&client, "#alert-count")
        .await
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(count >= 5, "counter {count}");
    screenshot(&client, "alerts-toast").await;

    // The alerts page lists them (silver), newest first; the filter by vehicle narrows to one.
    let newest = raised.last().unwrap();
    client
        .goto(&format!("{}/alerts?state=open", dashboard.url))
        .await
        .unwrap();
    hydrated(&client).await;
    let first_row = find(&client, "#alerts tbody tr").await;
    assert_eq!(
        first_row.attr("data-alert").await.unwrap().unwrap(),
        newest.alert_id.to_string()
    );
    client
        .goto(&format!("{}/alerts?vehicle={}", dashboard.url, newest.vehicle_id))
        .await
        .unwrap();
    hydrated(&client).await;
    find(&client, "#alert-total").await;
    let total = find(&client, "#alert-total").await.text().await.unwrap();
    assert_eq!(total, "1 alerts in the last day");

    // Acknowledged from the page: the row says by whom, the open list no longer has it.
    let button = find(&client, &format!("button.ack[data-alert='{}']", newest.alert_id)).await;
    button.click().await.unwrap();
    let row = format!("#alerts tr[data-alert='{}']", newest.alert_id);
    packetpulse_testkit::wait_until("the acknowledgement shown", Duration::from_secs(10), || {
        let (client, row) = (client.clone(), row.clone());
        async move {
            let text = client
                .find(fantoccini::Locator::Css(&row))
                .await
                .map_err(|error| error.to_string())?
                .text()
                .await
                .map_err(|error| error.to_string())?;
            Ok::<_, String>(text.contains("acknowledged by admin").then_some(()))
        }
    })
    .await
    .unwrap();
    screenshot(&client, "alerts-page").await;
    let http = common::http();
    common::http_sign_in(&http, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    let open: serde_json::Value =
        common::json(http.get(format!("{}/api/v1/alerts?state=open&per_page=200", dashboard.url))).await;
    let open_ids: Vec<&str> = open["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["alert_id"].as_str().unwrap())
        .collect();
    assert!(!open_ids.contains(&newest.alert_id.to_string().as_str()));
    assert_eq!(open_ids.len(), raised.len() - 1);
    let acknowledged: serde_json::Value =
        common::json(http.get(format!("{}/api/v1/alerts?state=acknowledged", dashboard.url))).await;
    assert_eq!(acknowledged["total"], 1);
    assert_eq!(acknowledged["rows"][0]["acknowledged_by"], "admin");

    // A second acknowledgement changes nothing; an unknown id is not found; a bad filter is a clear error.
    let again = http
        .post(format!(
            "{}/api/v1/alerts/{}/acknowledge",
            dashboard.url, newest.alert_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let unknown = http
        .post(format!(
            "{}/api/v1/alerts/{}/acknowledge",
            dashboard.url,
            Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad = http
        .get(format!("{}/api/v1/alerts?kind=speeding", dashboard.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("kind must be one of"));
    // Closing the session closes the browser; chromedriver's exit alone leaves it running.
    client.close().await.unwrap();
    dashboard.stop().await;
}
