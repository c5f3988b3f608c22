//! Device credentials end to end: an admin issues a device its token on Mercury's devices page; a real Venus,
//! given only Mercury's public key, lets the device in and keeps it to its vehicle; the admin revokes the
//! credential and Venus closes the device's connection within 5 s and refuses it from then on.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_PASSWORD, Dashboard, browser, find, hydrated, screenshot, sign_in, text, wait_for_path};
use futures::{SinkExt, StreamExt};
use packetpulse_model::{AuthenticationFrame, AuthenticationReply, FrameReply};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(socket: &mut Socket) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .unwrap()?
        {
            Ok(Message::Text(text)) => return Some(text.to_string()),
            Ok(Message::Close(frame)) => {
                return frame.map(|frame| format!("close {} {}", u16::from(frame.code), frame.reason));
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

async fn connect(url: &str, token: &str) -> (Socket, AuthenticationReply) {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let frame = serde_json::to_string(&AuthenticationFrame::token(token)).unwrap();
    socket.send(Message::Text(frame.into())).await.unwrap();
    let reply = serde_json::from_str(&next_text(&mut socket).await.unwrap()).unwrap();
    (socket, reply)
}

fn event(vehicle: &str) -> String {
    serde_json::json!({
        "device_id": "van-7", "vehicle_id": vehicle, "session_id": "s-van-7", "order_id": "o-van-7",
        "status": "en_route", "timestamp": chrono::Utc::now().to_rfc3339(),
        "start_lat": 37.97, "start_lon": 23.76, "end_lat": 37.98, "end_lon": 23.72,
        "current_lat": 37.975, "current_lon": 23.74
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_issues_a_device_credential_venus_keeps_it_to_its_vehicle_and_revocation_cuts_it_off() {
    let revocations = packetpulse_testkit::unique_name("devices-revoked");
    let dashboard = Dashboard::start_with(&[&format!("--device-revocation-topic={revocations}")]).await;

    // The admin issues the credential on the devices page.
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    find(&client, "#nav-devices").await.click().await.unwrap();
    wait_for_path(&client, "the devices page", |path| path == "/admin/devices").await;
    hydrated(&client).await;
    common::fill(&client, "#device-form input[name=device_id]", "van-7").await;
    common::fill(&client, "#device-form input[name=vehicle_id]", "veh-7").await;
    find(&client, "#register-device").await.click().await.unwrap();
    let token = find(&client, "#device-token")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let public_key = text(&client, "#device-public-key").await;
    client.refresh().await.unwrap();
    find(&client, "#devices tr[data-device=van-7]").await;
    screenshot(&client, "admin-devices").await;

    // Venus knows Mercury's public key and the revocation topic, nothing else.
    let mut config = venus::testing::test_config(dashboard.kafka);
    config.device_token_key = public_key;
    config.device_revocation_topic = revocations;
    let venus = venus::testing::start(dashboard.kafka, config).await;
    let (mut socket, reply) = connect(&venus.ws_url(), &token).await;
    assert!(reply.is_authenticated(), "{reply:?}");
    socket.send(Message::Text(event("veh-7").into())).await.unwrap();
    let own: FrameReply = serde_json::from_str(&next_text(&mut socket).await.unwrap()).unwrap();
    assert!(own.success, "{own:?}");
    socket.send(Message::Text(event("veh-8").into())).await.unwrap();
    let foreign: FrameReply = serde_json::from_str(&next_text(&mut socket).await.unwrap()).unwrap();
    assert_eq!(foreign.rejected, [0]);
    assert_eq!(foreign.errors[0].field, "vehicle_id");

    // The admin revokes it; Venus closes the open connection and refuses a new one.
    client
        .goto(&format!("{}/admin/devices", dashboard.url))
        .await
        .unwrap();
    let revoked_at = Instant::now();
    find(&client, "#devices tr[data-device=van-7] .revoke-device")
        .await
        .click()
        .await
        .unwrap();
    wait_for_path(&client, "the devices page", |path| {
        path == "/admin/devices?done=device_revoked"
    })
    .await;
    assert_eq!(
        next_text(&mut socket).await.unwrap(),
        "close 1008 credential revoked"
    );
    let took = revoked_at.elapsed();
    println!(
        "revoked in Mercury → connection closed by Venus in {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let (_, reply) = connect(&venus.ws_url(), &token).await;
    assert_eq!(
        reply,
        AuthenticationReply::error("this device credential was revoked")
    );
    assert!(
        text(&client, "#devices tr[data-device=van-7] .device-state")
            .await
            .starts_with("revoked")
    );
    client.close().await.unwrap();
    venus::testing::stop(venus).await.unwrap();
    dashboard.stop().await;
}
