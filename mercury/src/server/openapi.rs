//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]` annotations and the
//! model's schemas, served at `/api/v1/openapi.json` and rendered by the `/api-docs` page. Who may call each
//! operation is not written here: it comes from the route table (`access::rules`), the one place that decides it.

use std::sync::LazyLock;

use axum::Json;
use axum::http::Method;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{Modify, OpenApi, ToSchema};

use super::access::rules::{Access, access};
use crate::model::{ApiOperation, ApiParameter, ApiResponse};

/// The prefix every documented path is served under (the document's one server).
pub const PREFIX: &str = "/api/v1";

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorBody {
    /// What went wrong, for a person to read.
    pub error: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PacketPulse API",
        description = "The dashboard's data for scripts and BI tools. Sign in with `POST /login` (a session cookie) \
                       or send a personal API token (Settings → API tokens) as `Authorization: Bearer`. Times are \
                       epoch milliseconds (UTC) unless a field says otherwise.",
    ),
    servers((url = "/api/v1", description = "This Mercury")),
    paths(
        super::account::login_json,
        super::api::get_me,
        super::api::get_overview,
        super::overview_feed::websocket,
        super::api::get_sessions,
        super::api::get_session,
        super::api::get_active_sessions,
        super::api::get_fleet,
        super::api::get_analytics,
        super::api::get_tracking,
        super::tracking_feed::websocket,
        super::live::socket::websocket,
        super::alerts::get_alerts,
        super::alerts::feed::websocket,
        super::alerts::post_acknowledge,
        super::geofences::get_geofences,
        super::geofences::put_geofence,
        super::geofences::delete_geofence,
        super::alert_rules::get_alert_rules,
        super::alert_rules::put_alert_rule,
        super::alert_rules::delete_alert_rule,
        super::notify::api::get_webhooks,
        super::notify::api::post_webhook,
        super::notify::api::delete_webhook_by_id,
        super::notify::api::get_deliveries,
        super::notify::api::get_email_alerts,
        super::notify::api::put_email_alerts,
        super::api::get_users,
        super::api::get_devices,
        super::reports::get_report,
        get_openapi,
    ),
    components(schemas(ApiErrorBody, crate::model::LiveMessage, crate::model::AlertMessage)),
    modifiers(&AccessFromRouteTable),
)]
struct ApiDoc;

/// The document, built once.
pub static DOCUMENT: LazyLock<Document> = LazyLock::new(ApiDoc::openapi);

/// `GET /api/v1/openapi.json`: this document (public: it holds no data, only the shape of the API).
#[utoipa::path(get, path = "/openapi.json", summary = "This document", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn get_openapi() -> Json<&'static Document> {
    Json(&DOCUMENT)
}

/// Adds each operation's caller from the route table: the security schemes, 401 and 403 for signed-in routes, and
/// the lowest role in the description; strips the "`METHOD /path`: " prefix the handlers' doc comments start with.
struct AccessFromRouteTable;

impl Modify for AccessFromRouteTable {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "packetpulse_session",
                "The cookie `POST /login` or the sign-in page sets.",
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal API token (Settings → API tokens)."))
                    .build(),
            ),
        );
        for (path, item) in document.paths.paths.iter_mut() {
            for (method, operation) in operations(item) {
                let full_path = format!("{PREFIX}{path}");
                describe_access(operation, access(&method, &full_path));
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation?)))
    .collect()
}

fn describe_access(operation: &mut Operation, access: Option<Access>) {
    if let Some(summary) = operation.summary.as_mut() {
        *summary = plain_summary(summary);
    }
    let who = match access {
        None => "Not in the route table: not served.".to_owned(),
        Some(Access::Public) => {
            operation.security = Some(Vec::new());
            "Anyone may call it, signed in or not.".to_owned()
        }
        Some(Access::Signed(role)) => {
            operation.security = Some(vec![
                SecurityRequirement::new::<_, _, &str>("session", []),
                SecurityRequirement::new::<_, _, &str>("token", []),
            ]);
            let error = |text: &str| {
                ResponseBuilder::new()
                    .description(text)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ApiErrorBody")))
                            .build(),
                    )
                    .build()
            };
            operation.responses.responses.insert(
                "401".into(),
                error("Not signed in, or the token is revoked").into(),
            );
            operation.responses.responses.insert(
                "403".into(),
                error(&format!("Signed in below the {} role", role.as_str())).into(),
            );
            format!("Who may call it: {} and above.", role.as_str())
        }
    };
    operation.description = Some(match operation.description.take() {
        Some(description) if !description.is_empty() => format!("{description}\n\n{who}"),
        _ => who,
    });
}

