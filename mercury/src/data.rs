//! Server functions: how the pages get their data. On the server they run in place while a page renders; in the
//! browser they become POSTs to `/api/fn/<name>`, behind the same session check as everything else
//! (`tracking` and `client_settings` excepted: the public tracking page uses them).

// The #[server] macro turns each function's arguments into a struct whose fields cannot carry documentation.
#![allow(missing_docs)]

use leptos::prelude::*;

// Model types by path: each server function defines a struct named after it (`Overview` for `overview`).
use crate::model::{self, FleetRow, Page, SessionDetail, SessionRow};

#[cfg(feature = "ssr")]
mod on_server {
    use axum::http::request::Parts;
    use leptos::prelude::*;

    use crate::server::access::CurrentUser;
    use crate::server::api_error::ApiError;
    use crate::server::state::AppState;

    /// The state and the signed-in user (if any) of the request being served.
    pub fn request() -> Result<(AppState, Option<CurrentUser>), ServerFnError> {
        let parts = use_context::<Parts>().ok_or_else(|| ServerFnError::new("no request in context"))?;
        let state = parts
            .extensions
            .get::<AppState>()
            .cloned()
            .ok_or_else(|| ServerFnError::new("no application state in the request"))?;
        Ok((state, parts.extensions.get::<CurrentUser>().cloned()))
    }

    /// The state, for functions behind the session check (the middleware already refused anonymous calls).
    pub fn state() -> Result<AppState, ServerFnError> {
        Ok(request()?.0)
    }

    /// The state and the signed-in user, who must have at least `role` (the guard checked the route; this
    /// holds when a page calls the function in place, too).
    pub fn signed_in(
        role: crate::model::Role,
    ) -> Result<(AppState, crate::server::users::User), ServerFnError> {
        match request()? {
            (state, Some(CurrentUser(user))) if user.role() >= role => Ok((state, user)),
            (_, Some(_)) => Err(ServerFnError::new(format!(
                "this needs the {} role",
                role.as_str()
            ))),
            (_, None) => Err(ServerFnError::new("sign in first")),
        }
    }

    /// The dashboard's own address for links it hands out: the configured public URL, else what the request
    /// came to.
    pub fn public_url(state: &AppState) -> String {
        if !state.config.public_url.is_empty() {
            return state.config.public_url.trim_end_matches('/').to_owned();
        }
        let Some(parts) = use_context::<Parts>() else {
            return String::new();
        };
        let header = |name: &str| parts.headers.get(name).and_then(|value| value.to_str().ok());
        let scheme = header("x-forwarded-proto").unwrap_or("http");
        header("host").map_or_else(String::new, |host| format!("{scheme}://{host}"))
    }

    /// The address of the client of the request being served (unspecified when unknown).
    pub fn client_ip() -> std::net::IpAddr {
        use_context::<Parts>()
            .and_then(|parts| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|info| info.0.ip())
            })
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    /// A user operation's refusal as the page sees it.
    pub fn user_error(error: crate::server::users::UserError) -> ServerFnError {
        ServerFnError::new(error.notice().message())
    }

    /// An API error as the page sees it.
    pub fn to_server_error(error: ApiError) -> ServerFnError {
        ServerFnError::new(error.to_string())
    }

    #[cfg(test)]
    mod tests {
        use std::sync::{Arc, Mutex, mpsc};
        use std::time::Duration;

        use axum::http::request::Parts;
        use leptos::prelude::*;

        /// A page's resource looks up the request while the page's owner goes away on another thread (its
        /// response ended or its caller hung up). Here the lookup itself drops the page's last reference, so the
        /// lookup's own reference is the one that disposes it: reactive_graph 0.2 (Leptos 0.8) still held the
        /// resource owner's lock there and waited for it for ever, wedging a server worker.
        #[test]
        fn a_request_lookup_outlives_the_page_it_was_made_for() {
            let (found_tx, found_rx) = mpsc::channel();
            std::thread::spawn(move || {
                let page = Owner::new();
                let resource = page.with(|| {
                    provide_context(axum::http::Request::new(()).into_parts().0);
                    Owner::new()
                });
                let page = Arc::new(Mutex::new(Some(page)));
                let found = resource.with(|| {
                    with_context::<Parts, _>(|parts| {
                        page.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .take();
                        parts.method.clone()
                    })
                });
                let _ = found_tx.send(found);
            });
            let found = found_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("the lookup deadlocked: no answer within 10 s");
            assert_eq!(found, Some(axum::http::Method::GET));
        }
    }
}

