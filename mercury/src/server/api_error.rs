//! Why an API call failed, as the client sees it: the JSON API answers with a status and a message, the pages'
//! server functions pass the message on. Also how a failure of the one-second cache, handed to every request that
//! waited for it, becomes one request's error again.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::warehouse::QueryError;

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such session, order, …
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A parameter is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// ClickHouse failed (logged; the client gets a generic message).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A failure shared by every request that waited for the same cached answer.
    #[error("{0}")]
    Shared(String),
    /// A tracking link whose order was delivered longer ago than links live.
    #[error("this tracking link has expired: the order was delivered")]
    Expired,
    /// Too many requests from one client.
    #[error("too many requests; wait a minute and try again")]
    TooManyRequests,
    /// The user database failed (logged; the client gets a generic message).
    #[error("user database: {0}")]
    Users(String),
    /// A dependency other than the databases (Kafka) cannot serve the call now; the message says what to do.
    #[error("{0}")]
    Unavailable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, self.to_string()),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            Self::Expired => (StatusCode::GONE, self.to_string()),
            Self::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, self.to_string()),
            Self::Unavailable(_) => {
                tracing::warn!(error = %self, "API call could not be served now");
                (StatusCode::SERVICE_UNAVAILABLE, self.to_string())
            }
            Self::Users(_) => {
                tracing::error!(error = %self, "API call failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the dashboard's database failed; try again".to_owned(),
                )
            }
            Self::Query(_) | Self::Shared(_) => {
                tracing::error!(error = %self, "API query failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the analytics database is unavailable; try again".to_owned(),
                )
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// Unwraps moka's shared error (the same error is handed to every waiter).
pub fn shared_error(error: Arc<ApiError>) -> ApiError {
    Arc::try_unwrap(error).unwrap_or_else(|shared| ApiError::Shared(shared.to_string()))
}
