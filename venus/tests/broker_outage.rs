//! The broker goes away (real tansu, stopped by PID): Venus never claims success for an event Kafka does not
//! have. Within the delivery timeout the reply waits for the broker's return; beyond it the frame is answered
//! as retryable with its messages withdrawn from the producer, and a resend after recovery is the only copy.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use std::time::Duration;

use common::{
    connect_authenticated, next_json, original_event, read_topic, read_topic_until_quiet, send_text, start,
    test_config,
};
use futures::StreamExt;
use packetpulse_testkit::Kafka;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_waits_for_the_broker_to_return_within_the_delivery_timeout() {
    let kafka = Kafka::start_tansu().expect("tansu must be available");
    let mut config = test_config(&kafka);
    config.delivery_timeout = Duration::from_secs(60);
    let venus = start(&kafka, config).await;
    let mut client = connect_authenticated(&venus).await;
    send_text(
        &mut client,
        &original_event("s-outage", "started", 37.90).to_string(),
    )
    .await;
    assert_eq!(next_json(&mut client).await["success"], true);

    kafka.stop();
    send_text(
        &mut client,
        &original_event("s-outage", "en_route", 37.91).to_string(),
    )
    .await;
    let early = tokio::time::timeout(Duration::from_secs(2), client.next()).await;
    assert!(early.is_err(), "no reply while Kafka is down: {early:?}");

    kafka.restart().unwrap();
    assert_eq!(
        next_json(&mut client).await,
        json!({"success": true, "message": "Data received", "accepted": 1})
    );
    let records = read_topic(&kafka, &venus.config().topic, 2);
    assert_eq!(records[1].payload["current_lat"], 37.91);
}

/// Past the delivery timeout librdkafka itself gives the messages up (`message.timeout.ms` is the delivery
/// timeout), so the frame is answered as retryable with nothing left queued: the client's resend is the only
/// copy Kafka gets.
async fn beyond_the_delivery_timeout_only_the_resend_reaches_kafka(kafka: &Kafka, idempotence: bool) {
    let mut config = test_config(kafka);
    config.delivery_timeout = Duration::from_secs(2);
    config.kafka_idempotence = idempotence;
    let venus = start(kafka, config).await;
    let mut client = connect_authenticated(&venus).await;

    kafka.stop();
    let batch = json!([
        original_event("s-timeout", "started", 37.90),
        original_event("s-timeout", "en_route", 37.91)
    ]);
    send_text(&mut client, &batch.to_string()).await;
    let reply = next_json(&mut client).await;
    assert_eq!(reply["success"], false);
    assert_eq!(reply["retryable"], true);
    assert_eq!(reply["accepted"], 0);
    assert_eq!(reply["failed"], json!([0, 1]));
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("resend them with the same event ids"),
        "{reply}"
    );

    // After the broker is back, the client resends until Kafka takes it, as Mars does.
    kafka.restart().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        send_text(&mut client, &batch.to_string()).await;
        let reply = next_json(&mut client).await;
        if reply["success"] == true {
            assert_eq!(
                reply,
                json!({"success": true, "message": "Data received", "accepted": 2})
            );
            break;
        }
        assert_eq!(reply["retryable"], true, "{reply}");
        assert!(
            std::time::Instant::now() < deadline,
            "Kafka still not taking events 60 s after restart: {reply}"
        );
    }
    // Nothing was in flight when the broker went away, so no copy can have reached it: each event once.
    let records = read_topic_until_quiet(kafka, &venus.config().topic, 2);
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r.payload["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "one record per event, no expired copy delivered late: {ids:?}"
    );
}

/// librdkafka's mock cluster with Venus' default idempotent producer (real Kafka bumps the producer epoch
/// after an expiry, as the mock does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_delivery_timeout_the_frame_is_retryable_and_only_the_resend_is_kept() {
    beyond_the_delivery_timeout_only_the_resend_reaches_kafka(&Kafka::start_mock().unwrap(), true).await;
}

/// The real broker with the tansu workaround: tansu 0.6 refuses the idempotent producer's epoch bump that an
/// expired message forces ("Unknown broker error" for every later message), see README.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_tansu_beyond_the_delivery_timeout_only_the_resend_is_kept() {
    let kafka = Kafka::start_tansu().expect("tansu must be available");
    beyond_the_delivery_timeout_only_the_resend_reaches_kafka(&kafka, false).await;
}