/// Settings the browser code needs (public: the tracking page draws a map too).
#[server(prefix = "/api/fn", endpoint = "client_settings")]
pub async fn client_settings() -> Result<model::ClientSettings, ServerFnError> {
    let (state, _) = on_server::request()?;
    Ok(model::ClientSettings {
        tiles: model::MapTiles {
            url: state.config.tile_url.clone(),
            attribution: state.config.tile_attribution.clone(),
        },
        open_signup: state.config.open_signup,
    })
}

/// The API reference page's operations (from the OpenAPI document).
#[server(prefix = "/api/fn", endpoint = "api_operations")]
pub async fn api_operations() -> Result<Vec<model::ApiOperation>, ServerFnError> {
    Ok(crate::server::openapi::operations_for_page())
}

/// The first rows of a report (the page's table; its export link streams them all).
#[server(prefix = "/api/fn", endpoint = "report")]
pub async fn report(
    kind: String,
    vehicle: String,
    from: String,
    to: String,
) -> Result<model::ReportTable, ServerFnError> {
    let state = on_server::state()?;
    let query = crate::server::reports::ReportQuery {
        vehicle,
        from,
        to,
        ..Default::default()
    };
    crate::server::reports::table(&state, &kind, &query)
        .await
        .map_err(on_server::to_server_error)
}

/// The overview page's data.
#[server(prefix = "/api/fn", endpoint = "overview")]
pub async fn overview() -> Result<model::Overview, ServerFnError> {
    let state = on_server::state()?;
    crate::server::api::overview(&state)
        .await
        .map_err(on_server::to_server_error)
}

/// A page of sessions.
#[server(prefix = "/api/fn", endpoint = "sessions")]
pub async fn sessions(q: String, status: String, page: u32) -> Result<Page<SessionRow>, ServerFnError> {
    let state = on_server::state()?;
    let filter = crate::server::warehouse::ListQuery {
        q,
        status,
        page: Some(page),
        per_page: Some(25),
    };
    state
        .warehouse
        .sessions(&filter)
        .await
        .map_err(|error| on_server::to_server_error(error.into()))
}

/// One session with its track; none if unknown.
#[server(prefix = "/api/fn", endpoint = "session")]
pub async fn session(session_id: String) -> Result<Option<SessionDetail>, ServerFnError> {
    let state = on_server::state()?;
    state
        .warehouse
        .session(&session_id)
        .await
        .map_err(|error| on_server::to_server_error(error.into()))
}

/// A page of vehicles.
#[server(prefix = "/api/fn", endpoint = "fleet")]
pub async fn fleet(q: String, page: u32) -> Result<Page<FleetRow>, ServerFnError> {
    let state = on_server::state()?;
    let filter = crate::server::warehouse::ListQuery {
        q,
        status: String::new(),
        page: Some(page),
        per_page: Some(50),
    };
    state
        .warehouse
        .fleet(&filter)
        .await
        .map_err(|error| on_server::to_server_error(error.into()))
}

/// Analytics of a period.
#[server(prefix = "/api/fn", endpoint = "analytics")]
pub async fn analytics(period: String) -> Result<model::Analytics, ServerFnError> {
    let state = on_server::state()?;
    crate::server::api::analytics(&state, &period)
        .await
        .map_err(on_server::to_server_error)
}

/// The public view of the order a tracking link opens; none for a link that opens nothing (unknown or
/// expired). Needs no session; throttled per client address.
#[server(prefix = "/api/fn", endpoint = "tracking")]
pub async fn tracking(token: String) -> Result<Option<model::Tracking>, ServerFnError> {
    use crate::server::api_error::ApiError;
    let (state, _) = on_server::request()?;
    match crate::server::api::tracking(&state, on_server::client_ip(), &token).await {
        Ok(tracking) => Ok(Some(tracking)),
        Err(ApiError::NotFound(_) | ApiError::Expired) => Ok(None),
        Err(error) => Err(on_server::to_server_error(error)),
    }
}

/// The public tracking link of order `order_id` (dispatchers), to copy into a message to the customer.
#[server(prefix = "/api/fn", endpoint = "tracking_link")]
pub async fn tracking_link(order_id: String) -> Result<String, ServerFnError> {
    let (state, _) = on_server::signed_in(model::Role::Dispatcher)?;
    let token = state
        .tracking_links
        .link(&order_id)
        .await
        .map_err(on_server::user_error)?;
    Ok(format!("{}/track/{token}", on_server::public_url(&state)))
}

/// The signed-in user's API tokens.
#[server(prefix = "/api/fn", endpoint = "api_tokens")]
pub async fn api_tokens() -> Result<Vec<model::ApiTokenView>, ServerFnError> {
    let (state, user) = on_server::signed_in(model::Role::Viewer)?;
    state
        .api_tokens
        .list(user.id)
        .await
        .map_err(on_server::user_error)
}

