//! `uranus serve` rebuilds the models every refresh interval, keeps going when a model fails, and reports each
//! model on `/metrics` (rows, duration, last success, failures) next to `/health`; it stops on shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use packetpulse_testkit::{shared_clickhouse, wait_until};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uranus::project::Project;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refreshes_the_models_and_reports_each_on_metrics() {
    let clickhouse = shared_clickhouse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write_project(
        dir.path(),
        &[
            (
                "numbers.sql",
                "{{ config(materialized='table') }}\nSELECT number AS n FROM system.numbers LIMIT 10",
            ),
            (
                "broken.sql",
                "{{ config(materialized='table') }}\nSELECT no_such_column FROM system.one",
            ),
        ],
    );
    let (database, _) = clickhouse.fresh_database().await.unwrap();
    let mut config = uranus::Config::defaults();
    config.clickhouse.url = clickhouse.url();
    config.clickhouse.database = database.clone();
    config.refresh_interval = Duration::from_millis(200);
    let project = Project::load(dir.path(), &database).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let metrics = uranus::Metrics::new();
    let stop = CancellationToken::new();
    let served = {
        let (metrics, stop) = (metrics.clone(), stop.clone());
        tokio::spawn(async move {
            uranus::run_with(&config, project, &metrics, listener, stop.cancelled_owned()).await
        })
    };

    let runs = metrics.runs.clone();
    wait_until("three refresh rounds", Duration::from_secs(30), || {
        let done = runs.get();
        async move { Ok::<_, String>((done >= 3).then_some(())) }
    })
    .await
    .unwrap();
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("uranus_model_rows{model=\"numbers\"} 10"), "{text}");
    assert!(
        text.contains("uranus_model_last_success_timestamp_seconds{model=\"numbers\"}"),
        "{text}"
    );
    let failures = metrics.model_failures.with_label_values(&["broken"]).get();
    assert!(failures >= 3, "broken failed {failures} times in 3 rounds");
    assert!(
        !text.contains("uranus_model_last_success_timestamp_seconds{model=\"broken\"}"),
        "{text}"
    );
    let health = reqwest::get(format!("http://{address}/health")).await.unwrap();
    assert!(health.status().is_success());

    stop.cancel();
    served.await.unwrap().unwrap();
}
