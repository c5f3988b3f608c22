//! The live map: a vehicle event produced to Kafka moves the vehicle's marker in the browser within a second
//! (Mercury's own consumer pushes it over the WebSocket); the active deliveries board under it follows the same
//! feed, sorts, searches and focuses a vehicle on the map; the map draws the configured tiles with their credit,
//! a legend, and finds, follows and re-centres.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{ADMIN_PASSWORD, Dashboard, browser, find, hydrated, screenshot, sign_in, wait_for_path};
use packetpulse_model::DeliveryStatus;
use serde_json::json;

/// A browser signed in as the admin, on the live map, hydrated. Keep the driver alive as long as the client.
async fn open_live_map(dashboard: &Dashboard) -> (packetpulse_testkit::Chromedriver, fantoccini::Client) {
    let (driver, client) = browser().await;
    sign_in(&client, &dashboard.url, "admin", ADMIN_PASSWORD).await;
    wait_for_path(&client, "the overview", |path| path == "/").await;
    client.goto(&format!("{}/live", dashboard.url)).await.unwrap();
    hydrated(&client).await;
    (driver, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_produced_to_kafka_moves_its_marker_within_a_second() {
    let dashboard = Dashboard::start().await;
    let live = dashboard.fleet.live().clone();
    let (_driver, client) = open_live_map(&dashboard).await;
    // The session under way comes from ClickHouse at Mercury's start: the first snapshot shows it.
    find(&client, "#live-map[data-vehicles='1']").await;
    let marker = |session: String| {
        let client = client.clone();
        async move {
            client
                .execute(
                    "return window.packetpulseLiveMap.markerPosition(arguments[0])",
                    vec![json!(session)],
                )
                .await
                .unwrap()
        }
    };
    let seeded = live.points.last().unwrap();
    assert_eq!(marker(live.session_id.clone()).await, json!([seeded.1, seeded.2]));

    // Each round moves the vehicle further north. Rounds produced before Mercury's consumer got its partitions
    // are not seen at all: the latency counts from the first round that got through.
    let mut latencies = Vec::new();
    for round in 1..=20 {
        let position = (seeded.1 + 0.001 * f64::from(round), seeded.2);
        let event = common::event(&live, chrono::Utc::now(), position, DeliveryStatus::EnRoute);
        dashboard.produce(&[event]).await;
        let produced = Instant::now();
        let deadline = produced + Duration::from_secs(3);
        let expected = json!([position.0, position.1]);
        while marker(live.session_id.clone()).await != expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if marker(live.session_id.clone()).await == expected {
            latencies.push(produced.elapsed());
        } else {
            assert!(
                latencies.is_empty(),
                "round {round} never reached the map after earlier rounds did"
            );
        }
        if latencies.len() == 5 {
            break;
        }
    }
    assert_eq!(latencies.len(), 5, "no event reached the map");
    println!("produced → marker moved: {latencies:?}");
    let worst_of_last_four = latencies[1..].iter().max().unwrap();
    assert!(*worst_of_last_four <= Duration::from_secs(1), "{latencies:?}");
    // A click on the vehicle shows its details, distance remaining and ETA.
    client
        .execute(
            "window.packetpulseLiveMap.select(arguments[0])",
            vec![json!(live.session_id)],
        )
        .await
        .unwrap();
    let details = find(&client, "#live-details[data-session]")
        .await
        .text()
        .await
        .unwrap();
    for expected in [
        live.vehicle_id.as_str(),
        &live.order_id,
        "en route",
        "40 km/h",
        "Distance remaining",
        "ETA",
    ] {
        assert!(details.contains(expected), "{expected} missing from {details}");
    }
    // Filtering by another status hides it; by its own shows it.
    let filter = find(&client, "#live-filter").await;
    filter.clone().select_by_value("started").await.unwrap();
    find(&client, "#live-map[data-visible='0']").await;
    filter.select_by_value("en_route").await.unwrap();
    find(&client, "#live-map[data-visible='1']").await;
    screenshot(&client, "live-map").await;

    // Ten thousand vehicles at once: batches from the server, each applied in one animation frame.
    let fleet: Vec<_> = (0..10_000)
        .map(|i| {
            let mut session = live.clone();
            session.session_id = format!("bulk-{i:05}");
            session.vehicle_id = format!("bulk-vehicle-{i:05}");
            let position = (
                seeded.1 + 0.0001 * f64::from(i % 100),
                seeded.2 + 0.0001 * f64::from(i / 100),
            );
            common::event(&session, chrono::Utc::now(), position, DeliveryStatus::EnRoute)
        })
        .collect();
    let produced = Instant::now();
    dashboard.produce(&fleet).await;
    find(&client, "#live-map[data-vehicles='10001']").await;
    let batch = find(&client, "#live-map")
        .await
        .attr("data-last-batch")
        .await
        .unwrap()
        .unwrap_or_default();
    println!(
        "10,000 vehicles produced → all on the map in {:?}; last batch: {batch}",
        produced.elapsed()
    );
    screenshot(&client, "live-map-10k").await;

    // Completed: the marker goes away.
    let done = common::event(
        &live,
        chrono::Utc::now(),
        (live.end.0, live.end.1),
        DeliveryStatus::Completed,
    );
    dashboard.produce(&[done]).await;
    find(&client, "#live-map[data-vehicles='10000']").await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

/// The board's rows as shown: `[session, staleness, vehicle, status, remaining, ETA, elapsed, last update]`.
async fn board(client: &fantoccini::Client) -> Vec<Vec<String>> {
    let rows = client
        .execute(
            "return [...document.querySelectorAll('#live-board tbody tr')].map((row) => \
               [row.dataset.session, row.dataset.staleness, ...[...row.cells].map((cell) => cell.textContent)])",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(rows).unwrap()
}

/// The sessions of the board's rows, top to bottom.
async fn board_order(client: &fantoccini::Client) -> Vec<String> {
    board(client)
        .await
        .into_iter()
        .map(|row| row[0].clone())
        .collect()
}

/// Polls until the board's rows are `sessions`, in that order (it redraws every second).
async fn wait_for_board(client: &fantoccini::Client, sessions: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let order = board_order(client).await;
        if order == sessions {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "board shows {order:?}, expected {sessions:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kilometres in a board cell such as "2.22 km".
fn km(cell: &str) -> f64 {
    cell.strip_suffix(" km").unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_deliveries_board_follows_the_feed_sorts_searches_and_focuses_the_map() {
    let dashboard = Dashboard::start().await;
    let live = dashboard.fleet.live().clone();
    let (_driver, client) = open_live_map(&dashboard).await;

    // The delivery under way: 0.02° of latitude (2.22 km) from its drop-off at 40 km/h, started 190 s before the
    // fixture was built (known from gold's active sessions), heard from 10 s before.
    wait_for_board(&client, &[live.session_id.as_str()]).await;
    // The start time comes with the page's one request for active sessions, which may land after the first row.
    let deadline = Instant::now() + Duration::from_secs(20);
    let row = loop {
        let row = board(&client).await.remove(0);
        if row[6] != "—" {
            break row;
        }
        assert!(Instant::now() < deadline, "no start time for {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row[2..4], [live.vehicle_id.clone(), "en route".to_owned()]);
    let (_, lat, lon, _) = *live.points.last().unwrap();
    let remaining = packetpulse_model::geo::haversine_m(
        packetpulse_model::geo::GeoPoint::new(lat, lon),
        packetpulse_model::geo::GeoPoint::new(live.end.0, live.end.1),
    ) / 1000.0;
    assert!(
        (km(&row[4]) - remaining).abs() < 0.006,
        "{row:?} vs {remaining} km"
    );
    assert_eq!(row[5], format!("{} min", (remaining / 40.0 * 60.0).round()));
    assert!(row[6].ends_with(" min"), "elapsed {row:?}");
    assert!(row[7].ends_with(" ago"), "last update {row:?}");

    // Two more deliveries arrive through Kafka, no reload: one starting now at the fixture's base (5.56 km to go),
    // one 1.11 km from its drop-off whose last word is five minutes old.
    let mut zulu = live.clone();
    zulu.session_id = "board-zulu".to_owned();
    zulu.vehicle_id = "van-zulu".to_owned();
    let mut alpha = live.clone();
    alpha.session_id = "board-alpha".to_owned();
    alpha.vehicle_id = "van-alpha".to_owned();
    let now = chrono::Utc::now();
    let zulu_at = (live.end.0 - 0.05, live.end.1);
    dashboard
        .produce(&[
            common::event(&zulu, now, zulu_at, DeliveryStatus::Started),
            common::event(
                &alpha,
                now - chrono::Duration::minutes(5),
                (live.end.0 - 0.01, live.end.1),
                DeliveryStatus::EnRoute,
            ),
        ])
        .await;
    // Sorted by vehicle, ascending, by default.
    wait_for_board(&client, &["board-alpha", "board-zulu", live.session_id.as_str()]).await;
    let rows = board(&client).await;
    assert_eq!(rows[0][1], "amber", "five minutes without news: {:?}", rows[0]);
    assert_eq!(rows[1][3], "started");
    assert!(
        rows[1][6].ends_with(" s"),
        "elapsed of a delivery that just started: {:?}",
        rows[1]
    );
    client
        .execute("document.getElementById('live-board').scrollIntoView()", vec![])
        .await
        .unwrap();
    screenshot(&client, "live-board").await;

    // A header's click sorts by it, a second click reverses.
    let sort_by = async |column: &str| {
        find(&client, &format!("#live-board th[data-sort='{column}'] button"))
            .await
            .click()
            .await
            .unwrap();
    };
    sort_by("vehicle_id").await;
    wait_for_board(&client, &[live.session_id.as_str(), "board-zulu", "board-alpha"]).await;
    find(
        &client,
        "#live-board th[data-sort='vehicle_id'][aria-sort='descending']",
    )
    .await;
    sort_by("remaining").await;
    wait_for_board(&client, &["board-alpha", live.session_id.as_str(), "board-zulu"]).await;

    // The search narrows by vehicle, session or order id, in any case.
    common::fill(&client, "#board-search", "ZULU").await;
    wait_for_board(&client, &["board-zulu"]).await;

    // A row's click focuses its vehicle: details panel, map centred on it, row marked.
    client
        .execute(
            "document.querySelector(\"#live-board tr[data-session='board-zulu']\").click()",
            vec![],
        )
        .await
        .unwrap();
    find(&client, "#live-details[data-session='board-zulu']").await;
    // The map pans there (animated).
    wait_for_centre(&client, zulu_at, "a board row's click").await;
    find(
        &client,
        "#live-board tr[data-session='board-zulu'][aria-current='true']",
    )
    .await;

    // Completed: the delivery leaves the board.
    client
        .execute(
            "const search = document.getElementById('board-search'); search.value = ''; \
             search.dispatchEvent(new Event('input'));",
            vec![],
        )
        .await
        .unwrap();
    dashboard
        .produce(&[common::event(
            &zulu,
            chrono::Utc::now(),
            live.end,
            DeliveryStatus::Completed,
        )])
        .await;
    wait_for_board(&client, &["board-alpha", live.session_id.as_str()]).await;
    client.close().await.unwrap();
    dashboard.stop().await;
}

/// A 1×1 PNG: what the test tile server answers for every tile.
const TILE: [u8; 70] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 31,
    21, 196, 137, 0, 0, 0, 13, 73, 68, 65, 84, 120, 156, 99, 56, 115, 247, 221, 127, 0, 8, 167, 3, 151, 41,
    226, 21, 135, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// A tile server on a free port counting the tiles asked of it; returns its URL template and the counter.
async fn tile_server() -> (String, Arc<AtomicUsize>) {
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let app = axum::Router::new().route(
        "/tiles/{z}/{x}/{y}",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { ([(axum::http::header::CONTENT_TYPE, "image/png")], TILE.as_slice()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/tiles/{{z}}/{{x}}/{{y}}.png"), served)
}

/// The live map's centre.
async fn map_centre(client: &fantoccini::Client) -> (f64, f64) {
    serde_json::from_value(
        client
            .execute("return window.packetpulseLiveMap.center()", vec![])
            .await
            .unwrap(),
    )
    .unwrap()
}

/// Waits until the live map is centred on `at` (within a pixel or two at zoom 15).
async fn wait_for_centre(client: &fantoccini::Client, at: (f64, f64), what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let centre = map_centre(client).await;
        if (centre.0 - at.0).abs() < 1e-4 && (centre.1 - at.1).abs() < 1e-4 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: map centred on {centre:?}, not {at:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until session `session`'s marker is at `at`.
async fn wait_for_marker(client: &fantoccini::Client, session: &str, at: (f64, f64)) {
    let expected = json!([at.0, at.1]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let position = client
            .execute(
                "return window.packetpulseLiveMap.markerPosition(arguments[0])",
                vec![json!(session)],
            )
            .await
            .unwrap();
        if position == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{session} at {position}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_draws_its_tiles_and_legend_and_finds_follows_and_recentres() {
    let (tiles, served) = tile_server().await;
    let dashboard = Dashboard::start_with(&[
        &format!("--tile-url={tiles}"),
        "--tile-attribution=Tiles &copy; Test Maps",
    ])
    .await;
    let live = dashboard.fleet.live().clone();
    let (_driver, client) = open_live_map(&dashboard).await;
    find(&client, "#live-map[data-vehicles='1']").await;

    // The configured tiles, with their credit; the legend names what the marks mean.
    packetpulse_testkit::wait_until("tiles asked for", Duration::from_secs(10), || {
        let served = served.load(Ordering::SeqCst);
        async move { Ok::<_, String>((served > 0).then_some(())) }
    })
    .await
    .unwrap();
    assert!(
        common::text(&client, ".leaflet-control-attribution")
            .await
            .contains("Tiles © Test Maps"),
        "the tile provider's credit is shown"
    );
    let legend = common::text(&client, "#live-legend").await;
    for entry in [
        "Started",
        "En route",
        "Open alert",
        "route",
        "pickup and drop-off",
    ] {
        assert!(legend.contains(entry), "legend {legend:?} lacks {entry:?}");
    }

    // Two more deliveries, far apart.
    let mut zulu = live.clone();
    zulu.session_id = "find-zulu".to_owned();
    zulu.vehicle_id = "van-zulu".to_owned();
    zulu.order_id = "order-zulu-77".to_owned();
    let mut alpha = live.clone();
    alpha.session_id = "find-alpha".to_owned();
    alpha.vehicle_id = "van-alpha".to_owned();
    let zulu_at = (live.end.0 - 0.05, live.end.1);
    let alpha_at = (live.end.0 + 0.05, live.end.1 + 0.05);
    let now = chrono::Utc::now();
    dashboard
        .produce(&[
            common::event(&zulu, now, zulu_at, DeliveryStatus::EnRoute),
            common::event(&alpha, now, alpha_at, DeliveryStatus::EnRoute),
        ])
        .await;
    find(&client, "#live-map[data-vehicles='3']").await;

    // Find by order id: the vehicle is focused, the map centred on it, the answer said.
    let find_on_map = async |query: &str| {
        common::fill(&client, "#map-find input", query).await;
        find(&client, "#map-find button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
    };
    find_on_map("ORDER-ZULU").await;
    find(&client, "#live-details[data-session='find-zulu']").await;
    wait_for_centre(&client, zulu_at, "found by order id").await;
    assert_eq!(
        common::text(&client, "#map-find-status").await,
        "Showing van-zulu."
    );
    find_on_map("no-such-van").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !common::text(&client, "#map-find-status")
        .await
        .starts_with("No delivery under way matches")
    {
        assert!(Instant::now() < deadline, "no answer for an unknown vehicle");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(&client, "live-map-tools").await;

    // Follow: the map keeps the vehicle in the middle as it moves.
    find(&client, "#live-follow").await.click().await.unwrap();
    find(&client, "#live-follow[aria-pressed='true']").await;
    let moved = (zulu_at.0 + 0.003, zulu_at.1);
    dashboard
        .produce(&[common::event(
            &zulu,
            chrono::Utc::now(),
            moved,
            DeliveryStatus::EnRoute,
        )])
        .await;
    wait_for_centre(&client, moved, "following").await;

    // Dragging the map stops following: the next move leaves the view where the dispatcher put it.
    client
        .execute("window.packetpulseLiveMap.panBy(200, 0)", vec![])
        .await
        .unwrap();
    find(&client, "#live-follow[aria-pressed='false']").await;
    let dragged_to = map_centre(&client).await;
    let moved_again = (moved.0 + 0.003, moved.1);
    dashboard
        .produce(&[common::event(
            &zulu,
            chrono::Utc::now(),
            moved_again,
            DeliveryStatus::EnRoute,
        )])
        .await;
    wait_for_marker(&client, "find-zulu", moved_again).await;
    assert_eq!(map_centre(&client).await, dragged_to, "the view stayed put");

    // Re-centre: every vehicle in view again.
    find(&client, "#live-recentre").await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = client
            .execute(
                "return ['find-zulu', 'find-alpha', arguments[0]].every((id) => window.packetpulseLiveMap.inView(id))",
                vec![json!(live.session_id)],
            )
            .await
            .unwrap();
        if shown == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "re-centre left a vehicle out of view");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Closing the session closes the browser; chromedriver's exit alone leaves it running.
    client.close().await.unwrap();
}
