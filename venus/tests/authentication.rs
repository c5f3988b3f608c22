//! Who may talk to Venus: API keys and device JWTs, by frame or header; everyone else is told why and closed
//! with 1008, and nothing they sent is published.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{
    RunningVenus, connect, expect_close, next_json, original_event, read_topic, send_text, start, test_config,
};
use jsonwebtoken::{EncodingKey, Header};
use packetpulse_testkit::Kafka;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "test-jwt-secret-of-at-least-32-bytes";
const AUDIENCE: &str = "packetpulse-venus";

async fn venus_with_jwt(kafka: &Kafka) -> RunningVenus {
    let mut config = test_config(kafka);
    config.jwt_hs256_secret = Some(SECRET.into());
    start(kafka, config).await
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn token(secret: &str, subject: &str, expires: u64, audience: &str) -> String {
    let claims = json!({"sub": subject, "exp": expires, "aud": audience});
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn assert_auth_refused(venus: &RunningVenus, frame: &str, message: &str) {
    let mut client = connect(venus).await;
    send_text(&mut client, frame).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"status": "error", "message": message})
    );
    assert_eq!(
        expect_close(&mut client).await,
        (1008, "authentication failed".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_refused_and_closed_with_policy_violation() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = start(&kafka, test_config(&kafka)).await;
    assert_auth_refused(
        &venus,
        r#"{"type":"authentication","api_key":"guess"}"#,
        "invalid API key",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_before_authentication_is_refused_and_never_published() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = start(&kafka, test_config(&kafka)).await;
    let event = original_event("sneaky", "started", 37.9).to_string();
    let message = r#"not authenticated: send {"type":"authentication","api_key":"…"} or {"type":"authentication","token":"…"} first"#;
    assert_auth_refused(&venus, &event, message).await;
    read_topic(&kafka, &venus.config().topic, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_jwt_is_refused() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = venus_with_jwt(&kafka).await;
    let expired = token(SECRET, "device-1", now() - 3600, AUDIENCE);
    let frame = json!({"type": "authentication", "token": expired}).to_string();
    assert_auth_refused(&venus, &frame, "invalid token: ExpiredSignature").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_jwt_is_refused() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = venus_with_jwt(&kafka).await;
    let forged = token("not-the-secret", "device-1", now() + 3600, AUDIENCE);
    let frame = json!({"type": "authentication", "token": forged}).to_string();
    assert_auth_refused(&venus, &frame, "invalid token: InvalidSignature").await;
    let other_audience = token(SECRET, "device-1", now() + 3600, "someone-else");
    let frame = json!({"type": "authentication", "token": other_audience}).to_string();
    assert_auth_refused(&venus, &frame, "invalid token: InvalidAudience").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_jwt_in_the_first_frame_authenticates_the_device() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = venus_with_jwt(&kafka).await;
    let mut client = connect(&venus).await;
    let frame = json!({"type": "authentication", "token": token(SECRET, "device-7", now() + 3600, AUDIENCE)});
    send_text(&mut client, &frame.to_string()).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"status": "authenticated", "message": "authenticated as jwt:device-7"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_jwt_on_the_upgrade_request_needs_no_authentication_frame() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = venus_with_jwt(&kafka).await;
    let mut request = venus.ws_url().into_client_request().unwrap();
    let bearer = format!("Bearer {}", token(SECRET, "device-9", now() + 3600, AUDIENCE));
    request
        .headers_mut()
        .insert("authorization", bearer.parse().unwrap());
    let (mut client, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send_text(&mut client, &original_event("s-jwt", "started", 37.9).to_string()).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"success": true, "message": "Data received", "accepted": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_bearer_jwt_gets_401_before_any_websocket() {
    let kafka = Kafka::start_mock().unwrap();
    let venus = venus_with_jwt(&kafka).await;
    let mut request = venus.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer abc.def.ghi".parse().unwrap());
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = error else {
        panic!("expected HTTP error: {error}")
    };
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["status"], "error");
    assert!(
        body["message"].as_str().unwrap().starts_with("invalid token: "),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_get_503_with_the_limit() {
    let kafka = Kafka::start_mock().unwrap();
    let mut config = test_config(&kafka);
    config.max_connections = 1;
    let venus = start(&kafka, config).await;
    let _first = common::connect_authenticated(&venus).await;
    let error = tokio_tungstenite::connect_async(venus.ws_url())
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = error else {
        panic!("expected HTTP error: {error}")
    };
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"status": "error", "message": "too many connections (limit 1), retry later"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_with_the_reason() {
    let kafka = Kafka::start_mock().unwrap();
    let mut config = test_config(&kafka);
    config.idle_timeout = std::time::Duration::from_secs(1);
    let venus = start(&kafka, config).await;
    let mut client = common::connect_authenticated(&venus).await;
    assert_eq!(expect_close(&mut client).await, (1000, "idle for 1s".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_device_tokens_are_checked_against_the_configured_public_key() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let kafka = Kafka::start_mock().unwrap();
    let mut config = test_config(&kafka);
    config.jwt_rs256_public_key_file = Some(fixtures.join("rs256-test-public.pem"));
    let venus = start(&kafka, config).await;

    let private_key = std::fs::read(fixtures.join("rs256-test-private.pem")).unwrap();
    let claims = json!({"sub": "device-rsa", "exp": now() + 3600, "aud": AUDIENCE});
    let signed = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(&private_key).unwrap(),
    )
    .unwrap();
    let mut client = connect(&venus).await;
    send_text(
        &mut client,
        &json!({"type": "authentication", "token": signed}).to_string(),
    )
    .await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"status": "authenticated", "message": "authenticated as jwt:device-rsa"})
    );

    // An HS256 token, even with the right claims, is refused: the algorithm is pinned.
    let hs256 = token("anything", "device-rsa", now() + 3600, AUDIENCE);
    let frame = json!({"type": "authentication", "token": hs256}).to_string();
    assert_auth_refused(&venus, &frame, "invalid token: InvalidAlgorithm").await;
}
