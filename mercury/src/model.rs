//! What the dashboard shows, as data: the types the JSON API returns and the pages render, shared by the
//! server (which fills them from ClickHouse, SQLite and Kafka) and the browser (which receives them).

use serde::{Deserialize, Serialize};

/// What a user may do. Ordered: each role may do everything the roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything operational; changes nothing but their own profile.
    Viewer,
    /// Everything operational (what the next features add: geofences, alerts, tracking links).
    Dispatcher,
    /// Users, devices and settings as well.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Dispatcher, Role::Admin];

    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Dispatcher => "dispatcher",
            Self::Admin => "admin",
        }
    }

    /// The role of a stored or submitted name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

/// The signed-in user, as pages see them (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserView {
    /// Database id.
    pub id: i64,
    /// What the user may do.
    pub role: Role,
    /// Unique name, also accepted at login.
    pub username: String,
    /// Unique email, also accepted at login.
    pub email: String,
    /// The default admin's password is still the documented default: the UI nags until it is changed.
    pub must_change_password: bool,
    /// `light` or `dark`.
    pub theme: String,
    /// `km` or `mi`.
    pub units: String,
}

/// A user as the admin page lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserRow {
    /// Database id (the admin forms name users by it).
    pub id: i64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Whether the account is disabled.
    pub disabled: bool,
}

/// A device credential as the admin's devices page lists it (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceRow {
    /// Row id (the revoke form names it).
    pub id: i64,
    /// The device.
    pub device_id: String,
    /// Its vehicle; none for a fleet credential.
    pub vehicle_id: Option<String>,
    /// The credential's id (the token's `jti`).
    pub credential_id: String,
    /// Issued, epoch ms.
    pub created_at_ms: i64,
    /// Expires, epoch ms.
    pub expires_at_ms: i64,
    /// Revoked, epoch ms, if it was.
    pub revoked_at_ms: Option<i64>,
}

/// One of the signed-in user's API tokens, as the settings page lists them (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiTokenView {
    /// Id, to revoke it by.
    pub id: i64,
    /// The owner's name for it.
    pub name: String,
    /// Creation, epoch ms.
    pub created_at_ms: i64,
    /// Expiry, epoch ms, if any.
    pub expires_at_ms: Option<i64>,
    /// Last use, epoch ms, if any.
    pub last_used_at_ms: Option<i64>,
}

/// A figure for today next to the same figure for yesterday (UTC days).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DayOverDay {
    /// Today so far.
    pub today: f64,
    /// All of yesterday.
    pub yesterday: f64,
}

/// One UTC day of the weekly charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(clickhouse::Row))]
pub struct DayActivity {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Distance of the sessions started that day.
    pub distance_km: f64,
    /// Sessions started that day.
    pub started: u64,
    /// Of those, the ones completed.
    pub completed: u64,
}

/// One delivery session, from the gold `session_summary` model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(clickhouse::Row))]
pub struct SessionRow {
    /// Session id.
    pub session_id: String,
    /// Vehicle that drove it.
    pub vehicle_id: String,
    /// Order it delivers.
    pub order_id: String,
    /// Route name sent by the simulator (free text).
    pub route_name: String,
    /// `started`, `en_route` or `completed` (newest event).
    pub status: String,
    /// First event, epoch ms.
    pub started_at_ms: u64,
    /// Newest event, epoch ms.
    pub last_event_at_ms: u64,
    /// From the first to the newest event.
    pub duration_s: f64,
    /// Sum of the driven segments.
    pub distance_km: f64,
    /// Distance over duration.
    pub avg_speed_kmh: f64,
    /// Events received.
    pub events: u64,
}

/// How fresh one layer of the pipeline is: the age of the newest event it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LayerFreshness {
    /// `live`, `silver` or `gold`.
    pub layer: String,
    /// Event time of the newest event in the layer, epoch ms (none: the layer is empty).
    pub newest_event_ms: Option<u64>,
    /// Seconds between that event and now.
    pub age_s: Option<f64>,
    /// `green`, `amber`, `red`, or `unknown` when the layer is empty or unreachable.
    pub level: String,
}

/// The overview page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Overview {
    /// Sessions started.
    pub sessions: DayOverDay,
    /// Orders completed.
    pub orders: DayOverDay,
    /// Vehicles on the road at some point of the day.
    pub fleet: DayOverDay,
    /// Distance of the sessions started.
    pub distance_km: DayOverDay,
    /// The last seven days, oldest first (today last).
    pub week: Vec<DayActivity>,
    /// The ten sessions heard from most recently.
    pub recent: Vec<SessionRow>,
    /// Live feed, silver and gold.
    pub freshness: Vec<LayerFreshness>,
}

