//! The signed-in pages show the seeded fleet: the overview's figures equal what was seeded, a session's detail
//! draws its track and the replay moves along it, and the fleet and analytics pages agree; every page fits a
//! phone and a desktop window and passes axe-core's WCAG 2 A/AA checks; the API reference lists every `/api/v1`
//! route with its role, and `openapi.json` (OpenAPI 3.1) is public; the reports (trips, stops, daily, alerts) agree
//! with the seeded fleet as a table, as JSON and as the CSV export. Headless Chromium.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{
    ADMIN_PASSWORD, Dashboard, Fleet, SeededSession, browser, find, http, http_sign_in, hydrated, open,
    screenshot, sign_in, text, wait_for_path,
};
use mercury::server::access::rules::{Access, RULES};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_the_seeded_figures_charts_and_freshness() {
    let dashboard = Dashboard::start().await;
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    hydrated(&client).await;
    let kpi = |id: &'static str| {
        let client = client.clone();
        async move {
            (
                text(&client, &format!("#{id} .kpi-value")).await,
                text(&client, &format!("#{id} .kpi-change")).await,
            )
        }
    };
    // Seeded: today 3 sessions (2 completed) on 3 vehicles; yesterday 2 sessions, both completed, on 2 vehicles.
    assert_eq!(
        kpi("kpi-sessions").await,
        ("3".to_owned(), "+50 % vs yesterday".to_owned())
    );
    assert_eq!(
        kpi("kpi-orders").await,
        ("2".to_owned(), "same as yesterday".to_owned())
    );
    assert_eq!(
        kpi("kpi-fleet").await,
        ("3".to_owned(), "+50 % vs yesterday".to_owned())
    );
    let distance = format!("{:.1} km", dashboard.fleet.distance_today_km());
    assert_eq!(kpi("kpi-distance").await.0, distance);
    // Silver and gold hold an event from 10 s ago; the live feed has seen nothing since Mercury started.
    for (layer, level) in [("silver", "green"), ("gold", "green"), ("live", "unknown")] {
        let light = find(&client, &format!("#freshness li[data-layer='{layer}']")).await;
        assert_eq!(
            light.attr("data-level").await.unwrap().as_deref(),
            Some(level),
            "{layer}"
        );
    }
    assert_eq!(
        client
            .find_all(fantoccini::Locator::Css("table.sessions tbody tr"))
            .await
            .unwrap()
            .len(),
        5
    );
    for chart in ["chart-week-distance", "chart-week-sessions"] {
        let drawn = client
            .execute(
                "return Chart.getChart(arguments[0]) !== undefined",
                vec![json!(chart)],
            )
            .await
            .unwrap();
        assert_eq!(drawn, json!(true), "{chart} was not drawn");
    }
    // A route name full of markup was shown as text: nothing ran.
    assert_eq!(client.title().await.unwrap(), "PacketPulse");
    screenshot(&client, "overview").await;

    // Live by push: a fourth session today reaches silver and gold, and the open page shows it without a reload.
    common::mark_page(&client).await;
    let fourth = common::session(
        "s-today-4",
        "veh-5",
        "Kallithea → Pagrati",
        chrono::Utc::now(),
        false,
    );
    dashboard.seed_more(fourth.events()).await;
    packetpulse_testkit::wait_until(
        "the overview to show the fourth session",
        Duration::from_secs(20),
        || {
            let client = client.clone();
            async move {
                let sessions = text(&client, "#kpi-sessions .kpi-value").await;
                Ok::<_, String>((sessions == "4").then_some(()))
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(kpi("kpi-fleet").await.0, "4");
    common::assert_not_reloaded(&client).await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_shows_its_track_and_timeline_and_the_replay_moves_the_vehicle() {
    let dashboard = Dashboard::start().await;
    // The session redelivered (every event stored twice, as after a consumer's crash): still each point once.
    packetpulse_testkit::shared_clickhouse()
        .unwrap()
        .client()
        .with_database(&dashboard.clickhouse_database)
        .query("INSERT INTO session_movements SELECT * FROM session_movements WHERE session_id = 's-today-1'")
        .execute()
        .await
        .unwrap();
    let http = common::http();
    common::http_sign_in(&http, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    let detail: serde_json::Value = http
        .get(format!("{}/api/v1/sessions/s-today-1", dashboard.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["track"].as_array().map(Vec::len),
        Some(dashboard.fleet.today[0].points.len()),
        "{detail}"
    );
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client
        .goto(&format!("{}/sessions?q=VEH-1", dashboard.url))
        .await
        .unwrap();
    let rows = client
        .find_all(fantoccini::Locator::Css("table.sessions tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "veh-1 drove one session today and one yesterday");
    client
        .goto(&format!("{}/sessions/s-today-1", dashboard.url))
        .await
        .unwrap();
    hydrated(&client).await;
    let timeline = text(&client, "#timeline").await;
    assert_eq!(timeline.lines().count(), 3, "{timeline}");
    assert!(
        timeline.starts_with("started") && timeline.contains("en route") && timeline.contains("completed"),
        "{timeline}"
    );
    let map = find(&client, "#track-map[data-ready='true']").await;
    let seeded = &dashboard.fleet.today[0].points;
    let position = |index: usize| format!("{:.6},{:.6}", seeded[index].1, seeded[index].2);
    assert_eq!(map.attr("data-replay-position").await.unwrap(), Some(position(0)));
    find(&client, "#replay-play").await.click().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while map.attr("data-replay-index").await.unwrap().as_deref() != Some("3") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replay did not reach the last point"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(map.attr("data-replay-position").await.unwrap(), Some(position(3)));
    screenshot(&client, "session-replay").await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_and_analytics_pages_agree_with_the_seeded_fleet() {
    let dashboard = Dashboard::start().await;
    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client.goto(&format!("{}/fleet", dashboard.url)).await.unwrap();
    let rows = client
        .find_all(fantoccini::Locator::Css("#fleet tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[0].text().await.unwrap().starts_with("veh-1 idle 2 2"),
        "{}",
        rows[0].text().await.unwrap()
    );
    assert!(
        rows[2].text().await.unwrap().starts_with("veh-3 active 1 0"),
        "{}",
        rows[2].text().await.unwrap()
    );
    screenshot(&client, "fleet").await;
    client
        .goto(&format!("{}/analytics?period=week", dashboard.url))
        .await
        .unwrap();
    hydrated(&client).await;
    assert_eq!(text(&client, "#completion-rate").await, "80.0 %");
    let drawn = client
        .execute("return Chart.getChart('chart-peak-hours') !== undefined", vec![])
        .await
        .unwrap();
    assert_eq!(drawn, json!(true));

    // The peak-hour card names the busiest hour of the peak-hours chart.
    let busiest = client
        .execute(
            "const data = Chart.getChart('chart-peak-hours').data; const counts = data.datasets[0].data; \
             const top = Math.max(...counts); return [data.labels[counts.indexOf(top)], top];",
            vec![],
        )
        .await
        .unwrap();
    let peak = text(&client, "#peak-hour").await;
    assert!(
        peak.starts_with(busiest[0].as_str().unwrap()),
        "peak hour {peak:?}, chart's busiest {busiest}"
    );
    // The fleet now: veh-3 on its delivery, the others idle if heard from in the last ten minutes, else offline.
    let now = chrono::Utc::now();
    let mut last_heard = std::collections::BTreeMap::new();
    for session in dashboard.fleet.all() {
        let last = session.points.last().unwrap().0;
        let entry = last_heard.entry(session.vehicle_id.clone()).or_insert(last);
        *entry = (*entry).max(last);
    }
    let live_vehicle = dashboard.fleet.live().vehicle_id.clone();
    let idle = last_heard
        .iter()
        .filter(|(vehicle, last)| **vehicle != live_vehicle && now - **last < chrono::Duration::minutes(10))
        .count();
    assert_eq!(
        text(&client, "#fleet-status .kpi-value").await,
        format!("1 active {idle} idle {} offline", 3 - idle)
    );
    // Completion time, a day a step over the last seven days (today and the six before): the four completed
    // deliveries.
    let completion = |period: &'static str| {
        let client = client.clone();
        async move {
            let series = client
                .execute(
                    "const chart = Chart.getChart('chart-completion-time'); \
                     return chart && [chart.data.labels.length, chart.data.datasets[1].data.reduce((a, b) => a + b, 0)];",
                    vec![],
                )
                .await
                .unwrap();
            assert!(series.is_array(), "no completion chart for {period}");
            series
        }
    };
    assert_eq!(completion("week").await, json!([7, 4]));
    screenshot(&client, "analytics").await;

    // A calendar period: today, an hour a step since midnight, two of its three sessions completed.
    find(&client, "#periods a[href='/analytics?period=today']")
        .await
        .click()
        .await
        .unwrap();
    find(
        &client,
        "#periods a[aria-current='page'][href='/analytics?period=today']",
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while text(&client, "#completion-rate").await != "66.7 %" {
        assert!(std::time::Instant::now() < deadline, "today's completion rate");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // An hour a step since midnight (the next hour may have begun since `now`).
    let hours_today = u64::from(chrono::Timelike::hour(&now)) + 1;
    let today = completion("today").await;
    assert_eq!(today[1], json!(2), "{today}");
    assert!(
        [hours_today, hours_today + 1].contains(&today[0].as_u64().unwrap()),
        "{today} for {hours_today} hours"
    );

    // Live by push: a fourth session today, completed, lands in silver and gold; the open page reloads its figures
    // (three of four completed) without the browser reloading.
    common::mark_page(&client).await;
    let fourth = common::session(
        "s-today-4",
        "veh-5",
        "Kallithea → Pagrati",
        chrono::Utc::now() - chrono::Duration::minutes(5),
        true,
    );
    dashboard.seed_more(fourth.events()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while text(&client, "#completion-rate").await != "75.0 %" {
        assert!(std::time::Instant::now() < deadline, "the pushed completion rate");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    common::assert_not_reloaded(&client).await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

/// The elements reaching past the window's right edge when the page scrolls sideways (none when it does not),
/// as `tag#id.class`; a map's own layers (clipped by the map) are left out.
async fn overflowing(client: &fantoccini::Client) -> serde_json::Value {
    client
        .execute(
            "const width = document.documentElement.clientWidth; \
             if (document.documentElement.scrollWidth <= width) return []; \
             return [...document.querySelectorAll('body *')] \
               .filter((element) => element.getBoundingClientRect().right > width + 1) \
               .filter((element) => !element.parentElement.closest('.leaflet-container')) \
               .slice(0, 8) \
               .map((element) => `${element.tagName.toLowerCase()}#${element.id}.${element.className}`);",
            vec![],
        )
        .await
        .unwrap()
}

/// axe-core's serious and critical violations on the current page (WCAG 2 A and AA rules), as `rule: targets`.
async fn accessibility_violations(client: &fantoccini::Client, axe: &str) -> serde_json::Value {
    client.execute(axe, vec![]).await.unwrap();
    client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'], resultTypes: ['violations'] }) \
               .then((results) => done(results.violations \
                 .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical') \
                 .map((violation) => `${violation.id}: ${violation.nodes.slice(0, 4) \
                   .map((node) => node.target.join(' ')).join(', ')}`))) \
               .catch((error) => done([`axe failed: ${error}`]));",
            vec![],
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_a_desktop_and_has_no_serious_accessibility_violations() {
    // axe-core from npm (mercury/npm, installed by build.sh), run in the page.
    let axe = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("npm/node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core: run mercury/build.sh (npm ci) first");
    let dashboard = Dashboard::start().await;
    let (_driver, client) = browser().await;

    // The public pages first, signed out: sign-in and a customer's tracking page (a dispatcher's link).
    let admin = http();
    http_sign_in(&admin, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    let link: String = admin
        .post(format!("{}/api/fn/tracking_link", dashboard.url))
        .form(&[("order_id", dashboard.fleet.live().order_id.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let track = link[link.find("/track/").unwrap()..].to_owned();
    for (width, height) in [(390, 844), (1440, 900)] {
        client.set_window_size(width, height).await.unwrap();
        for page in ["/login", "/signup", track.as_str()] {
            client.goto(&format!("{}{page}", dashboard.url)).await.unwrap();
            find(&client, "h1").await;
            assert_eq!(
                overflowing(&client).await,
                json!([]),
                "{page} at {width}×{height} scrolls sideways"
            );
            assert_eq!(
                accessibility_violations(&client, &axe).await,
                json!([]),
                "{page} at {width}×{height}: axe-core's serious or critical violations"
            );
        }
    }

    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    let admin = http();
    http_sign_in(&admin, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    let live = dashboard.fleet.live().session_id.clone();
    let pages = [
        "/".to_owned(),
        "/live".to_owned(),
        "/analytics?period=week".to_owned(),
        "/sessions".to_owned(),
        format!("/sessions/{live}"),
        "/fleet".to_owned(),
        "/alerts".to_owned(),
        "/geofences".to_owned(),
        "/notifications".to_owned(),
        "/settings".to_owned(),
        "/admin/users".to_owned(),
        "/admin/devices".to_owned(),
        "/api-docs".to_owned(),
        "/reports?kind=daily".to_owned(),
    ];
    for (name, width, height) in [("phone", 390, 844), ("desktop", 1440, 900)] {
        client.set_window_size(width, height).await.unwrap();
        for page in &pages {
            eprintln!("{page} at {width}×{height}");
            open(&client, &admin, &format!("{}{page}", dashboard.url)).await;
            hydrated(&client).await;
            // Data-driven parts (maps, charts, tables) land after hydration: the page's own heading first.
            find(&client, "main h1").await;
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            // Polled briefly: a chart or map resizing to its box can overflow for a frame.
            let mut wide = overflowing(&client).await;
            while wide != json!([]) && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                wide = overflowing(&client).await;
            }
            assert_eq!(wide, json!([]), "{page} at {width}×{height} scrolls sideways");
            if name == "desktop" {
                assert_eq!(
                    accessibility_violations(&client, &axe).await,
                    json!([]),
                    "{page}: axe-core's serious or critical violations"
                );
            }
            if page == "/" || page == "/live" {
                let label = if page == "/" { "overview" } else { "live" };
                screenshot(&client, &format!("{label}-{name}")).await;
            }
        }
    }
    client.close().await.unwrap();
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_lists_every_api_route_and_openapi_json_is_public() {
    let dashboard = Dashboard::start().await;
    let api_rules: Vec<_> = RULES
        .iter()
        .filter(|rule| rule.path.starts_with("/api/v1/"))
        .collect();
    // Without signing in: the document holds no data, only the API's shape.
    let answer = http()
        .get(format!("{}/api/v1/openapi.json", dashboard.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let document: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], "/api/v1");
    for rule in &api_rules {
        let path = rule.path.trim_start_matches("/api/v1");
        let operation = &document["paths"][path][rule.method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{} {} is not in openapi.json",
            rule.method,
            rule.path
        );
        let public = rule.access == Access::Public;
        assert_eq!(
            operation["security"] == json!([]),
            public,
            "{} {}: security must match the route table",
            rule.method,
            rule.path
        );
    }

    let (_driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client.goto(&format!("{}/api-docs", dashboard.url)).await.unwrap();
    hydrated(&client).await;
    find(&client, "#api-operations tbody tr").await;
    let rows = client
        .find_all(fantoccini::Locator::Css("#api-operations tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), api_rules.len(), "one row per /api/v1 route");
    assert_eq!(text(&client, "#op-get-users .who").await, "admin");
    assert_eq!(text(&client, "#op-get-track--token- .who").await, "anyone");
    assert_eq!(text(&client, "#op-put-geofences--id- .who").await, "dispatcher");
    assert!(
        text(&client, "#op-get-analytics").await.contains("this_week"),
        "the period parameter lists the calendar periods"
    );
    screenshot(&client, "api-docs").await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

/// The seeded fleet plus `veh-9`, which stands still (0 km/h) from its second point to its fifth, 4 minutes.
fn fleet_with_a_stop() -> (Fleet, Vec<packetpulse_model::PublishedEvent>, SeededSession) {
    use packetpulse_model::DeliveryStatus::{Completed, EnRoute, Started};
    let now = chrono::Utc::now();
    let fleet = Fleet::new(now);
    let start = now - chrono::Duration::minutes(20);
    let at = |minutes: i64| start + chrono::Duration::minutes(minutes);
    let stopper = SeededSession {
        session_id: "s-stop".into(),
        vehicle_id: "veh-9".into(),
        order_id: "order-stop".into(),
        route_name: "=HYPERLINK(\"http://evil.example\")".into(),
        points: vec![
            (at(0), 37.90, 23.70, Started),
            (at(1), 37.91, 23.70, EnRoute),
            (at(2), 37.91, 23.70, EnRoute),
            (at(4), 37.91, 23.70, EnRoute),
            (at(5), 37.92, 23.70, EnRoute),
            (at(6), 37.93, 23.70, Completed),
        ],
        end: (37.93, 23.70),
    };
    let mut events: Vec<_> = fleet.all().flat_map(SeededSession::events).collect();
    events.extend(
        stopper
            .events()
            .into_iter()
            .enumerate()
            .map(|(index, mut event)| {
                if (1..=3).contains(&index) {
                    event.event.speed_kmh = Some(0.0);
                }
                event
            }),
    );
    (fleet, events, stopper)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_agree_with_the_seeded_fleet_as_a_table_as_json_and_as_csv() {
    let (fleet, events, stopper) = fleet_with_a_stop();
    let dashboard = Dashboard::start_seeded(fleet.clone(), [events], &[]).await;
    let base = dashboard.url.clone();
    let admin = http();
    http_sign_in(&admin, &base, "admin", ADMIN_PASSWORD).await;
    let report = |path: String| {
        let admin = admin.clone();
        let base = base.clone();
        async move {
            let answer = admin
                .get(format!("{base}/api/v1/reports/{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "{path}");
            answer.json::<mercury::model::ReportTable>().await.unwrap()
        }
    };
    let column = |table: &mercury::model::ReportTable, name: &str| -> Vec<String> {
        let index = table.columns.iter().position(|column| column == name).unwrap();
        table.rows.iter().map(|row| row[index].clone()).collect()
    };

    // Trips: every seeded session (the default range is the last 7 days), oldest first; one vehicle's alone.
    let trips = report("trips".into()).await;
    let mut expected: Vec<String> = fleet.all().map(|session| session.session_id.clone()).collect();
    expected.push(stopper.session_id.clone());
    let mut listed = column(&trips, "session_id");
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    assert!(!trips.truncated);
    assert_eq!(
        column(&report("trips?vehicle=veh-1".into()).await, "vehicle_id"),
        ["veh-1", "veh-1"]
    );

    // The daily summary adds up to the same trips; veh-1 drove one yesterday and one today.
    let daily = report("daily".into()).await;
    let trips_per_day: u64 = column(&daily, "trips")
        .iter()
        .map(|trips| trips.parse::<u64>().unwrap())
        .sum();
    assert_eq!(trips_per_day, 6);
    let veh_1 = report("daily?vehicle=veh-1".into()).await;
    assert_eq!(column(&veh_1, "trips"), ["1", "1"], "{veh_1:?}");

    // Stops: veh-9 stood still from its second point until it moved at its fifth: 4 minutes. The others never
    // stopped; a 5-minute minimum leaves none.
    let stops = report("stops".into()).await;
    assert_eq!(column(&stops, "vehicle_id"), ["veh-9"]);
    assert_eq!(column(&stops, "duration_s"), ["240"]);
    assert_eq!(
        column(&stops, "started_at"),
        [stopper.points[1].0.format("%Y-%m-%dT%H:%M:%SZ").to_string()]
    );
    assert!(report("stops?min_stop_s=300".into()).await.rows.is_empty());
    assert!(report("alerts".into()).await.rows.is_empty());

    // The CSV export: every row, the JSON's cells, a formula defused.
    let answer = admin
        .get(format!("{base}/api/v1/reports/trips"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = answer.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"packetpulse-trips-"),
        "{disposition}"
    );
    let body = answer.text().await.unwrap();
    let mut csv = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(csv.headers().unwrap().iter().collect::<Vec<_>>(), trips.columns);
    let rows: Vec<Vec<String>> = csv
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let defused: Vec<Vec<String>> = trips
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| {
                    if cell.starts_with('=') {
                        format!("'{cell}")
                    } else {
                        cell.clone()
                    }
                })
                .collect()
        })
        .collect();
    assert_eq!(rows, defused);
    assert!(
        body.contains(common::XSS_ROUTE.replace('"', "\"\"").as_str()),
        "quoted, not broken: {body}"
    );

    // Refusals say why.
    for (path, reason) in [
        ("nope", "report must be one of trips, stops, daily, alerts"),
        ("trips?from=yesterday", "from must be a date"),
        ("trips?from=2020-01-01&to=2026-01-01", "at most 366 days"),
        ("trips?from=2026-02-02&to=2026-02-01", "is after to"),
    ] {
        let answer = admin
            .get(format!("{base}/api/v1/reports/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{path}");
        let error: serde_json::Value = answer.json().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().contains(reason),
            "{path}: {error}"
        );
    }

    // The page: the table, and the export link with the same filters.
    let (_driver, client) = browser().await;
    sign_in(&client, &base, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client
        .goto(&format!("{base}/reports?kind=stops&vehicle=veh-9"))
        .await
        .unwrap();
    hydrated(&client).await;
    find(&client, "#report tbody tr").await;
    let row = text(&client, "#report tbody tr").await;
    assert!(row.contains("veh-9") && row.contains("240"), "{row}");
    let export = find(&client, "#report-export")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        export.starts_with("/api/v1/reports/stops?format=csv&vehicle=veh-9"),
        "{export}"
    );
    let exported = admin
        .get(format!("{base}{export}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        exported.lines().count(),
        2,
        "the header and the one stop: {exported}"
    );
    screenshot(&client, "reports").await;
    client.close().await.unwrap();
    dashboard.stop().await;
}
