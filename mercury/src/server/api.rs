//! The JSON API under `/api/v1` (documented in README.md). The pages get the same data through server functions
//! ([`crate::data`]); both call the functions here.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::access::CurrentUser;
use super::api_error::{ApiError, shared_error};
use super::openapi::ApiErrorBody;
use super::state::AppState;
use super::warehouse::ListQuery;
use crate::model::{
    ActiveSession, Analytics, DeviceRow, FleetRow, Overview, Page, SessionDetail, SessionRow, Tracking,
    UserRow, UserView,
};

/// The overview (cached for a second), with the live feed's freshness first.
pub async fn overview(state: &AppState) -> Result<Overview, ApiError> {
    let cached = state
        .answers
        .overview
        .try_get_with((), async {
            let overview = state.warehouse.overview(chrono::Utc::now().date_naive()).await?;
            Ok::<_, ApiError>(Arc::new(overview))
        })
        .await
        .map_err(shared_error)?;
    let mut overview = Overview::clone(&cached);
    overview
        .freshness
        .insert(0, super::freshness::layer("live", state.live.newest_event_ms()));
    Ok(overview)
}

/// Sessions under way (cached for a second).
pub async fn active_sessions(
    state: &AppState,
    status: &str,
    limit: u32,
) -> Result<Arc<Vec<ActiveSession>>, ApiError> {
    state
        .answers
        .active_sessions
        .try_get_with((status.to_owned(), limit), async {
            Ok::<_, ApiError>(Arc::new(state.warehouse.active_sessions(status, limit).await?))
        })
        .await
        .map_err(shared_error)
}

/// One session, or not found.
pub async fn session(state: &AppState, session_id: &str) -> Result<SessionDetail, ApiError> {
    state
        .warehouse
        .session(session_id)
        .await?
        .ok_or(ApiError::NotFound("session"))
}

/// Analytics of a period (cached for a second), or a bad request.
pub async fn analytics(state: &AppState, period: &str) -> Result<Analytics, ApiError> {
    if !crate::model::ANALYTICS_PERIODS
        .iter()
        .any(|(name, _)| *name == period)
    {
        let names: Vec<&str> = crate::model::ANALYTICS_PERIODS
            .iter()
            .map(|(name, _)| *name)
            .collect();
        return Err(ApiError::BadRequest(format!(
            "period must be one of {}, not {period:?}",
            names.join(", ")
        )));
    }
    let cached = state
        .answers
        .analytics
        .try_get_with((period.to_owned(), state.overview_feed.generation()), async {
            let analytics = state
                .warehouse
                .analytics(period)
                .await?
                .ok_or(ApiError::NotFound("period"))?;
            Ok::<_, ApiError>(Arc::new(analytics))
        })
        .await
        .map_err(shared_error)?;
    Ok(Analytics::clone(&cached))
}

/// The public view of the order a tracking link opens, for `client`: throttled per client address, cached for a
/// second per link; not found for a token no dispatcher handed out, gone once the order was delivered longer
/// than `MERCURY_TRACKING_LINK_TTL` ago.
pub async fn tracking(state: &AppState, client: IpAddr, token: &str) -> Result<Tracking, ApiError> {
    if !state.tracking_limits.allow(client) {
        return Err(ApiError::TooManyRequests);
    }
    tracking_unthrottled(state, token).await
}

