//! Every route Mercury serves and who may call it: one table, read by the guard on every request and walked by
//! the tests (`tests/roles.rs`), so a route cannot exist without declaring its access. A path that is not in the
//! table is not found, whatever the router holds.

use axum::http::Method;

use crate::model::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A signed-in user (session cookie, or an API token on the JSON API) with at least this role.
    Signed(Role),
}

/// One route: method, path (`{name}` matches one path segment) and access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path, e.g. `/sessions/{id}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> Rule {
    Rule { method, path, access }
}

const PUBLIC: Access = Access::Public;
const VIEWER: Access = Access::Signed(Role::Viewer);
const DISPATCHER: Access = Access::Signed(Role::Dispatcher);
const ADMIN: Access = Access::Signed(Role::Admin);

/// The table. Pages are GET, forms and server functions POST; the JSON API is under `/api/v1`.
pub const RULES: &[Rule] = &[
    // The process frame: health for load balancers; metrics for an admin's API token (Prometheus sends it).
    rule("GET", "/health", PUBLIC),
    rule("GET", "/metrics", ADMIN),
    // Pages.
    rule("GET", "/login", PUBLIC),
    rule("GET", "/signup", PUBLIC),
    rule("GET", "/track/{token}", PUBLIC),
    rule("GET", "/", VIEWER),
    rule("GET", "/live", VIEWER),
    rule("GET", "/analytics", VIEWER),
    rule("GET", "/sessions", VIEWER),
    rule("GET", "/sessions/{id}", VIEWER),
    rule("GET", "/fleet", VIEWER),
    rule("GET", "/alerts", VIEWER),
    rule("GET", "/geofences", VIEWER),
    rule("GET", "/settings", VIEWER),
    rule("GET", "/notifications", DISPATCHER),
    rule("GET", "/admin/users", ADMIN),
    rule("GET", "/admin/devices", ADMIN),
    rule("GET", "/api-docs", VIEWER),
    rule("GET", "/reports", VIEWER),
    // Account forms.
    rule("POST", "/login", PUBLIC),
    rule("POST", "/signup", PUBLIC),
    rule("POST", "/logout", VIEWER),
    rule("POST", "/settings/password", VIEWER),
    rule("POST", "/settings/profile", VIEWER),
    rule("POST", "/settings/delete", VIEWER),
    rule("POST", "/settings/tokens/{id}/revoke", VIEWER),
    // Admin forms.
    rule("POST", "/admin/users", ADMIN),
    rule("POST", "/admin/users/{id}/role", ADMIN),
    rule("POST", "/admin/users/{id}/disable", ADMIN),
    rule("POST", "/admin/users/{id}/enable", ADMIN),
    rule("POST", "/admin/users/{id}/delete", ADMIN),
    rule("POST", "/admin/devices/{id}/revoke", ADMIN),
    // Server functions: the pages' data and actions.
    rule("POST", "/api/fn/client_settings", PUBLIC),
    rule("POST", "/api/fn/tracking", PUBLIC),
    rule("POST", "/api/fn/overview", VIEWER),
    rule("POST", "/api/fn/api_operations", VIEWER),
    rule("POST", "/api/fn/report", VIEWER),
    rule("POST", "/api/fn/sessions", VIEWER),
    rule("POST", "/api/fn/session", VIEWER),
    rule("POST", "/api/fn/fleet", VIEWER),
    rule("POST", "/api/fn/analytics", VIEWER),
    rule("POST", "/api/fn/alerts", VIEWER),
    rule("POST", "/api/fn/acknowledge_alert", DISPATCHER),
    rule("POST", "/api/fn/alert_rules", VIEWER),
    rule("POST", "/api/fn/set_alert_rule", DISPATCHER),
    rule("POST", "/api/fn/reset_alert_rule", DISPATCHER),
    rule("POST", "/api/fn/api_tokens", VIEWER),
    rule("POST", "/api/fn/create_api_token", VIEWER),
    rule("POST", "/api/fn/tracking_link", DISPATCHER),
    rule("POST", "/api/fn/email_alerts", VIEWER),
    rule("POST", "/api/fn/set_email_alerts", VIEWER),
    rule("POST", "/api/fn/deliveries", DISPATCHER),
    rule("POST", "/api/fn/webhooks", ADMIN),
    rule("POST", "/api/fn/create_webhook", ADMIN),
    rule("POST", "/api/fn/delete_webhook", ADMIN),
    rule("POST", "/api/fn/users", ADMIN),
    rule("POST", "/api/fn/create_invite", ADMIN),
    rule("POST", "/api/fn/devices", ADMIN),
    rule("POST", "/api/fn/register_device", ADMIN),
    // The JSON API.
    rule("POST", "/api/v1/login", PUBLIC),
    rule("GET", "/api/v1/track/{token}", PUBLIC),
    rule("GET", "/api/v1/track/{token}/live", PUBLIC),
    rule("GET", "/api/v1/me", VIEWER),
    rule("GET", "/api/v1/overview", VIEWER),
    rule("GET", "/api/v1/overview/live", VIEWER),
    rule("GET", "/api/v1/sessions", VIEWER),
    rule("GET", "/api/v1/sessions/{id}", VIEWER),
    rule("GET", "/api/v1/active-sessions", VIEWER),
    rule("GET", "/api/v1/fleet", VIEWER),
    rule("GET", "/api/v1/analytics", VIEWER),
    rule("GET", "/api/v1/live", VIEWER),
    rule("GET", "/api/v1/alerts", VIEWER),
    rule("GET", "/api/v1/geofences", VIEWER),
    rule("PUT", "/api/v1/geofences/{id}", DISPATCHER),
    rule("DELETE", "/api/v1/geofences/{id}", DISPATCHER),
    rule("GET", "/api/v1/alerts/live", VIEWER),
    rule("GET", "/api/v1/alert-rules", VIEWER),
    rule("PUT", "/api/v1/alert-rules/{rule}", DISPATCHER),
    rule("DELETE", "/api/v1/alert-rules/{rule}", DISPATCHER),
    rule("POST", "/api/v1/alerts/{id}/acknowledge", DISPATCHER),
    rule("GET", "/api/v1/me/email-alerts", VIEWER),
    rule("PUT", "/api/v1/me/email-alerts", VIEWER),
    rule("GET", "/api/v1/deliveries", DISPATCHER),
    rule("GET", "/api/v1/webhooks", ADMIN),
    rule("POST", "/api/v1/webhooks", ADMIN),
    rule("DELETE", "/api/v1/webhooks/{id}", ADMIN),
    rule("GET", "/api/v1/users", ADMIN),
    rule("GET", "/api/v1/devices", ADMIN),
    rule("GET", "/api/v1/openapi.json", PUBLIC),
    rule("GET", "/api/v1/reports/{kind}", VIEWER),
];

