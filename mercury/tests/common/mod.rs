//! What Mercury's tests share: a dashboard wired to real servers (ClickHouse with silver seeded through
//! Jupiter's enrichment and gold built by Uranus' runner, tansu for the live feed, SQLite in a temp dir), headless
//! Chromium, and the seeded fleet with the figures the pages must show.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use clap::Parser;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use jupiter::testing::SilverSeeder;
use mercury::server::Config;
use packetpulse_model::geo::{GeoPoint, haversine_m};
use packetpulse_model::{DeliveryEvent, DeliveryStatus, PublishedEvent, testing};
use packetpulse_testkit::{Chromedriver, Kafka, shared_clickhouse, shared_kafka};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The password of the first admin in every test dashboard.
pub const ADMIN_PASSWORD: &str = "admin-test-password-4f7e";
/// The password of the users tests create with [`create_user`].
pub const USER_PASSWORD: &str = "a-test-user-password";

/// The session signing key of every test dashboard.
pub const JWT_SECRET: &str = "mercury-test-session-signing-key-0123456789";

/// A fresh Ed25519 device-signing key, base64 PKCS#8, as `make up` generates one.
pub fn device_signing_key() -> String {
    use base64::Engine;
    let pkcs8 =
        aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
}

/// A route name that would run script if a page rendered it as HTML.
pub const XSS_ROUTE: &str = "<img src=x onerror=\"document.title='xss'\">";

/// One seeded session: its points in time order.
#[derive(Debug, Clone)]
pub struct SeededSession {
    pub session_id: String,
    pub vehicle_id: String,
    pub order_id: String,
    pub route_name: String,
    pub points: Vec<(DateTime<Utc>, f64, f64, DeliveryStatus)>,
    pub end: (f64, f64),
}

impl SeededSession {
    pub fn distance_km(&self) -> f64 {
        self.points
            .windows(2)
            .map(|pair| {
                haversine_m(
                    GeoPoint::new(pair[0].1, pair[0].2),
                    GeoPoint::new(pair[1].1, pair[1].2),
                )
            })
            .sum::<f64>()
            / 1000.0
    }

    pub fn events(&self) -> Vec<PublishedEvent> {
        self.points
            .iter()
            .map(|&(time, lat, lon, status)| event(self, time, (lat, lon), status))
            .collect()
    }
}

/// A published event of `session` at `time` and `position`.
pub fn event(
    session: &SeededSession,
    time: DateTime<Utc>,
    (lat, lon): (f64, f64),
    status: DeliveryStatus,
) -> PublishedEvent {
    PublishedEvent {
        event_id: uuid::Uuid::new_v4(),
        ..testing::published(DeliveryEvent {
            device_id: format!("device-{}", session.vehicle_id),
            vehicle_id: session.vehicle_id.clone(),
            session_id: session.session_id.clone(),
            order_id: session.order_id.clone(),
            status,
            timestamp: time,
            start_lat: session.points[0].1,
            start_lon: session.points[0].2,
            end_lat: session.end.0,
            end_lon: session.end.1,
            current_lat: lat,
            current_lon: lon,
            speed_kmh: Some(40.0),
            heading_deg: Some(0.0),
            route_name: Some(session.route_name.clone()),
            ..testing::event()
        })
    }
}

/// Four points a minute apart, 0.01° of latitude each (≈ 1.1 km: 67 km/h), from `start`.
pub fn session(id: &str, vehicle: &str, route: &str, start: DateTime<Utc>, completed: bool) -> SeededSession {
    use DeliveryStatus::{Completed, EnRoute, Started};
    let base = (37.95, 23.70);
    let points = (0..4)
        .map(|step| {
            let status = match step {
                0 => Started,
                3 if completed => Completed,
                _ => EnRoute,
            };
            (
                start + chrono::Duration::seconds(60 * step),
                base.0 + 0.01 * step as f64,
                base.1,
                status,
            )
        })
        .collect();
    SeededSession {
        session_id: id.to_owned(),
        vehicle_id: vehicle.to_owned(),
        order_id: format!("order-{:016x}", fxhash(id)),
        route_name: route.to_owned(),
        points,
        end: (base.0 + 0.05, base.1),
    }
}

fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The seeded fleet: three sessions today (two completed, one under way, heard from 10 s ago), two completed
/// yesterday.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub today: Vec<SeededSession>,
    pub yesterday: Vec<SeededSession>,
}

impl Fleet {
    pub fn new(now: DateTime<Utc>) -> Self {
        let midnight = Utc.from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0).unwrap());
        // Today's completed sessions: halfway between midnight and now, at most two hours back.
        let earlier_today = now - (now - midnight).min(chrono::Duration::hours(4)) / 2;
        let noon_yesterday = midnight - chrono::Duration::hours(12);
        Self {
            today: vec![
                session("s-today-1", "veh-1", "Syntagma → Kifisia", earlier_today, true),
                session(
                    "s-today-2",
                    "veh-2",
                    XSS_ROUTE,
                    earlier_today + chrono::Duration::seconds(30),
                    true,
                ),
                session(
                    "s-live",
                    "veh-3",
                    "Piraeus → Marousi",
                    now - chrono::Duration::seconds(190),
                    false,
                ),
            ],
            yesterday: vec![
                session("s-yday-1", "veh-1", "Glyfada → Halandri", noon_yesterday, true),
                session(
                    "s-yday-2",
                    "veh-4",
                    "Peristeri → Kallithea",
                    noon_yesterday + chrono::Duration::hours(1),
                    true,
                ),
            ],
        }
    }

    pub fn live(&self) -> &SeededSession {
        &self.today[2]
    }

    pub fn all(&self) -> impl Iterator<Item = &SeededSession> {
        self.today.iter().chain(&self.yesterday)
    }

    pub fn distance_today_km(&self) -> f64 {
        self.today.iter().map(SeededSession::distance_km).sum()
    }
}

/// Seeds silver through Jupiter's enrichment and insert path (batches of `events`, each in time order per
/// session), then builds gold with Uranus' runner.
pub async fn seed(
    client: &clickhouse::Client,
    database: &str,
    batches: impl IntoIterator<Item = Vec<PublishedEvent>>,
) {
    let mut silver = SilverSeeder::new(client, database).await;
    let ingested_at = Utc::now();
    for events in batches {
        silver.insert(events, ingested_at).await;
    }
    let project_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../uranus/dbt");
    let project = uranus::project::Project::load(&project_dir, database).unwrap();
    let mut runner = uranus::runner::Runner::new(client.clone(), database, project).unwrap();
    let selected = runner.select(&[]).unwrap();
    uranus::runner::summarise(&runner.run(&selected, false).await).unwrap();
}

