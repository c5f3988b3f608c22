//! Bad input, one story each: the exact reply, the connection still usable, valid events of the same batch kept,
//! and the refused input in the dead-letter topic with its reason and client.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use common::{
    Client, RunningVenus, connect_authenticated, next_json, original_event, read_topic, send_text, start,
    test_config,
};
use futures::SinkExt;
use packetpulse_testkit::Kafka;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

struct Fixture {
    kafka: Kafka,
    venus: RunningVenus,
    client: Client,
}

async fn fixture(adjust: impl FnOnce(&mut venus::Config)) -> Fixture {
    let kafka = Kafka::start_mock().unwrap();
    let mut config = test_config(&kafka);
    adjust(&mut config);
    let venus = start(&kafka, config).await;
    let client = connect_authenticated(&venus).await;
    Fixture { kafka, venus, client }
}

impl Fixture {
    /// Sends `frame`, checks the reply is exactly `expected`, that a valid event still gets through afterwards,
    /// and returns the dead letters.
    async fn refuse(&mut self, frame: &str, expected: Value, dead_letters: usize) -> Vec<Value> {
        send_text(&mut self.client, frame).await;
        assert_eq!(next_json(&mut self.client).await, expected);
        self.assert_still_accepts().await;
        read_topic(&self.kafka, &self.venus.config().dead_letter_topic, dead_letters)
            .into_iter()
            .map(|r| r.payload)
            .collect()
    }

    async fn assert_still_accepts(&mut self) {
        send_text(
            &mut self.client,
            &original_event("session-ok", "en_route", 37.98).to_string(),
        )
        .await;
        let reply = next_json(&mut self.client).await;
        assert_eq!(
            reply,
            json!({"success": true, "message": "Data received", "accepted": 1}),
            "still serving"
        );
    }
}

fn refused(message: &str) -> Value {
    json!({"success": false, "message": message, "accepted": 0})
}

