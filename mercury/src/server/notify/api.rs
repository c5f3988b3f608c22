//! Managing notifications: webhook endpoints (admins), the delivery log (dispatchers), and each user's email
//! alert kinds. The JSON API's handlers and the pages' server functions both call the functions here.

use crate::server::openapi::ApiErrorBody;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use super::store::DeliveryQuery;
use super::webhook::check_url;
use crate::model::{DeliveryView, EmailAlerts, Page, WebhookView};
use crate::server::access::CurrentUser;
use crate::server::alerts::KINDS;
use crate::server::api_error::ApiError;
use crate::server::state::AppState;
use crate::server::users::{User, UserError};

/// Longest webhook name.
const MAX_NAME: usize = 100;
/// Longest webhook URL.
const MAX_URL: usize = 2_000;

/// A new webhook endpoint.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewWebhook {
    /// What to call it.
    pub name: String,
    /// Where alerts are POSTed (http or https).
    pub url: String,
    /// The kinds it gets; empty or missing: every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// The kinds of a request, checked and deduplicated.
fn checked_kinds(kinds: &[String]) -> Result<Vec<String>, ApiError> {
    let mut checked: Vec<String> = Vec::new();
    for kind in kinds {
        let kind = kind.trim();
        if !KINDS.contains(&kind) {
            return Err(ApiError::BadRequest(format!(
                "kinds must be among {}, not {kind:?}",
                KINDS.join(", ")
            )));
        }
        if !checked.iter().any(|seen| seen == kind) {
            checked.push(kind.to_owned());
        }
    }
    Ok(checked)
}

fn database(error: UserError) -> ApiError {
    ApiError::Users(error.to_string())
}

/// Every webhook endpoint (without secrets).
pub async fn webhooks(state: &AppState) -> Result<Vec<WebhookView>, ApiError> {
    let hooks = state.notifications.store().webhooks().await.map_err(database)?;
    Ok(hooks.iter().map(super::store::Webhook::view).collect())
}

/// Adds an endpoint for `user`; the answer carries its secret, shown this once.
pub async fn create_webhook(
    state: &AppState,
    user: &User,
    new: &NewWebhook,
) -> Result<WebhookView, ApiError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::BadRequest(format!(
            "name must be 1 to {MAX_NAME} characters"
        )));
    }
    let url = new.url.trim();
    if url.len() > MAX_URL {
        return Err(ApiError::BadRequest(format!(
            "url must be at most {MAX_URL} bytes"
        )));
    }
    check_url(url).map_err(ApiError::BadRequest)?;
    let kinds = checked_kinds(&new.kinds)?;
    let created = state
        .notifications
        .store()
        .create_webhook(name, url, &kinds, user.id)
        .await
        .map_err(database)?;
    tracing::info!(webhook = created.id, url, by = %user.username, "webhook added");
    Ok(created)
}

/// Deletes endpoint `id` (its pending deliveries fail); not found when there is none.
pub async fn delete_webhook(state: &AppState, user: &User, id: i64) -> Result<(), ApiError> {
    if !state
        .notifications
        .store()
        .delete_webhook(id)
        .await
        .map_err(database)?
    {
        return Err(ApiError::NotFound("webhook"));
    }
    tracing::info!(webhook = id, by = %user.username, "webhook deleted");
    Ok(())
}

/// A page of the delivery log, newest first.
pub async fn deliveries(state: &AppState, query: &DeliveryQuery) -> Result<Page<DeliveryView>, ApiError> {
    if !matches!(query.status.as_str(), "" | "pending" | "delivered" | "failed") {
        return Err(ApiError::BadRequest(format!(
            "status must be pending, delivered or failed, not {:?}",
            query.status
        )));
    }
    state.notifications.store().log(query).await.map_err(database)
}

/// The kinds `user` gets by email.
pub async fn email_alerts(state: &AppState, user: &User) -> Result<EmailAlerts, ApiError> {
    Ok(EmailAlerts {
        kinds: state
            .notifications
            .store()
            .email_kinds(user.id)
            .await
            .map_err(database)?,
        enabled: state.notifications.email_enabled(),
        email: user.email.clone(),
    })
}

/// Replaces the kinds `user` gets by email.
pub async fn set_email_alerts(
    state: &AppState,
    user: &User,
    kinds: &[String],
) -> Result<EmailAlerts, ApiError> {
    let kinds = checked_kinds(kinds)?;
    state
        .notifications
        .store()
        .set_email_kinds(user.id, &kinds)
        .await
        .map_err(database)?;
    email_alerts(state, user).await
}

/// `GET /api/v1/webhooks` (admins).
#[utoipa::path(get, path = "/webhooks", summary = "Every webhook endpoint", tag = "notifications",
    responses((status = 200, description = "Every webhook endpoint (never its secret)", body = Vec<WebhookView>)))]
pub async fn get_webhooks(State(state): State<AppState>) -> Result<Json<Vec<WebhookView>>, ApiError> {
    webhooks(&state).await.map(Json)
}

/// `POST /api/v1/webhooks` (admins): `{"name", "url", "kinds"}`; 201 with the secret.
#[utoipa::path(post, path = "/webhooks", summary = "Adds a webhook endpoint", tag = "notifications",
    request_body(content = NewWebhook),
    responses(
        (status = 201, description = "Created: the endpoint with its signing secret, shown this once", body = WebhookView),
        (status = 400, description = "A bad name, URL or kind", body = ApiErrorBody)))]
pub async fn post_webhook(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Json(new): Json<NewWebhook>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let created = create_webhook(&state, &user, &new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `DELETE /api/v1/webhooks/{id}` (admins): 204.
#[utoipa::path(delete, path = "/webhooks/{id}", summary = "Deletes a webhook endpoint", tag = "notifications",
    params(("id" = i64, Path, description = "The endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such endpoint", body = ApiErrorBody)))]
pub async fn delete_webhook_by_id(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    delete_webhook(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/deliveries?status=&channel=&page=&per_page=` (dispatchers).
#[utoipa::path(get, path = "/deliveries", summary = "The notification delivery log", tag = "notifications", params(DeliveryQuery),
    responses((status = 200, description = "A page of the delivery log, newest first", body = Page<DeliveryView>)))]
pub async fn get_deliveries(
    State(state): State<AppState>,
    Query(query): Query<DeliveryQuery>,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    deliveries(&state, &query).await.map(Json)
}

/// `GET /api/v1/me/email-alerts`: the caller's email alert kinds.
#[utoipa::path(get, path = "/me/email-alerts", tag = "notifications",
    responses((status = 200, description = "The alert kinds the caller gets by email", body = EmailAlerts)))]
pub async fn get_email_alerts(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
) -> Result<Json<EmailAlerts>, ApiError> {
    email_alerts(&state, &user).await.map(Json)
}

/// The body of `PUT /api/v1/me/email-alerts`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmailKinds {
    /// The kinds to get by email (replacing the current ones).
    pub kinds: Vec<String>,
}

/// `PUT /api/v1/me/email-alerts`: `{"kinds": [...]}`.
#[utoipa::path(put, path = "/me/email-alerts", summary = "Sets the alert kinds the caller gets by email", tag = "notifications",
    request_body(content = EmailKinds),
    responses(
        (status = 200, description = "The kinds now set", body = EmailAlerts),
        (status = 400, description = "An unknown kind, or the user has no email address", body = ApiErrorBody)))]
pub async fn put_email_alerts(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Json(body): Json<EmailKinds>,
) -> Result<Json<EmailAlerts>, ApiError> {
    set_email_alerts(&state, &user, &body.kinds).await.map(Json)
}