/// Where `mercury/build.sh` put the site (the test command runs it before the tests).
pub fn site_root() -> PathBuf {
    let site = std::env::var_os("MERCURY_SITE_ROOT").map_or_else(|| target_dir().join("site"), PathBuf::from);
    assert!(
        site.join("pkg/mercury.js").exists(),
        "{} has no browser build: run bash mercury/build.sh",
        site.display()
    );
    site
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// The test output directory for screenshots.
pub fn artifacts() -> PathBuf {
    let dir = target_dir().join("test-artifacts/mercury");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running dashboard on a free port.
pub struct Dashboard {
    pub url: String,
    pub fleet: Fleet,
    pub topic: String,
    /// The topic of alerts Mercury follows.
    pub alerts_topic: String,
    pub kafka: &'static Kafka,
    pub clickhouse_database: String,
    stop: CancellationToken,
    server: JoinHandle<Result<(), mercury::server::Error>>,
    _dir: tempfile::TempDir,
}

/// Where a test dashboard keeps its accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temp dir (the native run's choice).
    Sqlite,
    /// A fresh database on the test binary's PostgreSQL server (compose's choice).
    Postgres,
}

impl Dashboard {
    /// Seeds `events` into this dashboard's warehouse (silver, then gold), as the planets would while a page is
    /// open: what the live-by-push tests change under an open page.
    pub async fn seed_more(&self, events: Vec<PublishedEvent>) {
        let warehouse = shared_clickhouse()
            .unwrap()
            .client()
            .with_database(&self.clickhouse_database);
        seed(&warehouse, &self.clickhouse_database, [events]).await;
    }

    /// Seeds a fresh ClickHouse database and starts Mercury on it with its accounts on `backend`.
    pub async fn start_on(backend: Backend, flags: &[&str]) -> Self {
        match backend {
            Backend::Sqlite => Self::start_with(flags).await,
            Backend::Postgres => {
                let url = packetpulse_testkit::shared_postgres()
                    .unwrap()
                    .fresh_database("mercury")
                    .unwrap();
                let database = format!("--database={url}");
                let mut all = vec![database.as_str()];
                all.extend_from_slice(flags);
                Self::start_with(&all).await
            }
        }
    }

    /// Seeds a fresh database and starts Mercury on it.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Same, with extra command-line flags.
    pub async fn start_with(flags: &[&str]) -> Self {
        let fleet = Fleet::new(Utc::now());
        let events = fleet.all().flat_map(SeededSession::events).collect();
        Self::start_seeded(fleet, [events], flags).await
    }

    /// Seeds `batches` of events (the `fleet` is what tests compare against) and starts Mercury.
    pub async fn start_seeded(
        fleet: Fleet,
        batches: impl IntoIterator<Item = Vec<PublishedEvent>>,
        flags: &[&str],
    ) -> Self {
        let clickhouse = shared_clickhouse().unwrap();
        let kafka = shared_kafka().unwrap();
        let (database, client) = clickhouse.fresh_database().await.unwrap();
        seed(&client, &database, batches).await;
        let topic = kafka.create_unique_topic("mercury-live", 1).await.unwrap();
        let alerts_topic = format!("{topic}.alerts");
        kafka.create_topic(&alerts_topic, 1).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("users.db");
        let mut args = vec!["mercury".to_owned(), "--listen=127.0.0.1:0".to_owned()];
        args.extend(server_args(&database, &topic));
        if !flags.iter().any(|flag| flag.starts_with("--database=")) {
            args.push(format!("--database={}", db_path.display()));
        }
        // No internet here: maps without tiles unless a test serves its own.
        if !flags.iter().any(|flag| flag.starts_with("--tile-url=")) {
            args.push("--tile-url=".to_owned());
        }
        args.extend(flags.iter().map(|flag| (*flag).to_owned()));
        let config = Config::parse_from(args);
        let listener = TcpListener::bind(config.listen).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let server = tokio::spawn(mercury::server::run_with(
            config,
            listener,
            stop.clone().cancelled_owned(),
        ));
        packetpulse_testkit::wait_until("Mercury answers /health", Duration::from_secs(30), || {
            let url = format!("{url}/health");
            async move {
                match reqwest::get(url).await {
                    Ok(response) if response.status().is_success() => Ok(Some(())),
                    Ok(response) => Err(format!("status {}", response.status())),
                    Err(error) => Err(error.to_string()),
                }
            }
        })
        .await
        .unwrap();
        Self {
            url,
            fleet,
            topic,
            alerts_topic,
            kafka,
            clickhouse_database: database,
            stop,
            server,
            _dir: dir,
        }
    }

    /// Produces `events` to the live topic and waits for the broker's acknowledgement of all of them.
    pub async fn produce(&self, events: &[PublishedEvent]) {
        let producer: FutureProducer = self.kafka.client_config().create().unwrap();
        let payloads: Vec<String> = events.iter().map(PublishedEvent::to_json).collect();
        let deliveries: Vec<_> = events
            .iter()
            .zip(&payloads)
            .map(|(event, payload)| {
                producer.send(
                    FutureRecord::to(&self.topic)
                        .key(&event.event.session_id)
                        .payload(payload),
                    Duration::from_secs(30),
                )
            })
            .collect();
        for delivery in futures::future::join_all(deliveries).await {
            delivery.map_err(|(error, _)| error).unwrap();
        }
    }

    /// Stops the server and checks it ended cleanly.
    pub async fn stop(self) {
        self.stop.cancel();
        self.server.await.unwrap().unwrap();
    }
}

/// The flags that wire a test dashboard to the shared servers: ClickHouse `database`, the live `topic`, its alerts
/// (`{topic}.alerts`), geofences and notification group named after it, the test secrets.
pub fn server_args(database: &str, topic: &str) -> Vec<String> {
    let clickhouse = shared_clickhouse().unwrap();
    let kafka = shared_kafka().unwrap();
    vec![
        format!("--site-root={}", site_root().display()),
        format!("--clickhouse-url={}", clickhouse.url()),
        format!("--clickhouse-database={database}"),
        format!("--kafka-bootstrap-servers={}", kafka.bootstrap_servers()),
        format!("--topic={topic}"),
        format!("--alerts-topic={topic}.alerts"),
        format!("--geofences-topic={topic}.geofences"),
        format!("--alert-rules-topic={topic}.alert-rules"),
        format!("--jwt-secret={JWT_SECRET}"),
        format!("--device-signing-key={}", device_signing_key()),
        format!("--admin-password={ADMIN_PASSWORD}"),
    ]
}

/// Headless Chromium through chromedriver. Keep the driver alive as long as the client.
pub async fn browser() -> (Chromedriver, Client) {
    let driver = Chromedriver::start().unwrap();
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(driver.capabilities())
        .connect(&driver.url())
        .await
        .unwrap();
    (driver, client)
}

/// Waits for an element (hydrated pages first render on the server, so most elements are there at once).
pub async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no element {css}: {error}"))
}

