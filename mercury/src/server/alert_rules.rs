//! Per-rule alert thresholds: a dispatcher overrides Jupiter's settings of the timed rules (overspeed limit and
//! duration, idle speed and duration, offline and abandoned silences) here. Each override is a record of the
//! compacted `alert-rules` topic (key = rule, JSON [`RuleThresholds`], a tombstone restores Jupiter's setting),
//! which Jupiter's detector follows and puts in force at its next batch or tick.

use crate::server::openapi::ApiErrorBody;
use axum::Json;
use axum::extract::{Path, State};
use packetpulse_model::RuleThresholds;
use packetpulse_model::alert_rules::RULES;
use tokio_util::sync::CancellationToken;

use super::api_error::ApiError;
use super::compacted_store::CompactedStore;
use super::state::AppState;
use crate::model::AlertRuleView;

/// The overrides in force and the way to change them.
#[derive(Clone)]
pub struct AlertRules(CompactedStore<RuleThresholds>);

impl AlertRules {
    /// A store writing to `topic` on `bootstrap_servers`; empty until [`AlertRules::follow`] has read it.
    pub fn new(bootstrap_servers: &str, topic: &str) -> Result<Self, String> {
        CompactedStore::new(
            bootstrap_servers,
            topic,
            "alert rule",
            RuleThresholds::from_record,
        )
        .map(Self)
    }

    /// Creates the topic if missing, reads it to its end, then follows it until `shutdown`.
    pub async fn follow(self, bootstrap_servers: String, shutdown: CancellationToken) {
        self.0
            .follow(bootstrap_servers, "mercury-alert-rules", shutdown)
            .await;
    }

    /// Every rule, with its override (none: Jupiter's setting is in force).
    pub fn list(&self) -> Result<Vec<AlertRuleView>, ApiError> {
        let rows = self.0.rows()?;
        Ok(RULES
            .iter()
            .map(|rule| {
                let set = rows
                    .iter()
                    .find(|(key, _)| key == rule)
                    .map(|(_, set)| *set)
                    .unwrap_or_default();
                AlertRuleView {
                    rule: (*rule).to_owned(),
                    kmh: set.kmh,
                    seconds: set.seconds,
                }
            })
            .collect())
    }

    /// Puts `set` in force for `rule`; answered once read back.
    pub async fn put(&self, rule: &str, set: &RuleThresholds) -> Result<(), ApiError> {
        if let Some(problem) = set.problem(rule) {
            return Err(ApiError::BadRequest(problem));
        }
        self.0.put(rule, set).await
    }

    /// Restores Jupiter's setting for `rule` (not found when it has no override).
    pub async fn reset(&self, rule: &str) -> Result<(), ApiError> {
        self.0.delete(rule, "alert rule override").await
    }
}

/// `GET /api/v1/alert-rules` (viewers).
#[utoipa::path(get, path = "/alert-rules", summary = "Every alert rule with its thresholds", tag = "alerts",
    responses((status = 200, description = "Every rule with Jupiter's setting and the override, if any", body = Vec<AlertRuleView>)))]
pub async fn get_alert_rules(State(state): State<AppState>) -> Result<Json<Vec<AlertRuleView>>, ApiError> {
    state.alert_rules.list().map(Json)
}

/// `PUT /api/v1/alert-rules/{rule}`: `{"kmh", "seconds"}` (dispatchers).
#[utoipa::path(put, path = "/alert-rules/{rule}", summary = "Overrides a rule's thresholds", tag = "alerts",
    params(("rule" = String, Path, description = "`overspeed`, `idle`, `offline` or `abandoned`")),
    request_body(content = Object, description = "`{\"kmh\": number, \"seconds\": integer}`: the speed (overspeed and idle only) and the duration"),
    responses(
        (status = 200, description = "The rule with its new override", body = AlertRuleView),
        (status = 400, description = "Not a rule, or thresholds out of range", body = ApiErrorBody)))]
pub async fn put_alert_rule(
    State(state): State<AppState>,
    Path(rule): Path<String>,
    body: Result<Json<RuleThresholds>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<AlertRuleView>, ApiError> {
    let Json(set) = body.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "not rule thresholds ({{\"kmh\", \"seconds\"}}): {rejection}"
        ))
    })?;
    state.alert_rules.put(&rule, &set).await?;
    tracing::info!(rule, ?set, "alert rule override saved");
    Ok(Json(AlertRuleView {
        rule,
        kmh: set.kmh,
        seconds: set.seconds,
    }))
}

/// `DELETE /api/v1/alert-rules/{rule}` (dispatchers): back to Jupiter's setting.
#[utoipa::path(delete, path = "/alert-rules/{rule}", summary = "Restores Jupiter's setting for a rule", tag = "alerts",
    params(("rule" = String, Path, description = "The rule")),
    responses((status = 204, description = "Back to Jupiter's setting")))]
pub async fn delete_alert_rule(
    State(state): State<AppState>,
    Path(rule): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.alert_rules.reset(&rule).await?;
    tracing::info!(rule, "alert rule override removed");
    Ok(axum::http::StatusCode::NO_CONTENT)
}
