//! One client must never hurt another: sockets that never authenticate, and clients that send and never read
//! their replies, leave real vehicles served as usual; Venus still shuts down in time.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    Client, RunningVenus, connect, connect_authenticated, expect_close, next_json, original_event, send_text,
    start, test_config,
};
use futures::SinkExt;
use packetpulse_testkit::Kafka;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A counter or gauge from Venus' `/metrics` (0 when absent).
async fn metric(venus: &RunningVenus, series: &str) -> f64 {
    let text = reqwest::get(format!("http://{}/metrics", venus.local_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Polls `metric` until it reaches `at_least`, failing after `within`.
async fn wait_for_metric(venus: &RunningVenus, series: &str, at_least: f64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let value = metric(venus, series).await;
        if value >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {value}, expected {at_least} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_does_not_authenticate_in_time_is_told_and_closed() {
    let kafka = Kafka::start_mock().unwrap();
    let mut config = test_config(&kafka);
    config.auth_timeout = Duration::from_secs(1);
    let venus = start(&kafka, config).await;
    let mut silent = connect(&venus).await;
    assert_eq!(
        next_json(&mut silent).await,
        serde_json::json!({"status": "error", "message": "not authenticated within 1s (VENUS_AUTH_TIMEOUT)"})
    );
    assert_eq!(
        expect_close(&mut silent).await,
        (1008, "authentication timeout".into())
    );
    venus::testing::stop(venus).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_silent_sockets_from_one_address_do_not_keep_a_vehicle_out() {
    let kafka = Kafka::start_mock().unwrap();
    let mut config = test_config(&kafka);
    config.max_connections = 200;
    config.max_unauthenticated_per_ip = 16;
    let venus = start(&kafka, config).await;

    let mut silent: Vec<Client> = Vec::with_capacity(2000);
    for _ in 0..2000 {
        silent.push(connect(&venus).await);
    }
    // The vehicle comes from the same address, after all of them.
    let mut vehicle = connect_authenticated(&venus).await;
    send_text(
        &mut vehicle,
        &original_event("s-vehicle", "started", 37.9).to_string(),
    )
    .await;
    assert_eq!(next_json(&mut vehicle).await["success"], true);

    // The oldest silent sockets were told why they were closed; the newest 15 still wait (the vehicle took the
    // place of one while it authenticated).
    let first = &mut silent[0];
    let message = next_json(first).await["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("closed before authenticating: more than 16 connections from 127.0.0.1"),
        "{message}"
    );
    assert_eq!(
        expect_close(first).await,
        (
            1013,
            "too many unauthenticated connections from this address".into()
        )
    );
    wait_for_metric(
        &venus,
        r#"venus_connections_refused_total{reason="evicted"}"#,
        2001.0 - 16.0,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(metric(&venus, "venus_unauthenticated_connections").await, 15.0);
    drop(silent);
    venus::testing::stop(venus).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vehicle_gets_in_and_is_served_while_another_address_keeps_opening_silent_sockets() {
    let kafka = Kafka::start_mock().unwrap();
    let mut config = test_config(&kafka);
    config.max_connections = 200;
    config.max_unauthenticated_per_ip = 16;
    let venus = start(&kafka, config).await;

    // The flood: silent sockets from 127.0.0.1, one after another and all kept open, until told to stop. Without
    // the per-address cap the first 200 would fill every connection slot.
    let opened = Arc::new(AtomicUsize::new(0));
    let stop = tokio_util::sync::CancellationToken::new();
    let flood = {
        let (url, opened, stop) = (venus.ws_url(), opened.clone(), stop.clone());
        tokio::spawn(async move {
            let mut silent = Vec::new();
            while !stop.is_cancelled() {
                if let Ok((client, _)) = tokio_tungstenite::connect_async(&url).await {
                    silent.push(client);
                    opened.fetch_add(1, Ordering::Relaxed);
                }
            }
            silent
        })
    };
    let wait_for_flood = async |at_least: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while opened.load(Ordering::Relaxed) < at_least {
            assert!(
                Instant::now() < deadline,
                "the flood opened only {opened:?} sockets"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    wait_for_flood(500).await;

    // A vehicle from another address gets in while the flood goes on, and every frame of it is answered.
    let mut vehicle =
        common::authenticate(common::connect_from(&venus, Ipv4Addr::new(127, 0, 0, 2)).await).await;
    let mut frames = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while opened.load(Ordering::Relaxed) < 2_000 || frames < 20 {
        assert!(
            Instant::now() < deadline,
            "the flood stalled at {opened:?} sockets"
        );
        let event = original_event(&format!("s-flooded-{frames}"), "started", 37.9);
        send_text(&mut vehicle, &event.to_string()).await;
        assert_eq!(next_json(&mut vehicle).await["success"], true, "frame {frames}");
        frames += 1;
    }
    wait_for_flood(2_000).await;
    stop.cancel();
    let silent = flood.await.unwrap();
    println!(
        "{} silent sockets opened while the vehicle sent {frames} frames",
        silent.len()
    );
    assert!(metric(&venus, "venus_unauthenticated_connections").await <= 16.0);
    drop(silent);
    venus::testing::stop(venus).await.unwrap();
}

/// A frame of 1,000 invalid events: 1,000 dead letters, and a reply of ~0.5 MB listing 12,000 errors.
fn poison_frame() -> String {
    format!("[{}]", vec!["{}"; 1000].join(","))
}

/// Authenticates, then sends `frames` poison frames without reading anything; the task hands the client back
/// once sending is over (all sent, or Venus closed the connection).
async fn never_read(venus: &RunningVenus, frames: usize) -> tokio::task::JoinHandle<Client> {
    let mut client = connect_authenticated(venus).await;
    tokio::spawn(async move {
        let frame = poison_frame();
        for _ in 0..frames {
            // Blocks once Venus stops reading; fails once it closed the connection.
            if client.send(WsMessage::Text(frame.clone().into())).await.is_err() {
                break;
            }
        }
        client
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_their_replies_do_not_slow_another_client() {
    let kafka = Kafka::start_mock().unwrap();
    let mut config = test_config(&kafka);
    // Room for 4 poison frames: what the non-reading clients could hold if room came back only with a reply.
    config.max_events_in_flight = 4_000;
    // Acknowledgements take 20 ms, as from a busy broker: a session reads several frames before the first reply.
    config.kafka_linger_ms = 20;
    config.reply_timeout = Duration::from_secs(8);
    let frames_in_flight = config.max_frames_in_flight;
    let venus = start(&kafka, config).await;

    let mut hostile = Vec::new();
    for _ in 0..4 {
        hostile.push(never_read(&venus, frames_in_flight + 50).await);
    }
    // A few replies each fill the socket buffers (measured: ~7): from there on Venus cannot hand them anything.
    wait_for_metric(
        &venus,
        r#"venus_frames_total{outcome="rejected"}"#,
        16.0,
        Duration::from_secs(60),
    )
    .await;

    // The reading client pipelines its 1,000 frames 50 at a time.
    let mut client = connect_authenticated(&venus).await;
    let mut latencies = Vec::with_capacity(1000);
    for window in 0..20 {
        let mut sent = Vec::with_capacity(50);
        for n in 0..50 {
            let event = original_event(&format!("s-good-{n}"), "en_route", 37.9);
            sent.push(Instant::now());
            send_text(&mut client, &serde_json::json!([event]).to_string()).await;
        }
        for (n, started) in sent.into_iter().enumerate() {
            let reply = next_json(&mut client).await;
            latencies.push(started.elapsed());
            assert_eq!(reply["success"], true, "frame {}: {reply}", window * 50 + n);
        }
    }
    latencies.sort();
    let (p50, p99, max) = (latencies[500], latencies[990], latencies[999]);
    println!("the reading client's 1,000 frames: p50 {p50:?}, p99 {p99:?}, max {max:?}");
    assert!(
        max < Duration::from_secs(4),
        "a reply waited {max:?}: as long as Venus waits for a non-reading client (8 s)"
    );

    // The clients that never read are disconnected, and say why once anyone reads what reached them.
    wait_for_metric(
        &venus,
        r#"venus_connections_refused_total{reason="not_reading"}"#,
        4.0,
        Duration::from_secs(60),
    )
    .await;
    for handle in hostile {
        let mut client = tokio::time::timeout(Duration::from_secs(60), handle)
            .await
            .expect("the sender ends once Venus closed the connection")
            .unwrap();
        let (code, reason) = expect_close(&mut client).await;
        assert!(
            code == 0 || (code == 1008 && reason == "not reading replies: none taken within 8s"),
            "{code} {reason}"
        );
    }
    assert_eq!(
        metric(&venus, r#"venus_connections_refused_total{reason="not_reading"}"#).await,
        4.0
    );
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), venus.shutdown())
        .await
        .expect("shutdown completes in time")
        .unwrap();
    println!("shutdown took {:?}", started.elapsed());
}
