//! What an operator sees: `/health`, `/ready` (Kafka reachable) and `/metrics` with the counts that matter.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use common::{connect_authenticated, next_json, original_event, send_text, start, test_config};
use packetpulse_testkit::Kafka;

async fn get(url: String) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_metrics_tell_the_operator_what_happened() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = start(&kafka, test_config(&kafka)).await;
    let base = format!("http://{}", venus.local_addr());
    assert_eq!(
        get(format!("{base}/health")).await,
        (200, r#"{"status":"ok"}"#.into())
    );
    assert_eq!(
        get(format!("{base}/ready")).await,
        (200, r#"{"status":"ready"}"#.into())
    );

    let mut client = connect_authenticated(&venus).await;
    let batch = serde_json::json!([
        original_event("s-m", "started", 37.9),
        original_event("s-m", "en_route", 99.0)
    ]);
    send_text(&mut client, &batch.to_string()).await;
    assert_eq!(next_json(&mut client).await["accepted"], 1);

    let (status, metrics) = get(format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    for line in [
        "venus_connections 1",
        "venus_events_accepted_total 1",
        r#"venus_events_rejected_total{reason="current_lat"} 1"#,
        r#"venus_frames_total{outcome="rejected"} 1"#,
        "venus_publish_latency_seconds_count 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_reports_503_when_kafka_is_down() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = start(&kafka, test_config(&kafka)).await;
    kafka.stop();
    let (status, body) = get(format!("http://{}/ready", venus.local_addr())).await;
    assert_eq!(status, 503);
    assert!(body.contains("is not reachable"), "{body}");
}
