//! Alerts for the pages and the API: the list (silver's `alerts` with Mercury's acknowledgements), acknowledging
//! one (told to every signed-in browser), and the live stream of new ones: Mercury follows the `alerts` topic
//! from its end and pushes each alert to every open `/api/v1/alerts/live` WebSocket as it arrives.

pub mod feed;

use crate::server::openapi::ApiErrorBody;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;

use super::access::CurrentUser;
use super::alert_acks::MAX_PER_RANGE;
use super::api_error::ApiError;
use super::state::AppState;
use super::users::User;
use super::warehouse::alerts::{AlertFilter, StoredAlert};
use crate::model::{AlertMessage, AlertView, Page};

/// The kinds Jupiter raises.
pub const KINDS: [&str; 6] = [
    "geofence_enter",
    "geofence_exit",
    "overspeed",
    "idle",
    "offline",
    "abandoned",
];

/// Without `from_ms`, the list starts this long before now.
const DEFAULT_RANGE_MS: u64 = 24 * 60 * 60 * 1_000;
/// Without `to_ms`, the list ends this long after now (device clocks run ahead a little; Venus allows 10 min).
const FUTURE_MS: u64 = 10 * 60 * 1_000;

/// Filters of `GET /api/v1/alerts` (all optional).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// One of [`KINDS`], or empty for all.
    #[serde(default)]
    pub kind: String,
    /// Exact vehicle id, or empty for all.
    #[serde(default)]
    pub vehicle: String,
    /// Alerts from this time (epoch ms); default a day ago.
    pub from_ms: Option<u64>,
    /// Alerts up to this time (epoch ms); default now.
    pub to_ms: Option<u64>,
    /// `open`, `acknowledged` or `all` (default).
    #[serde(default)]
    pub state: String,
    /// 1-based page.
    pub page: Option<u32>,
    /// Rows per page (1–200, default 50).
    pub per_page: Option<u32>,
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// The alerts `query` selects, newest first, with who acknowledged them.
pub async fn list(state: &AppState, query: &AlertQuery) -> Result<Page<AlertView>, ApiError> {
    let kind = query.kind.trim();
    if !kind.is_empty() && !KINDS.contains(&kind) {
        return Err(ApiError::BadRequest(format!(
            "kind must be one of {}, not {kind:?}",
            KINDS.join(", ")
        )));
    }
    let only = match query.state.as_str() {
        "" | "all" => None,
        "open" => Some(false),
        "acknowledged" => Some(true),
        other => {
            return Err(ApiError::BadRequest(format!(
                "state must be open, acknowledged or all, not {other:?}"
            )));
        }
    };
    let now = now_ms();
    let to_ms = query.to_ms.unwrap_or(now + FUTURE_MS);
    let from_ms = query.from_ms.unwrap_or(now.saturating_sub(DEFAULT_RANGE_MS));
    if from_ms > to_ms {
        return Err(ApiError::BadRequest("from_ms must not be after to_ms".to_owned()));
    }
    let acknowledged = state
        .alert_acks
        .in_range(from_ms, to_ms)
        .await
        .map_err(|error| ApiError::Users(error.to_string()))?
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "over {MAX_PER_RANGE} acknowledged alerts in this time range: narrow it (from_ms, to_ms)"
            ))
        })?;
    let (page, per_page) = (
        query.page.unwrap_or(1).max(1),
        query.per_page.unwrap_or(50).clamp(1, 200),
    );
    let mut ids = vec![String::new()];
    if only.is_some() {
        ids.extend(acknowledged.keys().cloned());
    }
    let filter = AlertFilter {
        kind: kind.to_owned(),
        vehicle: query.vehicle.trim().to_owned(),
        from_ms,
        to_ms,
        ids,
        only_ids: only == Some(true),
        limit: per_page,
        offset: u64::from(page - 1) * u64::from(per_page),
    };
    let (rows, total) = state.warehouse.alerts(&filter).await?;
    let rows = rows
        .into_iter()
        .map(|alert| {
            let acknowledgement = acknowledged.get(&alert.alert_id).cloned();
            view(alert, acknowledgement)
        })
        .collect();
    Ok(Page {
        rows,
        total,
        page,
        per_page,
    })
}

/// Open alerts of the last day (what the counter on every page starts from).
pub async fn open_count(state: &AppState) -> Result<u64, ApiError> {
    let query = AlertQuery {
        state: "open".to_owned(),
        per_page: Some(1),
        ..AlertQuery::default()
    };
    Ok(list(state, &query).await?.total)
}

/// `user` acknowledges `alert_id`: recorded once (the first acknowledgement stands) and told to every
/// signed-in browser. Not found for an id silver does not hold.
pub async fn acknowledge(state: &AppState, user: &User, alert_id: &str) -> Result<AlertView, ApiError> {
    let alert = state
        .warehouse
        .alert(alert_id)
        .await?
        .ok_or(ApiError::NotFound("alert"))?;
    let added = state
        .alert_acks
        .acknowledge(alert_id, alert.at_ms, user.id)
        .await
        .map_err(|error| ApiError::Users(error.to_string()))?;
    if added {
        tracing::info!(alert_id, user = %user.username, "alert acknowledged");
        state.alert_feed.send(&AlertMessage::Acknowledged {
            alert_id: alert_id.to_owned(),
            by: user.username.clone(),
        });
    }
    let acknowledged = state
        .alert_acks
        .in_range(alert.at_ms, alert.at_ms)
        .await
        .map_err(|error| ApiError::Users(error.to_string()))?
        .and_then(|mut acks| acks.remove(alert_id));
    Ok(view(alert, acknowledged))
}

fn view(alert: StoredAlert, acknowledged: Option<super::alert_acks::Acknowledgement>) -> AlertView {
    let (acknowledged_by, acknowledged_at_ms) =
        acknowledged.map_or((String::new(), 0), |ack| (ack.by, ack.at_ms));
    AlertView {
        alert_id: alert.alert_id,
        kind: alert.kind,
        session_id: alert.session_id,
        vehicle_id: alert.vehicle_id,
        geofence_id: alert.geofence_id,
        at_ms: alert.at_ms,
        lat: alert.lat,
        lon: alert.lon,
        message: alert.message,
        acknowledged_by,
        acknowledged_at_ms,
    }
}

/// `GET /api/v1/alerts`: the filtered list (viewers).
#[utoipa::path(get, path = "/alerts", summary = "A page of alerts, filtered", tag = "alerts", params(AlertQuery),
    responses(
        (status = 200, description = "A page of alerts, newest first", body = Page<AlertView>),
        (status = 400, description = "An unknown kind or state", body = ApiErrorBody), (status = 503, description = "The warehouse (ClickHouse) did not answer", body = ApiErrorBody)))]
pub async fn get_alerts(
    State(state): State<AppState>,
    Query(query): Query<AlertQuery>,
) -> Result<Json<Page<AlertView>>, ApiError> {
    list(&state, &query).await.map(Json)
}

/// `POST /api/v1/alerts/{id}/acknowledge` (dispatchers).
#[utoipa::path(post, path = "/alerts/{id}/acknowledge", summary = "Acknowledges an alert", tag = "alerts",
    params(("id" = String, Path, description = "The alert id")),
    responses(
        (status = 200, description = "The alert, acknowledged (by the first who did)", body = AlertView),
        (status = 404, description = "No such alert", body = ApiErrorBody)))]
pub async fn post_acknowledge(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(alert_id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    acknowledge(&state, &user, &alert_id).await.map(Json)
}
