//! Device credentials: Mercury's Ed25519 device tokens authenticate a device, bind it to its vehicle (another
//! vehicle's events get a precise error and go to the dead-letter topic), a fleet token is bound to none, and a
//! revocation on the compacted topic closes the device's open connection and refuses it from then on, within
//! 5 s — also for a Venus started after the revocation.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use common::{
    Client, RunningVenus, connect, expect_close, next_json, read_topic, send_text, start, test_config,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use packetpulse_model::devices::{AUDIENCE, DeviceClaims, ISSUER, Revocation};
use packetpulse_model::{AuthenticationFrame, AuthenticationReply};
use packetpulse_testkit::Kafka;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

/// Mercury's key pair, as `make up` makes it: the private half signs, Venus gets the public half.
struct Issuer {
    pkcs8: Vec<u8>,
    public_key: String,
}

impl Issuer {
    fn new() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Self {
            pkcs8: pkcs8.as_ref().to_vec(),
            public_key: base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref()),
        }
    }

    fn token(&self, device: &str, vehicle: Option<&str>, jti: &str) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let claims = DeviceClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: device.into(),
            vid: vehicle.map(str::to_owned),
            jti: jti.into(),
            iat: now,
            nbf: now,
            exp: now + 3600,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_der(&self.pkcs8),
        )
        .unwrap()
    }
}

async fn venus(kafka: &Kafka, issuer: &Issuer) -> RunningVenus {
    let mut config = test_config(kafka);
    config.device_token_key = issuer.public_key.clone();
    start(kafka, config).await
}

async fn authenticate(venus: &RunningVenus, token: &str) -> (Client, AuthenticationReply) {
    let mut client = connect(venus).await;
    let frame = serde_json::to_string(&AuthenticationFrame::token(token)).unwrap();
    send_text(&mut client, &frame).await;
    let reply = serde_json::from_value(next_json(&mut client).await).unwrap();
    (client, reply)
}

fn event(vehicle: &str, session: &str) -> Value {
    json!({
        "device_id": "device-7", "vehicle_id": vehicle, "session_id": session, "order_id": "order-1",
        "status": "en_route", "timestamp": "2026-11-30T12:00:00Z",
        "start_lat": 37.97, "start_lon": 23.76, "end_lat": 37.98, "end_lon": 23.72,
        "current_lat": 37.975, "current_lon": 23.74
    })
}

async fn revoke(kafka: &Kafka, topic: &str, jti: &str) {
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let revocation = Revocation {
        jti: jti.into(),
        device_id: "device-7".into(),
        revoked_at_ms: 0,
    };
    let payload = serde_json::to_string(&revocation).unwrap();
    producer
        .send(
            FutureRecord::to(topic).key(jti).payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vehicle_credential_sends_its_own_vehicles_events_only() {
    let kafka = Kafka::start_mock().unwrap();
    let issuer = Issuer::new();
    let venus = venus(&kafka, &issuer).await;
    let (mut client, reply) =
        authenticate(&venus, &issuer.token("device-7", Some("vehicle-7"), "cred-1")).await;
    assert!(reply.is_authenticated(), "{reply:?}");
    assert_eq!(reply.message, "authenticated as device:device-7");
    let frame = json!([event("vehicle-7", "s-own"), event("vehicle-8", "s-other")]).to_string();
    send_text(&mut client, &frame).await;
    let reply = next_json(&mut client).await;
    assert_eq!(reply["accepted"], 1, "{reply}");
    assert_eq!(reply["rejected"], json!([1]));
    assert_eq!(reply["errors"][0]["field"], "[1].vehicle_id");
    assert!(
        reply["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is not the vehicle this credential belongs to (\"vehicle-7\")"),
        "{reply}"
    );
    let published = read_topic(&kafka, &venus.config().topic, 1);
    assert_eq!(published[0].payload["vehicle_id"], "vehicle-7");
    let letters = read_topic(&kafka, &venus.config().dead_letter_topic, 1);
    assert_eq!(letters[0].payload["client"], "device:device-7");
    assert!(
        letters[0].payload["raw_payload"]
            .as_str()
            .unwrap()
            .contains("vehicle-8")
    );

    // A fleet credential (no vehicle) sends for any vehicle.
    let (mut fleet, reply) = authenticate(&venus, &issuer.token("gateway-1", None, "cred-fleet")).await;
    assert!(reply.is_authenticated());
    send_text(
        &mut fleet,
        &json!([event("vehicle-8", "s-a"), event("vehicle-9", "s-b")]).to_string(),
    )
    .await;
    assert_eq!(next_json(&mut fleet).await["accepted"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_not_signed_by_mercury_or_not_for_venus_are_refused() {
    let kafka = Kafka::start_mock().unwrap();
    let issuer = Issuer::new();
    let venus = venus(&kafka, &issuer).await;
    let impostor = Issuer::new();
    let (_, reply) = authenticate(&venus, &impostor.token("device-7", Some("vehicle-7"), "cred-x")).await;
    assert!(!reply.is_authenticated());
    assert!(reply.message.starts_with("invalid token"), "{reply:?}");
    // Signed by Mercury's key but for another audience.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"iss": ISSUER, "aud": "someone-else", "sub": "d", "jti": "j", "iat": now, "nbf": now, "exp": now + 60});
    let other = jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        &claims,
        &EncodingKey::from_ed_der(&issuer.pkcs8),
    )
    .unwrap();
    let (_, reply) = authenticate(&venus, &other).await;
    assert!(!reply.is_authenticated(), "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_is_cut_off_within_five_seconds_and_stays_out() {
    let kafka = Kafka::start_mock().unwrap();
    let issuer = Issuer::new();
    let venus = venus(&kafka, &issuer).await;
    let token = issuer.token("device-7", Some("vehicle-7"), "cred-revoked");
    let (mut client, reply) = authenticate(&venus, &token).await;
    assert!(reply.is_authenticated());
    send_text(&mut client, &event("vehicle-7", "s-1").to_string()).await;
    assert_eq!(next_json(&mut client).await["success"], true);

    let revoked_at = Instant::now();
    revoke(&kafka, &venus.config().device_revocation_topic, "cred-revoked").await;
    assert_eq!(
        expect_close(&mut client).await,
        (1008, "credential revoked".into())
    );
    let took = revoked_at.elapsed();
    println!("revocation closed the open connection in {} ms", took.as_millis());
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let (_, reply) = authenticate(&venus, &token).await;
    assert_eq!(
        reply,
        AuthenticationReply::error("this device credential was revoked")
    );
    // Another credential of the same fleet is unaffected.
    let (_, reply) = authenticate(&venus, &issuer.token("device-8", Some("vehicle-8"), "cred-other")).await;
    assert!(reply.is_authenticated());

    // A Venus started after the revocation refuses the credential from its first connection.
    let mut config = venus.config().clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    // Its topics exist already: bind it directly (testing::start would create them again).
    let later = venus::Venus::bind(config).await.unwrap().spawn();
    let (_, reply) = authenticate(&later, &token).await;
    assert_eq!(
        reply,
        AuthenticationReply::error("this device credential was revoked")
    );
}
