//! The account forms (plain HTML form posts, so they work before and without the wasm): login, signup (with an
//! invitation, or open when configured), logout, password and profile changes, account deletion, API token
//! revocation. Each answers with a redirect (Post/Redirect/Get) carrying a
//! notice code; plus the JSON login for API clients.

use crate::model::UserView;
use crate::server::openapi::ApiErrorBody;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::access::{CurrentUser, wants_secure_cookie};
use super::auth::{removal_cookie, safe_next};
use super::state::AppState;
use super::users::{Profile, User, UserError};
use crate::model::Role;
use crate::notice::Notice;

/// The login form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginForm {
    /// Username or email.
    pub login: String,
    /// Password.
    pub password: String,
    /// Where to go afterwards (a local path).
    pub next: Option<String>,
}

/// Checks the rate limits and the credentials.
async fn attempt_login(state: &AppState, client: SocketAddr, form: &LoginForm) -> Result<User, UserError> {
    let account = state.users.account_key(&form.login).await?;
    if !state.login_limits.allow(client, account) {
        tracing::warn!(%client, "login rate limit reached");
        return Err(UserError::Refused(Notice::RateLimited));
    }
    let result = state.users.authenticate(&form.login, &form.password).await;
    if let Err(UserError::Refused(Notice::WrongCredentials)) = &result {
        tracing::info!(%client, "failed login");
    }
    result
}

/// `POST /login`.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    match attempt_login(&state, client, &form).await {
        Ok(user) => {
            let cookie = state.tokens.cookie(&user, wants_secure_cookie(&state, &headers));
            (jar.add(cookie), Redirect::to(&safe_next(form.next.as_deref()))).into_response()
        }
        Err(error) => {
            let next = form
                .next
                .as_deref()
                .map(|next| format!("&next={}", crate::url::encode(next)))
                .unwrap_or_default();
            Redirect::to(&format!("/login?error={}{next}", error.notice().code())).into_response()
        }
    }
}

/// `POST /api/v1/login` (JSON `{"login": …, "password": …}`): sets the cookie and returns the user, or 401/429.
#[utoipa::path(post, path = "/login", summary = "Signs in: returns the user and sets the session cookie", tag = "account",
    request_body(content = LoginForm, description = "Username or email and password"),
    responses(
        (status = 200, description = "Signed in: the user, and the session cookie in `Set-Cookie`", body = UserView),
        (status = 401, description = "Wrong username or password, or the account is disabled", body = ApiErrorBody),
        (status = 429, description = "Too many attempts from this address or for this user: retry after `Retry-After` seconds", body = ApiErrorBody),
    ))]
pub async fn login_json(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Json(form): Json<LoginForm>,
) -> Response {
    match attempt_login(&state, client, &form).await {
        Ok(user) => {
            let cookie = state.tokens.cookie(&user, wants_secure_cookie(&state, &headers));
            (jar.add(cookie), Json(user.view())).into_response()
        }
        Err(error) => {
            let notice = error.notice();
            let status = match notice {
                Notice::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                Notice::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut response =
                (status, Json(serde_json::json!({ "error": notice.message() }))).into_response();
            if notice == Notice::RateLimited {
                response
                    .headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("60"));
            }
            response
        }
    }
}

/// The signup form.
#[derive(Debug, Deserialize)]
pub struct SignupForm {
    /// The invitation token (`/signup?invite=…`); needed unless sign-up is open.
    #[serde(default)]
    pub invite: String,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// The password again.
    pub password_confirm: String,
}

/// `POST /signup`: creates the user (with an invitation's role, or as `viewer` when sign-up is open) and signs
/// them in. Throttled per client IP.
pub async fn signup(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SignupForm>,
) -> Response {
    let back = if form.invite.is_empty() {
        "/signup".to_owned()
    } else {
        format!("/signup?invite={}", crate::url::encode(&form.invite))
    };
    if !state.signup_limits.allow(client.ip()) {
        return refused(&back, Notice::RateLimited);
    }
    if form.password != form.password_confirm {
        return refused(&back, Notice::PasswordMismatch);
    }
    match create_signed_up(&state, &form).await {
        Ok(user) => {
            tracing::info!(user = user.id, role = user.role().as_str(), "signed up");
            let cookie = state.tokens.cookie(&user, wants_secure_cookie(&state, &headers));
            (jar.add(cookie), Redirect::to("/")).into_response()
        }
        Err(error) => refused(&back, error.notice()),
    }
}

