//! Mercury's configuration: one struct, from command-line flags or environment variables (see README.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use packetpulse_ops::clickhouse::ClickHouseConfig;

/// Where to listen, where the data is, and how sessions behave.
#[derive(Debug, Clone, Parser)]
#[command(name = "mercury", version, about = "PacketPulse dashboard (Leptos) on :3000")]
pub struct Config {
    /// Address of the dashboard (pages, API, /health, /metrics).
    #[arg(long, env = "MERCURY_LISTEN", default_value = "0.0.0.0:3000")]
    pub listen: SocketAddr,

    /// The site directory mercury/build.sh fills: `pkg/` (the browser's wasm), `vendor/` (npm assets), style.css.
    #[arg(long, env = "MERCURY_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// The account database (users, API tokens, invitations, devices, tracking links): a SQLite file path
    /// (created with its tables if missing), or a `postgres://` URL (compose; several Mercury replicas share it).
    #[arg(long, env = "MERCURY_DATABASE", default_value = "mercury.db")]
    pub database: String,

    /// Key that signs session tokens (HS256), random, 32 bytes at least. No default: `make up` generates one.
    #[arg(long, env = "MERCURY_JWT_SECRET", default_value = "", hide_env_values = true)]
    pub jwt_secret: String,

    /// How long a login lasts.
    #[arg(long, env = "MERCURY_SESSION_TTL", default_value = "12h", value_parser = humantime::parse_duration)]
    pub session_ttl: Duration,

    /// Mark the session cookie `Secure` on every response (it is always marked when the request came over
    /// HTTPS, as told by `X-Forwarded-Proto: https`).
    #[arg(long, env = "MERCURY_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Password of the `admin` user created when the user table is empty (needed then, ignored after; the UI nags
    /// until it is changed). No default: `make up` generates one and prints it once.
    #[arg(
        long,
        env = "MERCURY_ADMIN_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub admin_password: String,

    /// The dashboard's address as users reach it, e.g. `https://dispatch.example.com` (no trailing slash): it
    /// starts invitation links, is accepted as the `Origin` of form posts, and when it is https the session
    /// cookie is always `Secure`. Empty: links are relative to the request's host.
    #[arg(long, env = "MERCURY_PUBLIC_URL", default_value = "")]
    pub public_url: String,

    /// Let anyone create an account (as `viewer`) on the sign-up page. Off: only with an admin's invitation.
    #[arg(long, env = "MERCURY_OPEN_SIGNUP", default_value_t = false)]
    pub open_signup: bool,

    /// How long an invitation link stays usable.
    #[arg(long, env = "MERCURY_INVITE_TTL", default_value = "72h", value_parser = humantime::parse_duration)]
    pub invite_ttl: Duration,

    /// Sign-ups allowed per client IP per minute, and password changes and account deletions per user.
    #[arg(long, env = "MERCURY_ACCOUNT_CHANGES_PER_MINUTE", default_value_t = 5)]
    pub account_changes_per_minute: u32,

    /// How long a tracking link keeps working after its order was delivered.
    #[arg(long, env = "MERCURY_TRACKING_LINK_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub tracking_link_ttl: Duration,

    /// Public tracking requests allowed per client IP per minute.
    #[arg(long, env = "MERCURY_TRACKING_REQUESTS_PER_MINUTE", default_value_t = 60)]
    pub tracking_requests_per_minute: u32,

    /// The Ed25519 private key that signs device tokens (base64 PKCS#8 DER; no default: `make up` and `make
    /// secrets` generate it, and give Venus the public half as `VENUS_DEVICE_TOKEN_KEY`).
    #[arg(
        long,
        env = "MERCURY_DEVICE_SIGNING_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub device_signing_key: String,

    /// The compacted topic device revocations go to (Venus follows it).
    #[arg(long, env = "MERCURY_DEVICE_REVOCATION_TOPIC", default_value = packetpulse_model::topics::DEVICE_REVOCATIONS)]
    pub device_revocation_topic: String,

    /// Login attempts allowed per client IP per minute.
    #[arg(long, env = "MERCURY_LOGIN_ATTEMPTS_PER_IP", default_value_t = 20)]
    pub login_attempts_per_ip: u32,

