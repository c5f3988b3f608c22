//! The native stack end to end, through the same scripts as `make up` / `make down` (on free ports, in a temp
//! data dir, with the debug binaries the test build made): Mars streams 1,000 sessions to completion; bronze,
//! silver and Mars' log of acknowledged events agree exactly; gold is built and its data tests pass; Mercury's
//! login works and its live map shows the vehicles while they drive (screenshot saved); `make down` leaves no
//! process behind; a second `make up` on the same data brings everything back with what it held, and Mars run
//! again with the same seed reopens none of the first run's deliveries.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use packetpulse_stack::native::{NativeStack, clickhouse_number, target_dir};
use packetpulse_testkit::{Chromedriver, wait_until};

async fn clickhouse_count(url: &str, sql: &str) -> u64 {
    clickhouse_number(url, sql).await.unwrap()
}

/// Distinct events in silver.
async fn silver_events(url: &str) -> u64 {
    clickhouse_count(
        url,
        "SELECT uniqExact(event_id) FROM packetpulse.session_movements",
    )
    .await
}

/// Completed sessions in gold.
async fn gold_completed(url: &str) -> u64 {
    clickhouse_count(
        url,
        "SELECT count() FROM packetpulse.session_summary WHERE status = 'completed'",
    )
    .await
}