/// Creates an API token for the signed-in user, valid for `days` (a whole number; empty: forever); returns it,
/// the only time it is shown.
#[server(prefix = "/api/fn", endpoint = "create_api_token")]
pub async fn create_api_token(name: String, days: String) -> Result<String, ServerFnError> {
    let (state, user) = on_server::signed_in(model::Role::Viewer)?;
    let days = match days.trim() {
        "" => None,
        text => Some(
            text.parse::<u32>()
                .ok()
                .filter(|days| *days > 0)
                .ok_or_else(|| ServerFnError::new("days must be a whole number of at least 1"))?,
        ),
    };
    state
        .api_tokens
        .create(user.id, &name, days)
        .await
        .map_err(on_server::user_error)
}

/// Every user (admins only).
#[server(prefix = "/api/fn", endpoint = "users")]
pub async fn users() -> Result<Vec<model::UserRow>, ServerFnError> {
    let (state, _) = on_server::signed_in(model::Role::Admin)?;
    let users = state.users.list().await.map_err(on_server::user_error)?;
    Ok(users.iter().map(|user| user.row()).collect())
}

/// Creates an invitation to join as `role` (admins only); returns its link, the only time it is shown.
#[server(prefix = "/api/fn", endpoint = "create_invite")]
pub async fn create_invite(role: String) -> Result<String, ServerFnError> {
    let (state, admin) = on_server::signed_in(model::Role::Admin)?;
    let role = model::Role::parse(&role)
        .ok_or_else(|| ServerFnError::new(crate::notice::Notice::RoleInvalid.message()))?;
    let token = state
        .invites
        .create(role, admin.id, state.config.invite_ttl)
        .await
        .map_err(on_server::user_error)?;
    Ok(format!(
        "{}/signup?invite={}",
        on_server::public_url(&state),
        crate::url::encode(&token)
    ))
}

/// The device registry (admins): every credential, and the public key Venus checks them with.
#[server(prefix = "/api/fn", endpoint = "devices")]
pub async fn devices() -> Result<(Vec<model::DeviceRow>, String), ServerFnError> {
    let (state, _) = on_server::signed_in(model::Role::Admin)?;
    let rows = state.devices.list().await.map_err(on_server::user_error)?;
    Ok((rows, state.devices.public_key().to_owned()))
}

/// Issues a credential for `device_id` (admins), bound to `vehicle_id` (empty: the fleet), valid `days`;
/// returns the device token, the only time it is shown.
#[server(prefix = "/api/fn", endpoint = "register_device")]
pub async fn register_device(
    device_id: String,
    vehicle_id: String,
    days: String,
) -> Result<String, ServerFnError> {
    let (state, admin) = on_server::signed_in(model::Role::Admin)?;
    let days = days
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|days| (1..=3650).contains(days))
        .ok_or_else(|| ServerFnError::new("days must be a whole number from 1 to 3650"))?;
    let vehicle = Some(vehicle_id.as_str()).filter(|id| !id.trim().is_empty());
    state
        .devices
        .issue(&device_id, vehicle, days, admin.id)
        .await
        .map_err(on_server::user_error)
}

/// A page of alerts (kind, vehicle, state `open`/`acknowledged`/empty for all; the last day).
#[server(prefix = "/api/fn", endpoint = "alerts")]
pub async fn alerts(
    kind: String,
    vehicle: String,
    state: String,
    page: u32,
) -> Result<Page<model::AlertView>, ServerFnError> {
    let app = on_server::state()?;
    let query = crate::server::alerts::AlertQuery {
        kind,
        vehicle,
        state,
        page: Some(page),
        per_page: Some(50),
        ..Default::default()
    };
    crate::server::alerts::list(&app, &query)
        .await
        .map_err(on_server::to_server_error)
}

/// Acknowledges an alert (dispatchers); returns it as it now stands.
#[server(prefix = "/api/fn", endpoint = "acknowledge_alert")]
pub async fn acknowledge_alert(alert_id: String) -> Result<model::AlertView, ServerFnError> {
    let (app, user) = on_server::signed_in(crate::model::Role::Dispatcher)?;
    crate::server::alerts::acknowledge(&app, &user, &alert_id)
        .await
        .map_err(on_server::to_server_error)
}

