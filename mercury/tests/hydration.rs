//! The dashboard is rendered on the server and comes alive in a real browser: the server answers `/login` with
//! the complete form, and headless Chromium, loading the page, runs the wasm that hydrates it (a marker only the
//! browser code sets). A screenshot is saved as a test artifact.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use mercury::server::Config;
use packetpulse_testkit::Chromedriver;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Where `mercury/build.sh` put the site (the test command runs it before the tests).
fn site_root() -> PathBuf {
    let site = std::env::var_os("MERCURY_SITE_ROOT").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
                PathBuf::from,
            );
            target.join("site")
        },
        PathBuf::from,
    );
    assert!(
        site.join("pkg/mercury.js").exists(),
        "{} has no browser build: run bash mercury/build.sh",
        site.display()
    );
    site
}

fn artifacts() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
            PathBuf::from,
        )
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_is_rendered_on_the_server_and_hydrated_in_headless_chromium() {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        site_root: site_root(),
        log_json: false,
    };
    let listener = TcpListener::bind(config.listen).await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = {
        let (config, stop) = (config.clone(), stop.clone());
        tokio::spawn(async move { mercury::server::serve(&config, listener, stop.cancelled_owned()).await })
    };

    // Server-side rendering alone: the form is in the HTML, not hydrated, with the script that will hydrate it.
    let html = reqwest::get(format!("http://{address}/login"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Sign in") && html.contains("data-hydrated=\"false\""),
        "{html}"
    );
    assert!(html.contains("/pkg/mercury.js"), "{html}");
    let health = reqwest::get(format!("http://{address}/health")).await.unwrap();
    assert!(health.status().is_success());

    let driver = Chromedriver::start().unwrap();
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(driver.capabilities())
        .connect(&driver.url())
        .await
        .unwrap();
    browser.goto(&format!("http://{address}/login")).await.unwrap();
    let hydrated = browser
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("form[data-hydrated='true']"))
        .await;
    let screenshot = browser.screenshot().await.unwrap();
    std::fs::write(artifacts().join("mercury-login.png"), screenshot).unwrap();
    let source = browser.source().await.unwrap_or_default();
    browser.close().await.unwrap();
    assert!(
        hydrated.is_ok(),
        "the page was not hydrated within 30 s: {source}"
    );

    stop.cancel();
    server.await.unwrap().unwrap();
}
