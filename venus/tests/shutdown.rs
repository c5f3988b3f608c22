//! Graceful shutdown: frames Venus has received are answered (after Kafka has them), then sockets close with
//! 1001 (going away).

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use std::time::Duration;

use common::{connect_authenticated, next_json, original_event, read_topic, send_text, start, test_config};
use futures::StreamExt;
use packetpulse_testkit::{Kafka, wait_until};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_in_flight_are_answered_before_the_socket_closes_with_1001() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = start(&kafka, test_config(&kafka)).await;
    let metrics_url = format!("http://{}/metrics", venus.local_addr());
    let topic = venus.config().topic.clone();
    let mut client = connect_authenticated(&venus).await;

    // With the broker down, frames are received but cannot be answered: they are in flight.
    kafka.stop();
    for i in 0..20 {
        send_text(
            &mut client,
            &original_event("s-bye", "en_route", 37.9 + f64::from(i) * 1e-3).to_string(),
        )
        .await;
    }
    wait_until("20 frames in flight", Duration::from_secs(30), || {
        let url = metrics_url.clone();
        async move {
            let metrics = reqwest::get(url)
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            Ok(metrics
                .lines()
                .any(|line| line == "venus_frames_in_flight 20")
                .then_some(()))
        }
    })
    .await
    .unwrap();

    let stopping = tokio::spawn(venus.shutdown());
    kafka.restart().unwrap();
    for _ in 0..20 {
        assert_eq!(
            next_json(&mut client).await,
            json!({"success": true, "message": "Data received", "accepted": 1})
        );
    }
    let close = tokio::time::timeout(Duration::from_secs(30), client.next())
        .await
        .unwrap();
    let Some(Ok(Message::Close(Some(frame)))) = close else {
        panic!("expected a close frame, got {close:?}")
    };
    assert_eq!(
        (u16::from(frame.code), frame.reason.as_str()),
        (1001, "server shutting down")
    );
    stopping.await.unwrap().unwrap();
    read_topic(&kafka, &topic, 20);
}
