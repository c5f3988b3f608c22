//! Valid events go in, Kafka has them, the client hears so: the original simulator's protocol, batches,
//! pipelining, JWT header authentication.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use common::{connect_authenticated, next_json, original_event, read_topic, send_text, start, test_config};
use packetpulse_testkit::Kafka;
use serde_json::json;
use venus::testing::stop;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_the_original_simulators_messages_unchanged() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = start(&kafka, test_config(&kafka)).await;
    let mut client = connect_authenticated(&venus).await;

    let event = original_event("session-a", "started", 37.975678);
    send_text(&mut client, &event.to_string()).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"success": true, "message": "Data received", "accepted": 1})
    );

    let records = read_topic(&kafka, &venus.config().topic, 1);
    let record = &records[0];
    assert_eq!(record.key.as_deref(), Some("session-a"), "keyed by session id");
    assert_eq!(
        record.payload["timestamp"], "2024-05-01T12:30:00.123456Z",
        "naive timestamp taken as UTC"
    );
    assert_eq!(record.payload["status"], "started");
    assert_eq!(
        record.payload["event_id"].as_str().unwrap().len(),
        36,
        "event id derived"
    );
    assert!(record.payload["received_at"].as_str().unwrap().ends_with('Z'));
    stop(venus).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_frames_get_replies_in_order_and_events_keep_session_order() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = start(&kafka, test_config(&kafka)).await;
    let mut client = connect_authenticated(&venus).await;

    // 50 frames without waiting: 25 single events and 25 batches of 4, all one session.
    let mut lat = 37.0;
    let mut expected_accepts = Vec::new();
    for frame in 0..50 {
        if frame % 2 == 0 {
            lat += 0.001;
            send_text(
                &mut client,
                &original_event("session-p", "en_route", lat).to_string(),
            )
            .await;
            expected_accepts.push(1);
        } else {
            let batch: Vec<_> = (0..4)
                .map(|_| {
                    lat += 0.001;
                    original_event("session-p", "en_route", lat)
                })
                .collect();
            send_text(&mut client, &serde_json::to_string(&batch).unwrap()).await;
            expected_accepts.push(4);
        }
    }
    for expected in expected_accepts {
        let reply = next_json(&mut client).await;
        assert_eq!(
            reply,
            json!({"success": true, "message": "Data received", "accepted": expected})
        );
    }
    let records = read_topic(&kafka, &venus.config().topic, 125);
    let lats: Vec<f64> = records
        .iter()
        .map(|r| r.payload["current_lat"].as_f64().unwrap())
        .collect();
    assert!(
        lats.windows(2).all(|w| w[0] < w[1]),
        "one session, one partition, arrival order kept"
    );
    stop(venus).await.unwrap();
}