/// [`tracking`] without the throttle: for a live tracking socket, throttled once when it opened.
pub async fn tracking_unthrottled(state: &AppState, token: &str) -> Result<Tracking, ApiError> {
    let cached = state
        .answers
        .tracking
        .try_get_with(token.to_owned(), async {
            let order = state
                .tracking_links
                .order(token)
                .await
                .map_err(|error| ApiError::Users(error.to_string()))?;
            let tracking = match order {
                Some(order) => state.warehouse.tracking(&order).await?,
                None => None,
            };
            Ok::<_, ApiError>(Arc::new(tracking))
        })
        .await
        .map_err(shared_error)?;
    let tracking = Option::clone(&cached).ok_or(ApiError::NotFound("tracking link"))?;
    let delivered_ms_ago = now_ms().saturating_sub(tracking.last_update_ms);
    let ttl_ms = u64::try_from(state.config.tracking_link_ttl.as_millis()).unwrap_or(u64::MAX);
    if tracking.status == "completed" && delivered_ms_ago > ttl_ms {
        return Err(ApiError::Expired);
    }
    Ok(tracking)
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Filter of the active-sessions call.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActiveQuery {
    /// `started`, `en_route`, `stale` or empty for all.
    #[serde(default)]
    pub status: String,
    /// At most this many (default 10,000).
    pub limit: Option<u32>,
}

/// Filter of the analytics call.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// Rolling: `day`, `week`, `month`, `year`; calendar (UTC): `today`, `this_week`, `this_month`, `this_year`.
    pub period: String,
}

/// The routes under `/api/v1`, one named handler each; who may call which is in the route table
/// (`access::rules`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", post(super::account::login_json))
        .route("/me", get(get_me))
        .route("/overview", get(get_overview))
        .route("/overview/live", get(super::overview_feed::websocket))
        .route("/sessions", get(get_sessions))
        .route("/sessions/{id}", get(get_session))
        .route("/active-sessions", get(get_active_sessions))
        .route("/fleet", get(get_fleet))
        .route("/analytics", get(get_analytics))
        .route("/track/{token}", get(get_tracking))
        .route("/track/{token}/live", get(super::tracking_feed::websocket))
        .route("/live", get(super::live::socket::websocket))
        .route("/alerts", get(super::alerts::get_alerts))
        .route("/geofences", get(super::geofences::get_geofences))
        .route(
            "/geofences/{id}",
            axum::routing::put(super::geofences::put_geofence).delete(super::geofences::delete_geofence),
        )
        .route("/alert-rules", get(super::alert_rules::get_alert_rules))
        .route(
            "/alert-rules/{rule}",
            axum::routing::put(super::alert_rules::put_alert_rule)
                .delete(super::alert_rules::delete_alert_rule),
        )
        .route("/alerts/live", get(super::alerts::feed::websocket))
        .route("/alerts/{id}/acknowledge", post(super::alerts::post_acknowledge))
        .route(
            "/webhooks",
            get(super::notify::api::get_webhooks).post(super::notify::api::post_webhook),
        )
        .route(
            "/webhooks/{id}",
            axum::routing::delete(super::notify::api::delete_webhook_by_id),
        )
        .route("/deliveries", get(super::notify::api::get_deliveries))
        .route(
            "/me/email-alerts",
            get(super::notify::api::get_email_alerts).put(super::notify::api::put_email_alerts),
        )
        .route("/users", get(get_users))
        .route("/devices", get(get_devices))
        .route("/openapi.json", get(super::openapi::get_openapi))
        .route("/reports/{kind}", get(super::reports::get_report))
}

/// `GET /me`: the signed-in user.
#[utoipa::path(get, path = "/me", tag = "account",
    responses((status = 200, description = "The signed-in user", body = UserView)))]
async fn get_me(Extension(CurrentUser(user)): Extension<CurrentUser>) -> Json<UserView> {
    Json(user.view())
}

/// `GET /overview`: the overview page's figures.
#[utoipa::path(get, path = "/overview", summary = "The overview page's figures", tag = "dashboard",
    responses((status = 200, description = "Today's KPIs, the last 7 days and each layer's freshness", body = Overview), (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody)))]
async fn get_overview(State(state): State<AppState>) -> Result<Json<Overview>, ApiError> {
    overview(&state).await.map(Json)
}

/// `GET /sessions?q=&status=&page=&per_page=`: a page of sessions, newest first.
#[utoipa::path(get, path = "/sessions", tag = "sessions", params(ListQuery),
    responses((status = 200, description = "A page of sessions, newest first", body = Page<SessionRow>), (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody)))]
