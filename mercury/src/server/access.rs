//! Who may open what: the guard in front of every route. Public paths pass; every other request needs a valid
//! session cookie, whose user the guard puts into the request ([`CurrentUser`]) for the handlers.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::auth::{COOKIE, removal_cookie};
use super::state::AppState;
use super::users::User;

/// The authenticated user of a request, put into the request's extensions by [`require_session`].
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

/// Whether the cookie must be `Secure`: configured so, or the request came over HTTPS through a proxy.
pub fn wants_secure_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// Paths anyone may open: login, signup, health, metrics, the public tracking page and its data (with the map
/// settings), static files.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/signup" | "/health" | "/metrics" | "/favicon.ico" | "/style.css"
    ) || path == "/api/v1/login"
        || path == "/api/fn/tracking"
        || path == "/api/fn/client_settings"
        || path.starts_with("/track/")
        || path.starts_with("/api/v1/track/")
        || path.starts_with("/pkg/")
        || path.starts_with("/vendor/")
}

/// Lets public paths through; for the rest, loads the user of a valid session cookie into the request or
/// answers 401 (API paths) or redirects to the login page (pages).
pub async fn require_session(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if is_public(path) {
        return next.run(request).await;
    }
    let token = jar.get(COOKIE).map(|cookie| cookie.value().to_owned());
    let user = match token.as_deref().and_then(|token| state.tokens.verify(token)) {
        Some((id, version)) => match state.users.get(id).await {
            Ok(user) if user.session_version == version => Some(user),
            _ => None,
        },
        None => None,
    };
    match user {
        Some(user) => {
            request.extensions_mut().insert(CurrentUser(user));
            next.run(request).await
        }
        None if path.starts_with("/api/") => {
            let body = axum::Json(serde_json::json!({ "error": "sign in first: no valid session" }));
            let jar = if token.is_some() {
                jar.add(removal_cookie())
            } else {
                jar
            };
            (StatusCode::UNAUTHORIZED, jar, body).into_response()
        }
        None => {
            let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let location = format!("/login?next={}", crate::url::encode(target));
            let jar = if token.is_some() {
                jar.add(removal_cookie())
            } else {
                jar
            };
            (jar, Redirect::to(&location)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_only_the_listed_ones() {
        assert!(is_public("/login"));
        assert!(is_public("/track/order-1"));
        assert!(!is_public("/"));
        assert!(!is_public("/api/v1/overview"));
        assert!(!is_public("/api/fn/overview"));
    }
}