/// Text of an element.
/// Marks the open page, so [`assert_not_reloaded`] can tell a push from a reload.
pub async fn mark_page(client: &Client) {
    client.execute("window.notReloaded = true", vec![]).await.unwrap();
}

/// Fails if the browser loaded the page again since [`mark_page`].
pub async fn assert_not_reloaded(client: &Client) {
    let marked = client
        .execute("return window.notReloaded === true", vec![])
        .await
        .unwrap();
    assert_eq!(marked, serde_json::json!(true), "the page was reloaded");
}

pub async fn text(client: &Client, css: &str) -> String {
    find(client, css).await.text().await.unwrap()
}

/// Fills the login form and submits it.
pub async fn sign_in(client: &Client, base: &str, login: &str, password: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    fill(client, "input[name=login]", login).await;
    fill(client, "input[name=password]", password).await;
    find(client, "#sign-in").await.click().await.unwrap();
}

/// Opens `url` in the browser; when the page does not finish loading, fails saying whether the server answers
/// the same request from `http` (signed in as the browser is), so a hang is put on the server or on the browser.
pub async fn open(client: &Client, http: &reqwest::Client, url: &str) {
    let Err(error) = client.goto(url).await else {
        return;
    };
    let started = std::time::Instant::now();
    let server = match http.get(url).timeout(Duration::from_secs(10)).send().await {
        Ok(response) => match response.text().await {
            Ok(body) => format!("answered it in {:?} ({} bytes)", started.elapsed(), body.len()),
            Err(error) => format!("sent its head but not all its body: {error}"),
        },
        Err(error) => format!("did not answer it: {error}"),
    };
    panic!("opening {url}: {error}; asked directly, the server {server}");
}

/// Types `value` into a cleared input.
pub async fn fill(client: &Client, css: &str, value: &str) {
    let input = find(client, css).await;
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

/// Waits until the browser is at a path (and query) for which `accept` holds.
pub async fn wait_for_path(client: &Client, what: &str, accept: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let url = client.current_url().await.unwrap();
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        if accept(&path) {
            return path;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "browser never got to {what}; at {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves a screenshot under the test output directory.
pub async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

/// Waits until the page's wasm has hydrated it.
pub async fn hydrated(client: &Client) {
    find(client, "[data-hydrated='true']").await;
}

/// The JSON answer to `request`.
pub async fn json<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

/// An HTTP client that keeps cookies and does not follow redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A response that never ends fails its test, naming the request, instead of hanging it.
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The body of a GET.
pub async fn page(http: &reqwest::Client, url: String) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Signs `http` in with the default admin through the form.
pub async fn http_sign_in(
    http: &reqwest::Client,
    base: &str,
    login: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{base}/login"))
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Percent-encodes a query value or path segment.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Creates `username` (email `username@example.com`, password [`USER_PASSWORD`]) with `role`, as the admin does
/// on the users page.
pub async fn create_user(base: &str, username: &str, role: &str) {
    let admin = http();
    http_sign_in(&admin, base, "admin", ADMIN_PASSWORD).await;
    let created = admin
        .post(format!("{base}/admin/users"))
        .form(&[
            ("username", username),
            ("email", &format!("{username}@example.com")),
            ("password", USER_PASSWORD),
            ("role", role),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.headers()["location"], "/admin/users?done=user_created");
}
