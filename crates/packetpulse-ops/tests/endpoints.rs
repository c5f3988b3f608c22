//! The operational endpoints every planet without its own HTTP server exposes, and its shutdown token.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

use prometheus::{IntCounter, Registry};

#[tokio::test]
async fn health_and_metrics_are_served_until_shutdown() {
    let registry = Registry::new();
    let counter = IntCounter::new("demo_events_total", "Events").unwrap();
    registry.register(Box::new(counter.clone())).unwrap();
    counter.inc_by(7);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operations = packetpulse_ops::Operations::serve(listener, registry, async move {
        let _ = stopped.await;
    });

    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), r#"{"status":"ok"}"#);
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.lines().any(|l| l == "demo_events_total 7"), "{metrics}");

    stop.send(()).unwrap();
    operations.token().cancelled().await;
    // Still answering while the planet drains: the endpoints stop at finish.
    let draining = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(draining.status(), 200);
    operations.finish().await;
    assert!(
        reqwest::get(format!("http://{addr}/health")).await.is_err(),
        "stopped means gone"
    );
}

#[tokio::test]
async fn a_port_in_use_is_an_error_naming_the_address_and_the_setting_to_change() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let error = packetpulse_ops::bind(addr, "VENUS_LISTEN")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!("cannot listen on {addr}:")) && error.ends_with("set VENUS_LISTEN"),
        "{error}"
    );
}