async fn bronze_rows(lake: &packetpulse_lake::LakeConfig) -> u64 {
    packetpulse_lake::catalog::load_table(lake)
        .await
        .map_or(0, |table| packetpulse_lake::catalog::committed_rows(&table))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_up_runs_the_whole_platform_and_every_layer_agrees_after_a_fleet_completes() {
    // The planets' debug binaries, as `cargo test --workspace` builds them (a nested `cargo build` would
    // resolve features differently and rebuild the dependency tree).
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut stack = NativeStack::new(&data, "debug").unwrap();
    // Bronze commits every few seconds rather than every 5 minutes, so it can be compared with silver at the end.
    stack.set_env("NEPTUNE_COMMIT_INTERVAL", "3s".to_owned());
    // Generated secrets are URL-safe base64, which begins with '-' once in 32: such a value must reach the S3
    // server as a value, not an option (seen 2026-12-02: s3s-fs refused "-9…" and `make up` failed).
    stack.set_env(
        "S3_SECRET_ACCESS_KEY",
        "-9secret-that-looks-like-an-option-4f1c".to_owned(),
    );
    let env = stack.env().clone();
    let up_log = stack.up().unwrap();
    assert!(up_log.contains("PacketPulse is up"), "{up_log}");
    let mercury = format!("http://127.0.0.1:{}", env["MERCURY_PORT"]);
    let clickhouse = format!("http://127.0.0.1:{}/", env["CLICKHOUSE_HTTP_PORT"]);
    // The first start generated the secrets and printed the admin's password, once.
    let admin_password = stack.planet_env("mercury").unwrap()["MERCURY_ADMIN_PASSWORD"].clone();
    assert!(
        up_log.contains(&format!("sign in as admin / {admin_password} (generated now")),
        "{up_log}"
    );

    // Mercury: sign in, open the live map before the fleet starts.
    let driver = Chromedriver::start().unwrap();
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(driver.capabilities())
        .connect(&driver.url())
        .await
        .unwrap();
    browser.goto(&format!("{mercury}/login")).await.unwrap();
    browser
        .find(Locator::Css("input[name=login]"))
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(&admin_password)
        .await
        .unwrap();
    browser
        .find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#whoami"))
        .await
        .unwrap();
    browser.goto(&format!("{mercury}/live")).await.unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#live-map[data-ready='true']"))
        .await
        .unwrap();

    // Mars: 1,000 vehicles, one session each, fast-forwarded, with the log of acknowledged events.
    let mars_env = stack.planet_env("mars").unwrap();
    let acked_log = dir.path().join("acked.log");
    let mut mars = start_mars(&mars_env, 1_000, &acked_log);

    // The map shows vehicles while they drive.
    wait_until(
        "vehicles on Mercury's live map",
        Duration::from_secs(60),
        || async {
            let count = browser
                .find(Locator::Css("#live-map"))
                .await
                .map_err(|error| error.to_string())?
                .attr("data-vehicles")
                .await
                .map_err(|error| error.to_string())?;
            Ok::<_, String>(count.filter(|count| count.parse::<u32>().unwrap_or(0) >= 100))
        },
    )
    .await
    .unwrap();
    let screenshot = browser.screenshot().await.unwrap();
    let artifacts = target_dir().join("test-artifacts/stack");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("native-stack-live-map.png"), screenshot).unwrap();
    browser.close().await.unwrap();
    driver.stop();

    // While they drive, the gold view of sessions under way shows them.
    wait_until(
        "sessions under way in gold's active_sessions",
        Duration::from_secs(30),
        || {
            let clickhouse = &clickhouse;
            async move {
                let active =
                    clickhouse_count(clickhouse, "SELECT count() FROM packetpulse.active_sessions").await;
                Ok::<_, String>((active > 0).then_some(()))
            }
        },
    )
    .await
    .unwrap();

    let acked = finish_mars(&mut mars, &acked_log).await;
    assert!(acked.len() > 10_000, "only {} events acknowledged", acked.len());
    println!("Mars: {} events acknowledged", acked.len());

    // Within 30 s of Mars' end: bronze rows = silver distinct events = acknowledged events.
    let lake = stack.lake_config().unwrap();
    let expected = acked.len() as u64;
    wait_until(
        "bronze and silver to hold every acknowledged event",
        Duration::from_secs(30),
        || {
            let (lake, clickhouse) = (&lake, &clickhouse);
            async move {
                let bronze = bronze_rows(lake).await;
                let silver = silver_events(clickhouse).await;
                if bronze == expected && silver == expected {
                    Ok(Some(()))
                } else {
                    Err(format!(
                        "bronze {bronze}, silver {silver}, acknowledged {expected}"
                    ))
                }
            }
        },
    )
    .await
    .unwrap();

    // Gold: Uranus refreshes every 10 s; every session completed, so the summary has all 1,000.
    wait_until(
        "gold to hold the 1,000 completed sessions",
        Duration::from_secs(60),
        || {
            let clickhouse = &clickhouse;
            async move {
                let completed = gold_completed(clickhouse).await;
                Ok::<_, String>((completed == 1000).then_some(()))
            }
        },
    )
    .await
    .unwrap();
    for table in [
        "session_summary",
        "session_hours",
        "hourly_activity",
        "kpi_aggregates",
        "fleet_summary",
    ] {
        let rows = clickhouse_count(&clickhouse, &format!("SELECT count() FROM packetpulse.{table}")).await;
        assert!(rows > 0, "gold model {table} is empty");
    }
    // active_sessions is a view of the sessions under way: none once the fleet completed.
    assert_eq!(
        clickhouse_count(&clickhouse, "SELECT count() FROM packetpulse.active_sessions").await,
        0
    );
    let uranus_env = stack.planet_env("uranus").unwrap();
    let tests = Command::new(target_dir().join("debug/uranus"))
        .arg("test")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&uranus_env)
        .output()
        .unwrap();
    assert!(
        tests.status.success(),
        "uranus test failed:\n{}",
        String::from_utf8_lossy(&tests.stdout)
    );

    // make down stops everything it started.
    let pids = stack.recorded_pids();
    assert_eq!(pids.len(), 8, "{pids:?}");
    println!("{}", stack.down());
    assert_all_stopped(&pids);

    // A second make up on the same data: everything comes back with what it held.
    let again = stack.up().unwrap();
    assert!(
        !again.contains(&admin_password),
        "the admin's password is printed on the first start only"
    );
    let silver = silver_events(&clickhouse).await;
    assert_eq!((bronze_rows(&lake).await, silver), (expected, expected));
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{mercury}/login"))
        .form(&[("login", "admin"), ("password", admin_password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        login.headers()["location"],
        "/",
        "the user database did not survive the restart"
    );

    // Mars again with the same seed, as after `make down` and `make up`: its trips get fresh session and order
    // ids, so no delivery of the first run is reopened. Every session has one start, every acknowledged event is
    // in silver (a session id sent again would be kept out of it), and gold holds both runs' deliveries completed.
    let again_log = dir.path().join("acked-again.log");
    let acked_again = finish_mars(&mut start_mars(&mars_env, 100, &again_log), &again_log).await;
    assert!(acked.is_disjoint(&acked_again), "event ids repeated");
    let expected_silver = expected + acked_again.len() as u64;
    wait_until(
        "silver and gold to hold the second run",
        Duration::from_secs(90),
        || {
            let clickhouse = &clickhouse;
            async move {
                let silver = silver_events(clickhouse).await;
                let completed = gold_completed(clickhouse).await;
                if (silver, completed) == (expected_silver, 1_100) {
                    Ok(Some(()))
                } else {
                    Err(format!(
                        "silver {silver} of {expected_silver} events, gold {completed} of 1100 completed"
                    ))
                }
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        clickhouse_count(
            &clickhouse,
            "SELECT count() FROM (SELECT session_id FROM packetpulse.session_movements \
             WHERE status = 'started' GROUP BY session_id HAVING uniqExact(event_id) > 1)",
        )
        .await,
        0,
        "sessions started twice"
    );
    let pids = stack.recorded_pids();
    println!("{}", stack.down());
    assert_all_stopped(&pids);
}

/// Starts Mars with `make up`'s settings and `vehicles` vehicles, one session each, fast-forwarded, until every
/// session completes; acknowledged event ids go to `acked_log`.
fn start_mars(
    env: &BTreeMap<String, String>,
    vehicles: u32,
    acked_log: &std::path::Path,
) -> tokio::process::Child {
    let mut env = env.clone();
    for (key, value) in [
        ("MARS_MODE", "until-complete".to_owned()),
        ("MARS_VEHICLES", vehicles.to_string()),
        ("MARS_INTERVAL", "200ms".to_owned()),
        ("MARS_STEP", "20s".to_owned()),
        ("MARS_START_SPREAD", "20s".to_owned()),
        ("MARS_EVENTS_LOG", acked_log.display().to_string()),
    ] {
        env.insert(key.to_owned(), value);
    }
    tokio::process::Command::new(target_dir().join("debug/mars"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Waits (up to 10 minutes) for Mars to finish successfully; the event ids it logged as acknowledged.
async fn finish_mars(mars: &mut tokio::process::Child, acked_log: &std::path::Path) -> HashSet<String> {
    let status = tokio::time::timeout(Duration::from_secs(600), mars.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "Mars failed");
    std::fs::read_to_string(acked_log)
        .unwrap()
        .lines()
        .filter_map(|line| line.split(' ').next().map(str::to_owned))
        .collect()
}

fn assert_all_stopped(pids: &[String]) {
    for pid in pids {
        // Gone, or a zombie waiting for a parent that does not reap (PID 1 of some containers).
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = state
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'));
        assert!(!running, "process {pid} survived make down: {state}");
    }
}
