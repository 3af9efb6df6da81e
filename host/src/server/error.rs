//! API errors: JSON `{"error": {"code", "message"}}` with the right status; never a panic,
//! a stack trace or SQL text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_registry::RegistryError;

use crate::publish::PublishError;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// What was wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401: no valid token.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: a valid token without the right.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 400: a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(m) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", format!("{m} not found"))
            }
            RegistryError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            RegistryError::Invalid(m) => Self::new(StatusCode::BAD_REQUEST, "invalid", m),
            RegistryError::Corrupt { .. }
            | RegistryError::Database(_)
            | RegistryError::Io { .. } => {
                tracing::error!(error = %e, "registry failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the registry failed; see the server log",
                )
            }
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::TooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            PublishError::Invalid(inner) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_plugin",
                inner.to_string(),
            ),
            PublishError::Refused(inner) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "impure_plugin",
                inner.to_string(),
            ),
            PublishError::Registry(inner) => inner.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}