/// "`GET /sessions/{id}`: one session with its track." → "One session with its track."
fn plain_summary(summary: &str) -> String {
    let rest = summary
        .strip_prefix('`')
        .and_then(|rest| rest.split_once("`: ").map(|(_, rest)| rest))
        .unwrap_or(summary);
    let rest = rest.trim_end_matches('.');
    let mut characters = rest.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Every operation of the document, for the rendered page: path (with the prefix), method, who may call it.
pub fn operations_for_page() -> Vec<ApiOperation> {
    // Walked as JSON: the page shows what a client of `openapi.json` reads, whatever utoipa's types look like.
    let document = serde_json::to_value(&*DOCUMENT).unwrap_or_default();
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let mut rows = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in ["get", "put", "post", "delete"] {
            let operation = &item[method];
            if operation.is_null() {
                continue;
            }
            let method = method.to_uppercase();
            let full_path = format!("{PREFIX}{path}");
            let who = Method::from_bytes(method.as_bytes())
                .ok()
                .and_then(|method| access(&method, &full_path))
                .map(|access| match access {
                    Access::Public => "anyone".to_owned(),
                    Access::Signed(role) => role.as_str().to_owned(),
                })
                .unwrap_or_default();
            let body = &operation["requestBody"];
            let request_body = match (body["description"].as_str(), schema_name(&body["content"])) {
                (Some(description), _) => description.to_owned(),
                (None, Some(schema)) => schema,
                (None, None) => String::new(),
            };
            rows.push(ApiOperation {
                method,
                path: full_path,
                summary: text(&operation["summary"]),
                who,
                parameters: operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|parameter| ApiParameter {
                        name: text(&parameter["name"]),
                        location: text(&parameter["in"]),
                        required: parameter["required"].as_bool().unwrap_or(false),
                        description: text(&parameter["description"]),
                    })
                    .collect(),
                request_body,
                // 401 and 403 follow from the "who" column: listed once in the page's text, not on every row.
                responses: operation["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(status, _)| !matches!(status.as_str(), "401" | "403"))
                    .map(|(status, response)| ApiResponse {
                        status: status.clone(),
                        description: match schema_name(&response["content"]) {
                            Some(schema) => format!("{} ({schema})", text(&response["description"])),
                            None => text(&response["description"]),
                        },
                    })
                    .collect(),
            });
        }
    }
    rows
}

/// The schema a JSON content holds, by name: `Overview`, `Page_SessionRow`, `[ActiveSession]`.
fn schema_name(content: &Value) -> Option<String> {
    let schema = &content["application/json"]["schema"];
    let name = |schema: &Value| {
        schema["$ref"]
            .as_str()
            .and_then(|reference| reference.rsplit('/').next())
            .map(str::to_owned)
    };
    name(schema).or_else(|| name(&schema["items"]).map(|item| format!("[{item}]")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_lose_the_method_and_path_prefix() {
        assert_eq!(
            plain_summary("`GET /sessions/{id}`: one session with its track."),
            "One session with its track"
        );
        assert_eq!(plain_summary("Plain words."), "Plain words");
    }

    /// Both ways: every `/api/v1` route of the route table is documented, and nothing else is.
    #[test]
    fn every_api_route_is_in_the_document_and_every_operation_is_a_route() {
        use crate::server::access::rules::RULES;
        let documented: std::collections::BTreeSet<(String, String)> = operations_for_page()
            .into_iter()
            .map(|operation| (operation.method, operation.path))
            .collect();
        let routes: std::collections::BTreeSet<(String, String)> = RULES
            .iter()
            .filter(|rule| rule.path.starts_with("/api/v1/"))
            .map(|rule| (rule.method.to_owned(), rule.path.to_owned()))
            .collect();
        let undocumented: Vec<_> = routes.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routes).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.json: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "documented operations that are not routes: {unrouted:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_roles_from_the_route_table() {
        let json = serde_json::to_value(&*DOCUMENT).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let users = &json["paths"]["/users"]["get"];
        assert!(
            users["description"].as_str().unwrap().contains("admin and above"),
            "{users}"
        );
        assert!(users["responses"]["403"].is_object(), "{users}");
        let tracking = &json["paths"]["/track/{token}"]["get"];
        assert_eq!(tracking["security"], serde_json::json!([]), "{tracking}");
    }
}