impl Overview {
    /// What changes when new data lands in the warehouse: today's figures and silver's and gold's newest events
    /// (not the passing seconds of the freshness ages, nor the live feed). The analytics page reloads when it
    /// changes, and the server caches analytics per change (`server::overview_feed`), so that reload is never
    /// answered from before the data it was told about.
    pub fn data_version(&self) -> String {
        let newest: Vec<Option<u64>> = self
            .freshness
            .iter()
            .filter(|layer| layer.layer != "live")
            .map(|layer| layer.newest_event_ms)
            .collect();
        format!(
            "{:?}",
            (self.sessions, self.orders, self.fleet, self.distance_km, newest)
        )
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The rows of this page.
    pub rows: Vec<T>,
    /// Rows matching the filter, over all pages.
    pub total: u64,
    /// 1-based page number.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

/// One recorded point of a session's track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(clickhouse::Row))]
pub struct TrackPoint {
    /// Event time, epoch ms.
    pub event_time_ms: u64,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Speed, km/h.
    pub speed_kmh: f64,
    /// Status in this event.
    pub status: String,
}

/// When a session first reported a status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// `started`, `en_route` or `completed`.
    pub status: String,
    /// Epoch ms.
    pub at_ms: u64,
}

/// A session with its whole track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionDetail {
    /// Summary.
    pub summary: SessionRow,
    /// Every recorded point, oldest first.
    pub track: Vec<TrackPoint>,
    /// First time of each status.
    pub timeline: Vec<TimelineEntry>,
    /// Pickup `[lat, lon]`.
    pub pickup: [f64; 2],
    /// Drop-off `[lat, lon]`.
    pub dropoff: [f64; 2],
}

/// One vehicle, from the gold `fleet_summary` model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(clickhouse::Row))]
pub struct FleetRow {
    /// Vehicle id.
    pub vehicle_id: String,
    /// Has a session under way that spoke recently.
    pub active: u8,
    /// Sessions driven.
    pub trips: u64,
    /// Of those, completed.
    pub completed_trips: u64,
    /// Distance over all sessions.
    pub total_km: f64,
    /// Newest event, epoch ms.
    pub last_update_ms: u64,
}

/// A session under way, from the gold `active_sessions` model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(clickhouse::Row))]
pub struct ActiveSession {
    /// Session id.
    pub session_id: String,
    /// Vehicle id.
    pub vehicle_id: String,
    /// Order id.
    pub order_id: String,
    /// `started`, `en_route`, or `stale` (silent for too long).
    pub status: String,
    /// Newest position.
    pub lat: f64,
    /// Newest position.
    pub lon: f64,
    /// Drop-off.
    pub end_lat: f64,
    /// Drop-off.
    pub end_lon: f64,
    /// Straight line to the drop-off.
    pub distance_to_destination_km: f64,
    /// Since the session started.
    pub elapsed_s: f64,
    /// Average so far.
    pub avg_speed_kmh: f64,
    /// At the average speed so far; none before the vehicle moved.
    pub eta_s: Option<u64>,
    /// Newest event, epoch ms.
    pub last_update_ms: u64,
    /// When the session started, epoch ms.
    pub started_at_ms: u64,
}

/// Count of sessions in one bucket of a distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Bucket {
    /// Bucket label, e.g. `10–20 min` or `14:00`.
    pub label: String,
    /// Sessions.
    pub count: u64,
}

/// The analytics periods by their `?period=` name, with the label the page shows: rolling, then calendar (UTC).
pub const ANALYTICS_PERIODS: [(&str, &str); 8] = [
    ("day", "Last 24 h"),
    ("week", "Last 7 days"),
    ("month", "Last 30 days"),
    ("year", "Last 365 days"),
    ("today", "Today"),
    ("this_week", "This week"),
    ("this_month", "This month"),
    ("this_year", "This year"),
];

/// One step of the completion-time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CompletionStep {
    /// `14:00`, `Mon 30 Nov` or `Nov 2026`.
    pub label: String,
    /// Deliveries completed that started in the step.
    pub completed: u64,
    /// Their average duration, seconds; none without any.
    pub avg_duration_s: Option<f64>,
}

/// How many vehicles are on a delivery (gold's `fleet_summary.active`: one under way that spoke in the last five
/// minutes), idle (heard from in the last ten minutes but not so: no delivery under way, or its delivery silent
/// for five) or offline (silent for ten minutes and more).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(clickhouse::Row))]
pub struct FleetStatus {
    /// On a delivery.
    pub active: u64,
    /// Heard from in the last ten minutes, not on a delivery that spoke in the last five.
    pub idle: u64,
    /// Silent for ten minutes and more.
    pub offline: u64,
}

/// One of the busiest vehicles of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(clickhouse::Row))]
pub struct TopVehicle {
    /// Vehicle id.
    pub vehicle_id: String,
    /// Completed deliveries in the period.
    pub completed: u64,
    /// Distance in the period.
    pub distance_km: f64,
}

