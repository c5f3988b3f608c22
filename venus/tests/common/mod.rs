//! Test plumbing: a Venus on a free port against a testkit broker (`venus::testing`), a WebSocket client, and a
//! topic reader.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use packetpulse_model::{AuthenticationFrame, AuthenticationReply};
use packetpulse_testkit::Kafka;
use rdkafka::Message;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
pub use venus::RunningVenus;

pub use venus::testing::TEST_API_KEY as API_KEY;
pub use venus::testing::{start, test_config};

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects without authenticating.
pub async fn connect(venus: &RunningVenus) -> Client {
    let (client, _) = tokio_tungstenite::connect_async(venus.ws_url())
        .await
        .expect("websocket connects");
    client
}

/// Connects from `source`, another loopback address (Linux routes all of 127.0.0.0/8 to `lo`), so Venus sees a
/// different peer than the other clients of a test.
pub async fn connect_from(venus: &RunningVenus, source: std::net::Ipv4Addr) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    let stream = socket.connect(venus.local_addr()).await.expect("connects");
    let (client, _) = tokio_tungstenite::client_async(venus.ws_url(), MaybeTlsStream::Plain(stream))
        .await
        .expect("websocket handshake");
    client
}

/// Connects and authenticates with the test API key, checking the reply.
pub async fn connect_authenticated(venus: &RunningVenus) -> Client {
    authenticate(connect(venus).await).await
}

/// Authenticates `client` with the test API key, checking the reply.
pub async fn authenticate(mut client: Client) -> Client {
    let frame = serde_json::to_string(&AuthenticationFrame::api_key(API_KEY)).unwrap();
    send_text(&mut client, &frame).await;
    let reply = next_json(&mut client).await;
    let reply: AuthenticationReply = serde_json::from_value(reply.clone()).expect("an authentication reply");
    assert!(reply.is_authenticated(), "{reply:?}");
    client
}

pub async fn send_text(client: &mut Client, text: &str) {
    client.send(WsMessage::Text(text.into())).await.expect("send");
}

/// The next text message as JSON, failing after 30 s.
pub async fn next_json(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), client.next())
            .await
            .expect("a reply within 30 s")
            .expect("connection open")
            .expect("no protocol error");
        match message {
            WsMessage::Text(text) => return serde_json::from_str(&text).expect("replies are JSON"),
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
            other => panic!("expected a text reply, got {other:?}"),
        }
    }
}

/// Waits for the server to close the connection; returns the close code and reason.
pub async fn expect_close(client: &mut Client) -> (u16, String) {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), client.next())
            .await
            .expect("closed within 30 s");
        match message {
            Some(Ok(WsMessage::Close(Some(frame)))) => return (frame.code.into(), frame.reason.to_string()),
            Some(Ok(WsMessage::Close(None))) | None | Some(Err(_)) => return (0, String::new()),
            Some(Ok(_)) => continue,
        }
    }
}

/// A record read back from a topic.
#[derive(Debug)]
pub struct Record {
    pub key: Option<String>,
    pub payload: Value,
    pub partition: i32,
    pub offset: i64,
}

/// Reads exactly `count` records from every partition of `topic` (from the beginning), failing after 60 s, and
/// checks for 1 s more that no further record arrives.
pub fn read_topic(kafka: &Kafka, topic: &str, count: usize) -> Vec<Record> {
    let records = read_topic_until_quiet(kafka, topic, count);
    assert_eq!(records.len(), count, "unexpected extra records in {topic}");
    records
}

/// Reads at least `count` records of `topic` (failing after 60 s), then whatever else arrives until it has been
/// quiet for 1 s.
pub fn read_topic_until_quiet(kafka: &Kafka, topic: &str, count: usize) -> Vec<Record> {
    let messages = kafka
        .read_topic(topic, count, Duration::from_secs(1), Duration::from_secs(60))
        .unwrap();
    messages
        .iter()
        .map(|message| Record {
            key: message.key().map(|k| String::from_utf8(k.to_vec()).unwrap()),
            payload: serde_json::from_slice(message.payload().unwrap()).unwrap(),
            partition: message.partition(),
            offset: message.offset(),
        })
        .collect()
}

/// An event in the original simulator's shape.
pub fn original_event(session: &str, status: &str, lat: f64) -> Value {
    serde_json::json!({
        "device_id": "device-1", "vehicle_id": "vehicle-1", "session_id": session, "order_id": "order-1",
        "status": status, "timestamp": "2024-05-01T12:30:00.123456",
        "start_lat": 37.975678, "start_lon": 23.767335, "end_lat": 37.98381, "end_lon": 23.727539,
        "current_lat": lat, "current_lon": 23.765297
    })
}