/// Static files anyone may load: the browser build, vendored scripts, the style sheet.
const PUBLIC_FILES: [&str; 2] = ["/style.css", "/favicon.ico"];
const PUBLIC_FILE_PREFIXES: [&str; 2] = ["/pkg/", "/vendor/"];

/// Whether `pattern` (with `{name}` segments) matches `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let mut patterns = pattern.split('/');
    let mut segments = path.split('/');
    loop {
        match (patterns.next(), segments.next()) {
            (None, None) => return true,
            (Some(expected), Some(segment)) => {
                let wildcard = expected.starts_with('{') && expected.ends_with('}');
                if !(wildcard && !segment.is_empty() || expected == segment) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Who may call `method` `path`; `None` when no route is declared for it (the guard answers 404).
pub fn access(method: &Method, path: &str) -> Option<Access> {
    if (method == Method::GET || method == Method::HEAD)
        && (PUBLIC_FILES.contains(&path)
            || PUBLIC_FILE_PREFIXES.iter().any(|prefix| path.starts_with(prefix)))
    {
        return Some(Access::Public);
    }
    // HEAD is GET without the body.
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    RULES
        .iter()
        .find(|rule| rule.method == method && matches(rule.path, path))
        .map(|rule| rule.access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_pattern_segment_by_segment() {
        assert!(matches("/sessions/{id}", "/sessions/s-1"));
        assert!(!matches("/sessions/{id}", "/sessions/"));
        assert!(!matches("/sessions/{id}", "/sessions/s-1/more"));
        assert!(matches("/", "/"));
        assert!(!matches("/", "/x"));
    }

    #[test]
    fn undeclared_routes_and_methods_have_no_access() {
        assert_eq!(access(&Method::GET, "/admin/users"), Some(ADMIN));
        assert_eq!(access(&Method::POST, "/sessions"), None);
        assert_eq!(access(&Method::GET, "/api/v1/secret"), None);
        assert_eq!(access(&Method::GET, "/pkg/mercury.js"), Some(PUBLIC));
        assert_eq!(access(&Method::HEAD, "/health"), Some(PUBLIC));
    }

    #[test]
    fn every_declared_route_is_declared_once() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{a:?} twice");
            }
        }
    }
}
