//! Who may open what: the guard in front of every route. It looks the request up in the route table
//! ([`rules::RULES`]; undeclared routes are not found), refuses cross-site form posts (CSRF), identifies the
//! caller (session cookie, or on the JSON API and `/metrics` an API token as `Authorization: Bearer`), and lets
//! the request through only when the caller's role is high enough. The user goes into the request
//! ([`CurrentUser`]) for the handlers.

pub mod rules;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::auth::{COOKIE, removal_cookie};
use super::state::AppState;
use super::users::User;
use crate::model::Role;
use rules::Access;

/// The authenticated user of a request, put into the request's extensions by [`require_session`].
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

/// Whether the cookie must be `Secure`: configured so, the public URL is https, or the request came over HTTPS
/// through a proxy.
pub fn wants_secure_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || state.config.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// How the caller identified themselves.
enum Caller {
    /// Nobody (no cookie, no token).
    Anonymous,
    /// A session cookie or API token that names nobody who may sign in (expired, revoked, forged, disabled).
    Invalid,
    /// A user.
    User(User),
}

/// The guard: route table, CSRF check, identification, role check.
pub async fn require_session(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let Some(access) = rules::access(request.method(), &path) else {
        return refusal(StatusCode::NOT_FOUND, &path, "no such page or route");
    };
    if is_cross_site_write(request.method(), request.headers(), &state) {
        return refusal(
            StatusCode::FORBIDDEN,
            &path,
            "cross-site request refused: submit the form from the dashboard itself",
        );
    }
    let bearer = packetpulse_ops::bearer_token(request.headers()).map(str::to_owned);
    let cookie = jar.get(COOKIE).map(|cookie| cookie.value().to_owned());
    let caller = identify(&state, &path, bearer.as_deref(), cookie.as_deref()).await;
    let needed = match access {
        Access::Public => None,
        Access::Signed(role) => Some(role),
    };
    let user = match (caller, needed) {
        (Caller::User(user), None) => Some(user),
        (_, None) => None,
        (Caller::User(user), Some(role)) if user.role() >= role => Some(user),
        (Caller::User(user), Some(role)) => return forbidden(&path, user.role(), role),
        (caller, Some(_)) => return sign_in_first(&request, &path, jar, matches!(caller, Caller::Invalid)),
    };
    if let Some(user) = user {
        request.extensions_mut().insert(CurrentUser(user));
    }
    next.run(request).await
}

/// The caller: an API token where one is accepted (the JSON API and `/metrics`), else the session cookie.
async fn identify(state: &AppState, path: &str, bearer: Option<&str>, cookie: Option<&str>) -> Caller {
    if let Some(token) = bearer {
        if !(path.starts_with("/api/v1/") || path == "/metrics") {
            return Caller::Invalid;
        }
        return match state.api_tokens.user(token).await {
            Ok(Some(user)) => Caller::User(user),
            Ok(None) => Caller::Invalid,
            Err(error) => {
                tracing::error!(%error, "checking an API token");
                Caller::Invalid
            }
        };
    }
    let Some(token) = cookie else {
        return Caller::Anonymous;
    };
    let Some((uid, version)) = state.tokens.verify(token) else {
        return Caller::Invalid;
    };
    match state.users.by_uid(&uid).await {
        Ok(Some(user)) if user.session_version == version && !user.disabled => Caller::User(user),
        Ok(_) => Caller::Invalid,
        Err(error) => {
            tracing::error!(%error, "loading the user of a session");
            Caller::Invalid
        }
    }
}

/// Whether a state-changing request comes from another site (CSRF), as the browser itself says: Fetch Metadata
/// (`Sec-Fetch-Site: cross-site`) or an `Origin` that is not this dashboard. Requests without either header come
/// from programs, not from a browser a victim drives, and an API token is never sent by a browser on its own.
fn is_cross_site_write(method: &Method, headers: &HeaderMap, state: &AppState) -> bool {
    if method == Method::GET || method == Method::HEAD || headers.contains_key(header::AUTHORIZATION) {
        return false;
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    let Some(origin) = header("origin") else {
        return false;
    };
    let host = header("host").unwrap_or_default();
    let same_host = origin
        .split_once("://")
        .is_some_and(|(_, authority)| !host.is_empty() && authority.eq_ignore_ascii_case(host));
    let public = !state.config.public_url.is_empty()
        && origin.eq_ignore_ascii_case(state.config.public_url.trim_end_matches('/'));
    !(same_host || public)
}

/// No valid session: 401 on the APIs, the login page (back here afterwards) for a page, the login page for a form.
fn sign_in_first(request: &Request, path: &str, jar: CookieJar, invalid: bool) -> Response {
    // A cookie that names nobody goes, so the browser stops sending it.
    let jar = if invalid { jar.add(removal_cookie()) } else { jar };
    if is_api(path) {
        let body = axum::Json(serde_json::json!({ "error": "sign in first: no valid session or API token" }));
        return (StatusCode::UNAUTHORIZED, jar, body).into_response();
    }
    let location = if request.method() == Method::GET {
        let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        format!("/login?next={}", crate::url::encode(target))
    } else {
        "/login".to_owned()
    };
    (jar, Redirect::to(&location)).into_response()
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

/// Signed in, but the role is too low.
fn forbidden(path: &str, have: Role, need: Role) -> Response {
    let message = format!("this needs the {} role; you are {}", need.as_str(), have.as_str());
    refusal(StatusCode::FORBIDDEN, path, &message)
}

/// A refusal as JSON on the APIs, as a small page otherwise.
fn refusal(status: StatusCode, path: &str, message: &str) -> Response {
    if is_api(path) {
        return (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
    }
    let title = status.canonical_reason().unwrap_or("Refused");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/style.css\"></head><body><main class=\"public\"><h1>{title}</h1>\
         <p id=\"refusal\">{}</p><p><a href=\"/\">Back to the overview</a></p></main></body></html>",
        escape(message)
    );
    (status, Html(page)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
