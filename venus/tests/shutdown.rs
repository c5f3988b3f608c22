//! Graceful shutdown: frames in flight are answered, then sockets close with 1001 (going away).

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use common::{config_for, connect_authenticated, next_json, original_event, send_text, start};
use packetpulse_testkit::Kafka;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_in_flight_are_answered_before_the_socket_closes_with_1001() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = start(&kafka, config_for(&kafka)).await;
    let mut client = connect_authenticated(&venus).await;
    for i in 0..20 {
        send_text(
            &mut client,
            &original_event("s-bye", "en_route", 37.9 + f64::from(i) * 1e-3).to_string(),
        )
        .await;
    }
    // Wait for the first reply so all frames have reached Venus' socket buffer, then shut down.
    assert_eq!(next_json(&mut client).await["success"], true);
    let stopping = tokio::spawn(venus.shutdown());
    let mut answered = 1;
    loop {
        match tokio::time::timeout(
            std::time::Duration::from_secs(30),
            futures::StreamExt::next(&mut client),
        )
        .await
        .unwrap()
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert!(
                    reply == json!({"success": true, "message": "Data received", "accepted": 1})
                        || reply["retryable"] == true,
                    "every frame gets a definite answer: {reply}"
                );
                answered += 1;
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
                assert_eq!(
                    (u16::from(frame.code), frame.reason.as_str()),
                    (1001, "server shutting down")
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(answered, 20, "one reply per frame before the close");
    stopping.await.unwrap().unwrap();
}