/// The analytics page for one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Analytics {
    /// `day`, `week`, `month` or `year` (the last 24 hours, 7, 30 or 365 days, from the first whole hour, day or
    /// month within them) or `today`, `this_week` (from Monday), `this_month`, `this_year` (calendar, UTC).
    pub period: String,
    /// Where the period starts, epoch ms.
    pub since_ms: u64,
    /// Per hour (day periods), day (week and month) or month (year): deliveries completed and their average
    /// duration, oldest first; every step of the period is listed.
    pub completion_time: Vec<CompletionStep>,
    /// The busiest hour of the day in the period (UTC); none without sessions.
    pub peak_hour: Option<Bucket>,
    /// The fleet now (not only the period's).
    pub fleet_status: FleetStatus,
    /// Sessions started in the period.
    pub sessions: u64,
    /// Of those, completed.
    pub completed: u64,
    /// Completed over started.
    pub completion_rate: f64,
    /// Of the completed sessions.
    pub avg_duration_s: f64,
    /// Of the completed sessions.
    pub avg_distance_km: f64,
    /// Sessions seen per hour of the day (UTC), 24 entries.
    pub peak_hours: Vec<Bucket>,
    /// Completed sessions by duration.
    pub duration_distribution: Vec<Bucket>,
    /// Order latency (session start to delivery), seconds: p50, p90, p99 of the completed orders.
    pub order_latency_s: [f64; 3],
    /// Up to ten vehicles with the most deliveries.
    pub top_vehicles: Vec<TopVehicle>,
}

/// What the public tracking page shows about one order — and nothing else (no vehicle, session or driver ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Tracking {
    /// The order.
    pub order_id: String,
    /// `started`, `en_route`, `completed` or `stale`.
    pub status: String,
    /// Newest event, epoch ms.
    pub last_update_ms: u64,
    /// The vehicle's newest position `[lat, lon]`.
    pub position: [f64; 2],
    /// Drop-off `[lat, lon]`.
    pub destination: [f64; 2],
    /// Straight line to the drop-off.
    pub distance_remaining_km: f64,
    /// Estimated time to arrival (none when delivered or not moving yet).
    pub eta_s: Option<u64>,
}

/// A vehicle position as the live map receives it over the WebSocket (pickup, route and track come with the
/// session's detail when a vehicle is clicked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(clickhouse::Row))]
pub struct LivePosition {
    /// Session id (the marker's key).
    pub session_id: String,
    /// Vehicle id.
    pub vehicle_id: String,
    /// Order id.
    pub order_id: String,
    /// `started`, `en_route` or `completed` (the marker is removed).
    pub status: String,
    /// Position.
    pub lat: f64,
    /// Position.
    pub lon: f64,
    /// Drop-off.
    pub end_lat: f64,
    /// Drop-off.
    pub end_lon: f64,
    /// Speed, km/h, when sent.
    pub speed_kmh: Option<f64>,
    /// Heading, degrees, when sent.
    pub heading_deg: Option<f64>,
    /// Event time, epoch ms.
    pub event_time_ms: u64,
}

/// A message of the live WebSocket (`/api/v1/live`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// Every known position: sent first, and again if the client fell behind.
    Snapshot {
        /// Positions.
        positions: Vec<LivePosition>,
    },
    /// Positions changed since the previous message (newest per session).
    Update {
        /// Positions.
        positions: Vec<LivePosition>,
    },
}

/// One alert as the pages and the API show it: silver's row (Jupiter's detector) and who acknowledged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertView {
    /// Deterministic id (the same for a replay of the same events).
    pub alert_id: String,
    /// `geofence_enter`, `geofence_exit`, `overspeed`, `idle`, `offline` or `abandoned`.
    pub kind: String,
    /// Session.
    pub session_id: String,
    /// Vehicle.
    pub vehicle_id: String,
    /// Geofence, empty when none.
    pub geofence_id: String,
    /// When it happened (event time), epoch ms.
    pub at_ms: u64,
    /// Where.
    pub lat: f64,
    /// Where.
    pub lon: f64,
    /// What a person reads.
    pub message: String,
    /// Who acknowledged it; empty while open.
    pub acknowledged_by: String,
    /// When, epoch ms; 0 while open.
    pub acknowledged_at_ms: u64,
}

/// A message of the alerts WebSocket (`/api/v1/alerts/live`), which every signed-in page keeps open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertMessage {
    /// Open alerts of the last day: sent first.
    Open {
        /// How many.
        count: u64,
    },
    /// A new alert.
    Alert {
        /// The alert.
        alert: AlertView,
    },
    /// Someone acknowledged an alert.
    Acknowledged {
        /// Which.
        alert_id: String,
        /// Who.
        by: String,
    },
}

