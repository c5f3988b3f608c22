//! What every handler shares: the state built once at start-up.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::*;
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

use packetpulse_ops::secrets;

use super::alert_acks::AlertAcks;
use super::alert_rules::AlertRules;
use super::alerts::feed::AlertFeed;
use super::api_tokens::ApiTokens;
use super::auth::Throttle;
use super::config::Config;
use super::devices::Devices;
use super::error::Error;
use super::geofences::Geofences;
use super::invites::Invites;
use super::metrics::Metrics;
use super::notify::Notifications;
use super::tracking_links::TrackingLinks;
use super::{auth, cache, live, users, warehouse};

/// The settings of the secrets, named in errors.
const JWT_SECRET: &str = "MERCURY_JWT_SECRET";
const ADMIN_PASSWORD: &str = "MERCURY_ADMIN_PASSWORD";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// Leptos' settings (site root, output name).
    pub options: LeptosOptions,
    /// The user database.
    pub users: users::Users,
    /// Session tokens.
    pub tokens: auth::Tokens,
    /// Personal API tokens.
    pub api_tokens: ApiTokens,
    /// Invitations.
    pub invites: Invites,
    /// Public tracking links.
    pub tracking_links: TrackingLinks,
    /// Device credentials.
    pub devices: Devices,
    /// Public tracking requests per client IP.
    pub tracking_limits: Throttle<IpAddr>,
    /// Login attempt limits.
    pub login_limits: auth::LoginLimits,
    /// Sign-ups per client IP.
    pub signup_limits: Throttle<IpAddr>,
    /// Password changes and account deletions per user.
    pub account_change_limits: Throttle<i64>,
    /// ClickHouse.
    pub warehouse: warehouse::Warehouse,
    /// The live map's feed.
    pub live: live::LiveFeed,
    /// New alerts and acknowledgements, for every signed-in browser.
    pub alert_feed: AlertFeed,
    /// Acknowledged alerts.
    pub alert_acks: AlertAcks,
    /// The geofences in force (the compacted topic Jupiter's detector follows).
    pub geofences: Geofences,
    /// Per-rule alert threshold overrides (the compacted topic Jupiter's detector follows).
    pub alert_rules: AlertRules,
    /// Webhooks and email: the outbox and its senders.
    pub notifications: Notifications,
    /// The overview pushed to open overview pages.
    pub overview_feed: super::overview_feed::OverviewFeed,
    /// Answers reused for a second.
    pub answers: cache::Answers,
    /// Cancelled at shutdown (ends WebSocket connections).
    pub shutdown: CancellationToken,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.options.clone()
    }
}

impl AppState {
    /// Opens the user database (creating the default admin if it has no users) and sets up the rest.
    pub async fn new(
        config: Config,
        registry: &Registry,
        shutdown: CancellationToken,
    ) -> Result<Self, Error> {
        // Tokens signed with an empty, public or short key could be forged by anyone.
        secrets::check_signing_key(JWT_SECRET, &config.jwt_secret)?;
        config.clickhouse.check_password()?;
        let database_error = |source| Error::Users {
            path: redacted(&config.database),
            source,
        };
        let users = users::Users::open(&config.database)
            .await
            .map_err(database_error)?;
        if users.is_empty().await.map_err(database_error)? {
            secrets::check_secret(ADMIN_PASSWORD, &config.admin_password)?;
            users
                .ensure_default_admin(&config.admin_password)
                .await
                .map_err(database_error)?;
            tracing::warn!("created the first user, admin (admin@example.com), with MERCURY_ADMIN_PASSWORD");
        }
        let api_tokens = ApiTokens::new(users.db());
        let alert_acks = AlertAcks::new(users.db());
        let metrics = Metrics::new(registry);
        let notifications =
            Notifications::new(&config, users.db(), registry).map_err(Error::Notifications)?;
        let invites = Invites::new(users.db());
        let tracking_links = TrackingLinks::new(users.db(), &config.jwt_secret);
        let devices = Devices::new(
            users.db(),
            &config.device_signing_key,
            &config.kafka_bootstrap_servers,
            &config.device_revocation_topic,
        )?;
        let options = LeptosOptions::builder()
            .output_name("mercury")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(config.listen)
            .build();
        Ok(Self {
            options,
            users,
            tokens: auth::Tokens::new(&config.jwt_secret, config.session_ttl),
            api_tokens,
            invites,
            tracking_links,
            devices,
            tracking_limits: Throttle::per_minute(config.tracking_requests_per_minute),
            signup_limits: Throttle::per_minute(config.account_changes_per_minute),
            account_change_limits: Throttle::per_minute(config.account_changes_per_minute),
            login_limits: auth::LoginLimits::new(
                config.login_attempts_per_ip,
                config.login_attempts_per_account,
            ),
            warehouse: warehouse::Warehouse::new(
                config
                    .clickhouse
                    .client()
                    .with_setting("max_threads", config.clickhouse_max_threads.to_string()),
                &config.clickhouse.database,
            ),
            live: live::LiveFeed::new(&metrics),
            alert_feed: AlertFeed::new(metrics.alerts_received.clone()),
            alert_acks,
            geofences: Geofences::new(&config.kafka_bootstrap_servers, &config.geofences_topic)
                .map_err(Error::Geofences)?,
            alert_rules: AlertRules::new(&config.kafka_bootstrap_servers, &config.alert_rules_topic)
                .map_err(Error::Geofences)?,
            notifications,
            overview_feed: super::overview_feed::OverviewFeed::default(),
            answers: cache::Answers::default(),
            shutdown,
            config: Arc::new(config),
        })
    }
}

/// A database location for messages: a URL without its password.
fn redacted(location: &str) -> String {
    match (location.find("://"), location.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…{}", &location[..scheme_end], &location[at..])
        }
        _ => location.to_owned(),
    }
}