fn rejected_single(errors: &[(&str, &str)]) -> Value {
    let text: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
    json!({
        "success": false,
        "message": format!("event rejected: {}", text.join("; ")),
        "accepted": 0,
        "rejected": [0],
        "errors": errors.iter().map(|(f, m)| json!({"field": f, "message": m})).collect::<Vec<_>>(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_json_is_refused_and_dead_lettered_whole() {
    let mut f = fixture(|_| {}).await;
    let letters = f
        .refuse(
            "{not json",
            refused("frame is not valid JSON: key must be a string at line 1 column 2"),
            1,
        )
        .await;
    assert_eq!(letters[0]["raw_payload"], "{not json");
    assert_eq!(
        letters[0]["reason"],
        "frame is not valid JSON: key must be a string at line 1 column 2"
    );
    assert_eq!(letters[0]["client"], "api-key:test-client");
    assert_eq!(letters[0]["source"], "venus");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_that_is_neither_an_object_nor_an_array_is_refused() {
    let mut f = fixture(|_| {}).await;
    let expected = refused("frame must be an event object or an array of event objects, got a number");
    f.refuse("42", expected, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_missing_required_field_is_named() {
    let mut f = fixture(|_| {}).await;
    let fields = packetpulse_model::REQUIRED_FIELDS;
    for field in fields {
        let mut event = original_event("s", "started", 37.9);
        event.as_object_mut().unwrap().remove(field);
        send_text(&mut f.client, &event.to_string()).await;
        assert_eq!(
            next_json(&mut f.client).await,
            rejected_single(&[(field, "is required")])
        );
    }
    f.assert_still_accepts().await;
    let letters = read_topic(&f.kafka, &f.venus.config().dead_letter_topic, fields.len());
    for (letter, field) in letters.iter().zip(fields) {
        assert_eq!(letter.payload["reason"], format!("{field}: is required"));
        assert_eq!(
            letter.payload["errors"],
            json!([{"field": field, "message": "is required"}])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_wrong_type_is_named() {
    let mut f = fixture(|_| {}).await;
    let cases = [
        ("device_id", json!(7), "expected a string, got a number (7)"),
        ("status", json!(true), "expected a string, got a boolean (true)"),
        (
            "timestamp",
            json!(1714566600),
            "expected an RFC 3339 timestamp string, got a number (1714566600)",
        ),
        (
            "current_lat",
            json!("37.9"),
            "expected a number, got a string (\"37.9\")",
        ),
        ("start_lon", json!([23.7]), "expected a number, got an array"),
        (
            "seq",
            json!(-3),
            "expected a non-negative integer, got a number (-3)",
        ),
        ("event_id", json!("not-a-uuid"), "\"not-a-uuid\" is not a UUID"),
    ];
    for (field, value, message) in &cases {
        let mut event = original_event("s", "started", 37.9);
        event[*field] = value.clone();
        send_text(&mut f.client, &event.to_string()).await;
        assert_eq!(
            next_json(&mut f.client).await,
            rejected_single(&[(field, message)]),
            "{field}"
        );
    }
    f.assert_still_accepts().await;
    read_topic(&f.kafka, &f.venus.config().dead_letter_topic, cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinates_out_of_range_are_refused_with_the_value_and_range() {
    let mut f = fixture(|_| {}).await;
    let mut event = original_event("s", "en_route", 91.2);
    event["end_lon"] = json!(-181);
    let expected = rejected_single(&[
        ("end_lon", "-181 is outside [-180, 180]"),
        ("current_lat", "91.2 is outside [-90, 90]"),
    ]);
    let letters = f.refuse(&event.to_string(), expected, 1).await;
    assert_eq!(letters[0]["raw_payload"], event.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_and_infinity_are_refused_as_invalid_json() {
    // Python's json.dumps writes NaN and Infinity, which JSON does not have; numbers beyond f64 overflow.
    let mut f = fixture(|_| {}).await;
    let text = original_event("s", "en_route", 37.9)
        .to_string()
        .replace("37.9,", "NaN,");
    let column = text.find("NaN").unwrap() + 1;
    let message = format!("frame is not valid JSON: expected value at line 1 column {column}");
    f.refuse(&text, refused(&message), 1).await;
    let text = original_event("s", "en_route", 37.9)
        .to_string()
        .replace("37.9,", "1e999,");
    let column = text.find("1e999").unwrap() + "1e999".len();
    let message = format!("frame is not valid JSON: number out of range at line 1 column {column}");
    f.refuse(&text, refused(&message), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_status_is_refused() {
    let mut f = fixture(|_| {}).await;
    let event = original_event("s", "delivered", 37.9);
    let expected = rejected_single(&[(
        "status",
        "\"delivered\" is not one of started, en_route, completed",
    )]);
    f.refuse(&event.to_string(), expected, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_ids_are_refused() {
    let mut f = fixture(|_| {}).await;
    let mut event = original_event("", "started", 37.9);
    event["order_id"] = json!("");
    let expected = rejected_single(&[
        ("session_id", "must not be empty"),
        ("order_id", "must not be empty"),
    ]);
    f.refuse(&event.to_string(), expected, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_refused_with_the_limit() {
    let mut f = fixture(|config| config.max_frame_bytes = 1000).await;
    let text = format!(
        "[{}]",
        vec![original_event("s", "started", 37.9).to_string(); 5].join(",")
    );
    let message = format!("frame is {} bytes, the limit is 1000 bytes", text.len());
    let letters = f.refuse(&text, refused(&message), 1).await;
    assert_eq!(letters[0]["raw_payload"], text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_events_in_one_frame_are_refused_with_the_limit() {
    let mut f = fixture(|config| config.max_events_per_frame = 3).await;
    let text = serde_json::to_string(&vec![original_event("s", "en_route", 37.9); 4]).unwrap();
    f.refuse(&text, refused("frame has 4 events, the limit is 3 per frame"), 1)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_frame_is_refused_and_dead_lettered_as_base64() {
    let mut f = fixture(|_| {}).await;
    f.client
        .send(WsMessage::Binary(vec![0xde, 0xad, 0xbe, 0xef].into()))
        .await
        .unwrap();
    let expected = refused("binary frames are not supported: send events as JSON text frames");
    assert_eq!(next_json(&mut f.client).await, expected);
    f.assert_still_accepts().await;
    let letters = read_topic(&f.kafka, &f.venus.config().dead_letter_topic, 1);
    assert_eq!(letters[0].payload["raw_payload"], "3q2+7w==");
    assert_eq!(
        letters[0].payload["reason"],
        "binary frame of 4 bytes (raw_payload is base64)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_keeps_its_valid_events_and_names_the_rejected_by_index() {
    let mut f = fixture(|_| {}).await;
    let batch = json!([
        original_event("s-batch", "started", 37.90),
        original_event("s-batch", "en_route", 91.5),
        original_event("s-batch", "en_route", 37.91),
        original_event("s-batch", "teleported", 37.92),
    ]);
    send_text(&mut f.client, &batch.to_string()).await;
    let expected = json!({
        "success": false,
        "message": "2 of 4 events rejected: [1].current_lat: 91.5 is outside [-90, 90]; [3].status: \"teleported\" is not one of started, en_route, completed",
        "accepted": 2,
        "rejected": [1, 3],
        "errors": [
            {"field": "[1].current_lat", "message": "91.5 is outside [-90, 90]"},
            {"field": "[3].status", "message": "\"teleported\" is not one of started, en_route, completed"},
        ],
    });
    assert_eq!(next_json(&mut f.client).await, expected);
    let published = read_topic(&f.kafka, &f.venus.config().topic, 2);
    let lats: Vec<f64> = published
        .iter()
        .map(|r| r.payload["current_lat"].as_f64().unwrap())
        .collect();
    assert_eq!(lats, [37.90, 37.91]);
    let letters = read_topic(&f.kafka, &f.venus.config().dead_letter_topic, 2);
    assert_eq!(letters[0].payload["raw_payload"], batch[1].to_string());
    assert_eq!(letters[1].payload["errors"][0]["field"], "[3].status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stamped_beyond_the_clock_skew_is_refused_and_one_within_it_accepted() {
    let mut f = fixture(|config| config.max_clock_skew = std::time::Duration::from_secs(600)).await;
    let mut from_2099 = original_event("s-future", "en_route", 37.9);
    from_2099["timestamp"] = json!("2099-01-01T00:00:00Z");
    let expected = rejected_single(&[(
        "timestamp",
        "2099-01-01T00:00:00Z is more than 10m ahead of the gateway's clock (VENUS_MAX_CLOCK_SKEW): check the device's clock",
    )]);
    let letters = f.refuse(&from_2099.to_string(), expected, 1).await;
    let kept: Value = serde_json::from_str(letters[0]["raw_payload"].as_str().unwrap()).unwrap();
    assert_eq!(kept, from_2099);

    // A device a few minutes fast is within the skew.
    let mut fast = original_event("s-fast", "en_route", 37.9);
    let five_minutes_ahead = chrono::Utc::now() + chrono::Duration::minutes(5);
    fast["timestamp"] = json!(five_minutes_ahead.to_rfc3339());
    send_text(&mut f.client, &fast.to_string()).await;
    assert_eq!(next_json(&mut f.client).await["success"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_sent_as_data_never_reaches_the_dead_letter_topic() {
    let mut f = fixture(|_| {}).await;
    let secret = common::API_KEY;
    let again = format!(r#"{{"type":"authentication","api_key":"{secret}"}}"#);
    send_text(&mut f.client, &again).await;
    let reply = next_json(&mut f.client).await;
    assert_eq!(reply["success"], false);
    assert!(!reply.to_string().contains(secret), "{reply}");
    let mut event = original_event("s-token", "en_route", 91.0);
    event["token"] = json!("eyJhbGciOiJFZERTQSJ9.payload.signature");
    let batch = format!("[{event}, {{\"password\": \"hunter2\" ");
    send_text(&mut f.client, &batch).await;
    assert_eq!(next_json(&mut f.client).await["success"], false);
    f.assert_still_accepts().await;

    let letters = read_topic(&f.kafka, &f.venus.config().dead_letter_topic, 2);
    assert_eq!(
        letters[0].payload["raw_payload"],
        r#"{"type":"authentication","api_key":"[redacted]"}"#
    );
    let cut = letters[1].payload["raw_payload"].as_str().unwrap();
    for leaked in [secret, "eyJhbGciOiJFZERTQSJ9", "hunter2"] {
        assert!(!letters[0].payload.to_string().contains(leaked));
        assert!(!cut.contains(leaked), "{cut}");
    }
    assert!(cut.contains(r#""token":"[redacted]""#), "{cut}");
    assert!(cut.contains(r#""password": "[redacted]"#), "{cut}");
}