/// Settings the browser code needs that come from the server's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClientSettings {
    /// The maps' base layer.
    pub tiles: MapTiles,
    /// Whether anyone may sign up (else only with an invitation).
    pub open_signup: bool,
}

/// The maps' base layer, as the server's configuration sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MapTiles {
    /// Tile URL template (`{z}/{x}/{y}`); empty: no tiles, routes and markers on a blank background (offline
    /// sites).
    pub url: String,
    /// The tile provider's credit, shown in the map's corner (HTML from the operator's configuration: tile
    /// servers such as OpenStreetMap's require it).
    pub attribution: String,
}

impl MapTiles {
    /// As the browser helpers take it (`js/dashboard.js`, `baseMap`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A webhook endpoint as the notifications page and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookView {
    /// Id (its deliveries' channel is `webhook:{id}`).
    pub id: i64,
    /// What the admin called it.
    pub name: String,
    /// Where alerts are POSTed.
    pub url: String,
    /// The alert kinds it gets; empty: every kind.
    pub kinds: Vec<String>,
    /// When it was added, epoch ms (alerts published before are not sent to it).
    pub created_at_ms: u64,
    /// The signing secret: only in the answer that created it, empty everywhere else.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
}

/// One alert's delivery to one channel (the delivery log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    /// The alert.
    pub alert_id: String,
    /// `webhook:{id}` or `email:{user id}`.
    pub channel: String,
    /// The alert's kind.
    pub kind: String,
    /// The alert's vehicle.
    pub vehicle_id: String,
    /// When the alert happened, epoch ms.
    pub alert_at_ms: u64,
    /// `pending`, `delivered` or `failed` (gave up after the last retry).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed; empty when it did not.
    pub last_error: String,
    /// When a pending delivery is tried next, epoch ms; 0 otherwise.
    pub next_attempt_at_ms: u64,
    /// When it was queued, epoch ms.
    pub created_at_ms: u64,
    /// When the channel accepted it, epoch ms; 0 until then.
    pub delivered_at_ms: u64,
}

/// The alert kinds a user gets by email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EmailAlerts {
    /// Kinds (`overspeed`, …); empty: none.
    pub kinds: Vec<String>,
    /// Whether this dashboard sends email at all (`MERCURY_SMTP_URL` is set).
    #[serde(default)]
    pub enabled: bool,
    /// The address they go to.
    #[serde(default)]
    pub email: String,
}

/// One timed alert rule and its override (none: Jupiter's own setting is in force).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRuleView {
    /// `overspeed`, `idle`, `offline` or `abandoned`.
    pub rule: String,
    /// Overspeed limit or idle speed, km/h.
    pub kmh: Option<f64>,
    /// How long above the limit, standing still or silent, seconds.
    pub seconds: Option<u64>,
}

/// One operation of the JSON API, as the API reference page lists it (from the OpenAPI document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOperation {
    /// `GET`, `PUT`, `POST` or `DELETE`.
    pub method: String,
    /// The full path, e.g. `/api/v1/sessions/{id}`.
    pub path: String,
    /// One line on what it does.
    pub summary: String,
    /// The lowest role that may call it, or `anyone`.
    pub who: String,
    /// Its path and query parameters.
    pub parameters: Vec<ApiParameter>,
    /// What its body holds, if it takes one.
    pub request_body: String,
    /// Its answers by status.
    pub responses: Vec<ApiResponse>,
}

/// A parameter of an [`ApiOperation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiParameter {
    /// Its name.
    pub name: String,
    /// `path` or `query`.
    pub location: String,
    /// Whether a call must give it.
    pub required: bool,
    /// What it means.
    pub description: String,
}

/// An answer of an [`ApiOperation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiResponse {
    /// The HTTP status, e.g. `200`.
    pub status: String,
    /// What it means.
    pub description: String,
}

/// The reports: kind (the URL's and the API's word) and the page's label.
pub const REPORT_KINDS: [(&str, &str); 4] = [
    ("trips", "Trips"),
    ("stops", "Stops"),
    ("daily", "Daily summary"),
    ("alerts", "Alerts"),
];

/// The first rows of a report: what the reports page shows and the JSON API returns (the CSV export has all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReportTable {
    /// `trips`, `stops`, `daily` or `alerts`.
    pub kind: String,
    /// The column names (the CSV's header).
    pub columns: Vec<String>,
    /// Rows of cells as the CSV writes them: times ISO 8601 UTC, distances km, durations seconds.
    pub rows: Vec<Vec<String>>,
    /// Whether there are more rows than these (the export has them).
    pub truncated: bool,
    /// The range's first instant, epoch ms.
    pub from_ms: u64,
    /// The first instant after the range, epoch ms.
    pub to_ms: u64,
}