/// Comma- or space-separated alert kinds as a list (the forms send one text field).
#[cfg(feature = "ssr")]
fn kinds_list(kinds: &str) -> Vec<String> {
    kinds
        .split([',', ' '])
        .filter(|kind| !kind.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every webhook endpoint (admins), without secrets.
#[server(prefix = "/api/fn", endpoint = "webhooks")]
pub async fn webhooks() -> Result<Vec<model::WebhookView>, ServerFnError> {
    let (state, _) = on_server::signed_in(model::Role::Admin)?;
    crate::server::notify::api::webhooks(&state)
        .await
        .map_err(on_server::to_server_error)
}

/// Adds a webhook endpoint (admins) for `kinds` (comma-separated, empty: all); returns it with its signing
/// secret, the only time that is shown.
#[server(prefix = "/api/fn", endpoint = "create_webhook")]
pub async fn create_webhook(
    name: String,
    url: String,
    kinds: String,
) -> Result<model::WebhookView, ServerFnError> {
    let (state, admin) = on_server::signed_in(model::Role::Admin)?;
    let new = crate::server::notify::api::NewWebhook {
        name,
        url,
        kinds: kinds_list(&kinds),
    };
    crate::server::notify::api::create_webhook(&state, &admin, &new)
        .await
        .map_err(on_server::to_server_error)
}

/// Deletes a webhook endpoint (admins).
#[server(prefix = "/api/fn", endpoint = "delete_webhook")]
pub async fn delete_webhook(id: i64) -> Result<(), ServerFnError> {
    let (state, admin) = on_server::signed_in(model::Role::Admin)?;
    crate::server::notify::api::delete_webhook(&state, &admin, id)
        .await
        .map_err(on_server::to_server_error)
}

/// A page of the delivery log (dispatchers), `status` empty for all.
#[server(prefix = "/api/fn", endpoint = "deliveries")]
pub async fn deliveries(status: String, page: u32) -> Result<Page<model::DeliveryView>, ServerFnError> {
    let (state, _) = on_server::signed_in(model::Role::Dispatcher)?;
    let query = crate::server::notify::store::DeliveryQuery {
        status,
        page: Some(page),
        ..Default::default()
    };
    crate::server::notify::api::deliveries(&state, &query)
        .await
        .map_err(on_server::to_server_error)
}

/// The alert kinds the signed-in user gets by email.
#[server(prefix = "/api/fn", endpoint = "email_alerts")]
pub async fn email_alerts() -> Result<model::EmailAlerts, ServerFnError> {
    let (state, user) = on_server::signed_in(model::Role::Viewer)?;
    crate::server::notify::api::email_alerts(&state, &user)
        .await
        .map_err(on_server::to_server_error)
}

/// Replaces the alert kinds the signed-in user gets by email (comma-separated).
#[server(prefix = "/api/fn", endpoint = "set_email_alerts")]
pub async fn set_email_alerts(kinds: String) -> Result<model::EmailAlerts, ServerFnError> {
    let (state, user) = on_server::signed_in(model::Role::Viewer)?;
    crate::server::notify::api::set_email_alerts(&state, &user, &kinds_list(&kinds))
        .await
        .map_err(on_server::to_server_error)
}

/// The timed alert rules with their overrides.
#[server(prefix = "/api/fn", endpoint = "alert_rules")]
pub async fn alert_rules() -> Result<Vec<model::AlertRuleView>, ServerFnError> {
    let state = on_server::state()?;
    state.alert_rules.list().map_err(on_server::to_server_error)
}

/// Overrides `rule`'s thresholds (dispatchers): `kmh` and `seconds` as typed, empty for Jupiter's setting.
#[server(prefix = "/api/fn", endpoint = "set_alert_rule")]
pub async fn set_alert_rule(rule: String, kmh: String, seconds: String) -> Result<(), ServerFnError> {
    let (state, user) = on_server::signed_in(model::Role::Dispatcher)?;
    let number = |what: &str, text: &str| -> Result<Option<f64>, ServerFnError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<f64>()
            .map(Some)
            .map_err(|_| ServerFnError::new(format!("{what} must be a number, not {text:?}")))
    };
    let seconds = match number("seconds", &seconds)? {
        Some(value) if value.fract() != 0.0 || value < 0.0 => {
            return Err(ServerFnError::new("seconds must be a whole number"));
        }
        // Whole and non-negative: the conversion is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(value) => Some(value as u64),
        None => None,
    };
    let set = packetpulse_model::RuleThresholds {
        kmh: number("kmh", &kmh)?,
        seconds,
    };
    state
        .alert_rules
        .put(&rule, &set)
        .await
        .map_err(on_server::to_server_error)?;
    tracing::info!(rule, ?set, by = %user.username, "alert rule override saved");
    Ok(())
}

/// Restores Jupiter's setting for `rule` (dispatchers).
#[server(prefix = "/api/fn", endpoint = "reset_alert_rule")]
pub async fn reset_alert_rule(rule: String) -> Result<(), ServerFnError> {
    let (state, _) = on_server::signed_in(model::Role::Dispatcher)?;
    state
        .alert_rules
        .reset(&rule)
        .await
        .map_err(on_server::to_server_error)
}
