//! The admin's forms on `/admin/users` and `/admin/devices` (plain HTML posts answered with Post/Redirect/Get,
//! like the account forms): create a user, change a role, disable, enable and delete; revoke a device credential. The route table lets only admins here;
//! none of these may leave the dashboard without an active admin (`users::admin`).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::access::CurrentUser;
use super::account::{done, refused};
use super::state::AppState;
use crate::model::Role;
use crate::notice::Notice;

const PAGE: &str = "/admin/users";
const DEVICES: &str = "/admin/devices";

/// The form that creates a user.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Initial password (the admin hands it over; the user changes it in their settings).
    pub password: String,
    /// `admin`, `dispatcher` or `viewer`.
    pub role: String,
}

/// `POST /admin/users`.
pub async fn create_user(
    State(state): State<AppState>,
    Extension(CurrentUser(admin)): Extension<CurrentUser>,
    Form(form): Form<NewUserForm>,
) -> Response {
    let Some(role) = Role::parse(&form.role) else {
        return refused(PAGE, Notice::RoleInvalid);
    };
    match state
        .users
        .create(&form.username, &form.email, &form.password, role)
        .await
    {
        Ok(user) => {
            tracing::info!(
                admin = admin.id,
                user = user.id,
                role = role.as_str(),
                "user created"
            );
            done(PAGE, Notice::UserCreated)
        }
        Err(error) => refused(PAGE, error.notice()),
    }
}

/// The role form.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    /// `admin`, `dispatcher` or `viewer`.
    pub role: String,
}

/// `POST /admin/users/{id}/role`.
pub async fn change_role(
    State(state): State<AppState>,
    Extension(CurrentUser(admin)): Extension<CurrentUser>,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> Response {
    let Some(role) = Role::parse(&form.role) else {
        return refused(PAGE, Notice::RoleInvalid);
    };
    match state.users.set_role(id, role).await {
        Ok(_) => {
            tracing::info!(admin = admin.id, user = id, role = role.as_str(), "role changed");
            done(PAGE, Notice::RoleChanged)
        }
        Err(error) => refused(PAGE, error.notice()),
    }
}

/// `POST /admin/users/{id}/disable`: the user can no longer sign in; their sessions and tokens stop working.
pub async fn disable_user(
    State(state): State<AppState>,
    Extension(CurrentUser(admin)): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Response {
    match state.users.set_disabled(id, true).await {
        Ok(_) => {
            tracing::info!(admin = admin.id, user = id, "user disabled");
            done(PAGE, Notice::UserDisabled)
        }
        Err(error) => refused(PAGE, error.notice()),
    }
}

/// `POST /admin/users/{id}/enable`.
pub async fn enable_user(
    State(state): State<AppState>,
    Extension(CurrentUser(admin)): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Response {
    match state.users.set_disabled(id, false).await {
        Ok(_) => {
            tracing::info!(admin = admin.id, user = id, "user enabled");
            done(PAGE, Notice::UserEnabled)
        }
        Err(error) => refused(PAGE, error.notice()),
    }
}

/// `POST /admin/devices/{id}/revoke`: the credential goes to the revocation topic, then shows as revoked.
pub async fn revoke_device(
    State(state): State<AppState>,
    Extension(CurrentUser(admin)): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Response {
    match state.devices.revoke(id).await {
        Ok(()) => {
            tracing::info!(admin = admin.id, credential = id, "device credential revoked");
            done(DEVICES, Notice::DeviceRevoked)
        }
        Err(error) => refused(DEVICES, error.notice()),
    }
}

/// `POST /admin/users/{id}/delete`.
pub async fn delete_user(
    State(state): State<AppState>,
    Extension(CurrentUser(admin)): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Response {
    match state.users.remove(id).await {
        Ok(()) => {
            tracing::info!(admin = admin.id, user = id, "user deleted");
            done(PAGE, Notice::UserDeleted)
        }
        Err(error) => refused(PAGE, error.notice()),
    }
}