/// The account a sign-up creates: with the invitation (used up, and given back if the account cannot be made)
/// or, when sign-up is open, as a viewer.
async fn create_signed_up(state: &AppState, form: &SignupForm) -> Result<User, UserError> {
    let (username, email, password) = (&form.username, &form.email, &form.password);
    if form.invite.is_empty() {
        if !state.config.open_signup {
            return Err(UserError::Refused(Notice::SignupClosed));
        }
        return state.users.create(username, email, password, Role::Viewer).await;
    }
    let role = state.invites.role(&form.invite).await?;
    state.invites.consume(&form.invite).await?;
    let created = state.users.create(username, email, password, role).await;
    if created.is_err() {
        state.invites.release(&form.invite).await?;
    }
    created
}

/// `POST /logout`: ends every session of the user and removes the cookie.
pub async fn logout(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    jar: CookieJar,
) -> Response {
    // The cookie goes either way; a failed revocation only leaves the token valid until it expires.
    if let Err(error) = state.users.revoke_sessions(user.id).await {
        tracing::error!(%error, user = user.id, "could not revoke the sessions at sign-out");
    }
    (
        jar.add(removal_cookie()),
        Redirect::to(&format!("/login?done={}", Notice::SignedOut.code())),
    )
        .into_response()
}

/// The password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    /// Current password.
    pub current_password: String,
    /// New password.
    pub new_password: String,
    /// New password again.
    pub new_password_confirm: String,
}

/// `POST /settings/password`: changes the password; this browser gets a fresh cookie, other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !state.account_change_limits.allow(user.id) {
        return refused("/settings", Notice::RateLimited);
    }
    if form.new_password != form.new_password_confirm {
        return refused("/settings", Notice::PasswordMismatch);
    }
    match state
        .users
        .change_password(user.id, &form.current_password, &form.new_password)
        .await
    {
        Ok(user) => {
            let cookie = state.tokens.cookie(&user, wants_secure_cookie(&state, &headers));
            (jar.add(cookie), done("/settings", Notice::PasswordChanged)).into_response()
        }
        Err(error) => refused("/settings", error.notice()),
    }
}

/// The profile form.
#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// `light` or `dark`.
    pub theme: String,
    /// `km` or `mi`.
    pub units: String,
}

/// `POST /settings/profile`.
pub async fn update_profile(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Form(form): Form<ProfileForm>,
) -> Response {
    let profile = Profile {
        username: form.username,
        email: form.email,
        theme: form.theme,
        units: form.units,
    };
    match state.users.update_profile(user.id, &profile).await {
        Ok(_) => done("/settings", Notice::ProfileSaved),
        Err(error) => refused("/settings", error.notice()),
    }
}

/// The deletion form.
#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    /// Password, to confirm.
    pub password: String,
}

/// `POST /settings/delete`: deletes the account after checking the password, and signs out.
pub async fn delete_account(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    jar: CookieJar,
    Form(form): Form<DeleteForm>,
) -> Response {
    if !state.account_change_limits.allow(user.id) {
        return refused("/settings", Notice::RateLimited);
    }
    match state.users.delete(user.id, &form.password).await {
        Ok(()) => {
            tracing::info!(user = user.id, "account deleted");
            (jar.add(removal_cookie()), done("/login", Notice::AccountDeleted)).into_response()
        }
        Err(error) => refused("/settings", error.notice()),
    }
}

/// `POST /settings/tokens/{id}/revoke`: revokes one of the user's own API tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<i64>,
) -> Response {
    match state.api_tokens.revoke(user.id, id).await {
        Ok(()) => done("/settings", Notice::TokenRevoked),
        Err(error) => refused("/settings", error.notice()),
    }
}

/// Back to `page` with an error notice.
pub fn refused(page: &str, notice: Notice) -> Response {
    Redirect::to(&format!("{page}{}error={}", separator(page), notice.code())).into_response()
}

/// Back to `page` with a success notice.
pub fn done(page: &str, notice: Notice) -> Response {
    Redirect::to(&format!("{page}{}done={}", separator(page), notice.code())).into_response()
}

fn separator(page: &str) -> char {
    if page.contains('?') { '&' } else { '?' }
}