async fn get_sessions(
    State(state): State<AppState>,
    Query(filter): Query<ListQuery>,
) -> Result<Json<Page<SessionRow>>, ApiError> {
    Ok(Json(state.warehouse.sessions(&filter).await?))
}

/// `GET /sessions/{id}`: one session with its track.
#[utoipa::path(get, path = "/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    responses(
        (status = 200, description = "The session with its track and timeline", body = SessionDetail),
        (status = 404, description = "No such session", body = ApiErrorBody), (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody)))]
async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    session(&state, &id).await.map(Json)
}

/// `GET /active-sessions?status=&limit=`: sessions under way, at most 100,000.
#[utoipa::path(get, path = "/active-sessions", tag = "sessions", params(ActiveQuery),
    responses((status = 200, description = "Sessions under way, with position, distance left and ETA", body = Vec<ActiveSession>), (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody)))]
async fn get_active_sessions(
    State(state): State<AppState>,
    Query(filter): Query<ActiveQuery>,
) -> Result<Json<Vec<ActiveSession>>, ApiError> {
    let limit = filter.limit.unwrap_or(10_000).min(100_000);
    active_sessions(&state, &filter.status, limit)
        .await
        .map(|sessions| Json(Vec::clone(&sessions)))
}

/// `GET /fleet?q=&page=&per_page=`: a page of vehicles.
#[utoipa::path(get, path = "/fleet", tag = "fleet", params(ListQuery),
    responses((status = 200, description = "A page of vehicles", body = Page<FleetRow>), (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody)))]
async fn get_fleet(
    State(state): State<AppState>,
    Query(filter): Query<ListQuery>,
) -> Result<Json<Page<FleetRow>>, ApiError> {
    Ok(Json(state.warehouse.fleet(&filter).await?))
}

/// `GET /analytics?period=`: analytics of a rolling or calendar period.
#[utoipa::path(get, path = "/analytics", tag = "dashboard", params(PeriodQuery),
    responses(
        (status = 200, description = "The period's series, completion time, peak hour, fleet status and top vehicles", body = Analytics),
        (status = 400, description = "Not a known period (the message lists them)", body = ApiErrorBody), (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody)))]
async fn get_analytics(
    State(state): State<AppState>,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<Analytics>, ApiError> {
    analytics(&state, &query.period).await.map(Json)
}

/// `GET /users`: every user (admins).
#[utoipa::path(get, path = "/users", summary = "Every user", tag = "admin",
    responses((status = 200, description = "Every user", body = Vec<UserRow>)))]
async fn get_users(State(state): State<AppState>) -> Result<Json<Vec<UserRow>>, ApiError> {
    let users = state
        .users
        .list()
        .await
        .map_err(|error| ApiError::BadRequest(error.notice().message().to_owned()))?;
    Ok(Json(users.iter().map(|user| user.row()).collect()))
}

/// `GET /devices`: every device credential (admins).
#[utoipa::path(get, path = "/devices", summary = "Every device credential", tag = "admin",
    responses((status = 200, description = "Every device credential (never its secret)", body = Vec<DeviceRow>)))]
async fn get_devices(State(state): State<AppState>) -> Result<Json<Vec<DeviceRow>>, ApiError> {
    state
        .devices
        .list()
        .await
        .map(Json)
        .map_err(|error| ApiError::Users(error.to_string()))
}

/// `GET /track/{token}`: the public view of the order a tracking link opens (public in the route table).
#[utoipa::path(get, path = "/track/{token}", summary = "The public view of the order a tracking link opens", tag = "tracking",
    params(("token" = String, Path, description = "The tracking link's token")),
    responses(
        (status = 200, description = "The order's status, position, distance left and ETA", body = Tracking),
        (status = 404, description = "No such tracking link", body = ApiErrorBody),
        (status = 410, description = "The order was delivered longer ago than the links live", body = ApiErrorBody),
        (status = 429, description = "Too many requests from this address", body = ApiErrorBody), (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody)))]
async fn get_tracking(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
) -> Result<Json<Tracking>, ApiError> {
    tracking(&state, client.ip(), &token).await.map(Json)
}