    /// Login attempts allowed per account (username or email) per minute.
    #[arg(long, env = "MERCURY_LOGIN_ATTEMPTS_PER_ACCOUNT", default_value_t = 5)]
    pub login_attempts_per_account: u32,

    /// ClickHouse with the silver and gold tables.
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,

    /// Threads ClickHouse gives each of Mercury's queries (`max_threads`; 0: one per core, ClickHouse's default).
    /// The dashboard's queries are small and many users ask at once: one thread each serves more of them than
    /// splitting every query over every core (measured in the README's benchmark).
    #[arg(long, env = "MERCURY_CLICKHOUSE_MAX_THREADS", default_value_t = 1)]
    pub clickhouse_max_threads: u64,

    /// Kafka bootstrap servers, for the live map's feed.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092")]
    pub kafka_bootstrap_servers: String,

    /// Topic of the published events.
    #[arg(long, env = "MERCURY_TOPIC", default_value = packetpulse_model::topics::SESSIONS)]
    pub topic: String,

    /// Compacted topic of the geofences (Mercury writes it, Jupiter's detector follows it).
    #[arg(long, env = "MERCURY_GEOFENCES_TOPIC", default_value = packetpulse_model::topics::GEOFENCES)]
    pub geofences_topic: String,

    /// Compacted topic of the per-rule alert threshold overrides (Mercury writes it, Jupiter's detector follows it).
    #[arg(long, env = "MERCURY_ALERT_RULES_TOPIC", default_value = packetpulse_model::topics::ALERT_RULES)]
    pub alert_rules_topic: String,

    /// Topic of the alerts Jupiter raises (pushed to every signed-in browser).
    #[arg(long, env = "MERCURY_ALERTS_TOPIC", default_value = packetpulse_model::topics::ALERTS)]
    pub alerts_topic: String,

    /// Each webhook request and SMTP conversation ends within this.
    #[arg(long, env = "MERCURY_NOTIFY_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub notify_timeout: Duration,

    /// A failed notification is tried again after this, each further retry twice as long after (at most 1 h).
    #[arg(long, env = "MERCURY_NOTIFY_RETRY_BASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub notify_retry_base: Duration,

    /// Attempts before a notification is failed for good (12 at 5 s doubling ≈ 3 h of retries).
    #[arg(long, env = "MERCURY_NOTIFY_MAX_ATTEMPTS", default_value_t = 12)]
    pub notify_max_attempts: u32,

    /// SMTP server for email alerts, as lettre reads it: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host`. Empty: no email (users cannot subscribe).
    #[arg(long, env = "MERCURY_SMTP_URL", default_value = "", hide_env_values = true)]
    pub smtp_url: String,

    /// The sender of email alerts.
    #[arg(
        long,
        env = "MERCURY_SMTP_FROM",
        default_value = "PacketPulse <alerts@localhost>"
    )]
    pub smtp_from: String,

    /// How often the live map's browsers get the positions that changed.
    #[arg(long, env = "MERCURY_LIVE_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub live_interval: Duration,

    /// How often pages that follow the data (overview, analytics, public tracking) get fresh figures by push.
    #[arg(long, env = "MERCURY_PUSH_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub push_interval: Duration,

    /// Map tile URL template (`{z}/{x}/{y}`): OpenStreetMap's standard tiles by default; empty: no tiles,
    /// routes and markers on a blank background (sites without internet access).
    #[arg(long, env = "MERCURY_TILE_URL", default_value = OSM_TILES)]
    pub tile_url: String,

    /// The tile provider's credit in the maps' corner (HTML; tile servers require one). Set it with
    /// `MERCURY_TILE_URL` when using other tiles.
    #[arg(long, env = "MERCURY_TILE_ATTRIBUTION", default_value = OSM_ATTRIBUTION)]
    pub tile_attribution: String,

    /// Log JSON lines (containers) instead of human-readable text.
    #[arg(long, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}

/// OpenStreetMap's standard tile server (its usage policy: attribution, no heavy use; a busy site runs its own).
pub const OSM_TILES: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
/// The credit OpenStreetMap's licence asks for.
pub const OSM_ATTRIBUTION: &str =
    "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors";

impl Config {
    /// The configuration with every default, listening on a free port: what tests start from.
    pub fn defaults() -> Self {
        let mut config = Self::parse_from(["mercury"]);
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }
}
