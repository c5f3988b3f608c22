//! Mars → Venus → Kafka with the real broker: every event Mars saw acknowledged is in the topic exactly once,
//! keyed by its session, in session order.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use std::collections::BTreeSet;

use common::{id_counts, read_events_log, read_topic, seqs_by_session, start_venus, test_config};
use packetpulse_testkit::shared_kafka;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_vehicles_complete_and_every_acked_event_is_in_kafka_exactly_once_in_order() {
    let kafka = shared_kafka().expect("tansu must be available");
    let venus = start_venus(kafka, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("acked.log");
    let summary = mars::run(test_config(&venus, 1000, &log), std::future::pending())
        .await
        .unwrap();
    println!("mars: {summary}");

    assert_eq!(summary.sessions_started, 1000);
    assert_eq!(summary.sessions_completed, 1000);
    assert_eq!(summary.events_rejected, 0);
    assert_eq!(summary.events_acked, summary.events_generated);
    let acked = read_events_log(&log);
    assert_eq!(acked.len() as u64, summary.events_acked);

    let records = read_topic(kafka, &venus.config().topic, acked.len());
    let counts = id_counts(&records);
    assert!(counts.values().all(|&n| n == 1), "no event twice in the topic");
    let logged: BTreeSet<&str> = acked.iter().map(|a| a.event_id.as_str()).collect();
    let published: BTreeSet<&str> = counts.keys().copied().collect();
    assert_eq!(
        logged, published,
        "the topic holds exactly the acknowledged events"
    );
    assert!(
        records.iter().all(|r| r.key == r.session_id),
        "keyed by session id"
    );
    let sessions = seqs_by_session(&records);
    assert_eq!(sessions.len(), 1000);
    for (session, seqs) in sessions {
        assert!(
            seqs.iter().copied().eq(0..seqs.len() as u64),
            "session {session} out of order: {seqs:?}"
        );
    }
    venus::testing::stop(venus).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_stops_mars_with_a_clear_error() {
    let kafka = packetpulse_testkit::Kafka::start_mock().unwrap();
    let venus = start_venus(&kafka, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&venus, 3, &dir.path().join("acked.log"));
    config.api_key = "a-wrong-key-0000".into();
    let error = mars::run(config, std::future::pending()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "Venus at {} refused authentication: invalid API key — check MARS_API_KEY / MARS_JWT",
            venus.ws_url()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mars_can_authenticate_with_a_device_jwt_instead_of_an_api_key() {
    let kafka = packetpulse_testkit::Kafka::start_mock().unwrap();
    let venus = start_venus(&kafka, |config| {
        config.jwt_hs256_secret = Some("fleet-secret-of-at-least-thirty-two-bytes".into())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&venus, 5, &dir.path().join("acked.log"));
    config.api_key = "not-used".into();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = serde_json::json!({"sub": "fleet-gateway", "exp": exp, "aud": "packetpulse-venus"});
    config.jwt = Some(
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"fleet-secret-of-at-least-thirty-two-bytes"),
        )
        .unwrap(),
    );
    let summary = mars::run(config, std::future::pending()).await.unwrap();
    assert_eq!((summary.sessions_started, summary.sessions_completed), (5, 5));
    assert_eq!(summary.events_acked, summary.events_generated);
}
