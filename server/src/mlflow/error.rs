//! MLflow's error JSON: `{"error_code", "message"}` with the status the client expects.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_registry::RegistryError;

use crate::ApiError;

/// An error in MLflow's shape.
#[derive(Debug)]
pub struct MlflowError {
    /// The HTTP status.
    pub status: StatusCode,
    /// MLflow's error code, e.g. `RESOURCE_DOES_NOT_EXIST`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl MlflowError {
    /// 400 `INVALID_PARAMETER_VALUE`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`.
    pub fn missing(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }

    /// 409 `RESOURCE_CONFLICT`: the change would replace something that may not change.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "RESOURCE_CONFLICT",
            message: message.into(),
        }
    }
}

impl MlflowError {
    /// A registry error where a conflict means that something may not change: 409
    /// `RESOURCE_CONFLICT` rather than `RESOURCE_ALREADY_EXISTS`.
    pub fn unchangeable(e: RegistryError) -> Self {
        match e {
            RegistryError::Conflict(m) => Self::conflict(m),
            other => other.into(),
        }
    }
}

impl From<RegistryError> for MlflowError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(m) => Self::missing(format!("{m} not found")),
            RegistryError::Conflict(m) => Self {
                status: StatusCode::CONFLICT,
                code: "RESOURCE_ALREADY_EXISTS",
                message: m,
            },
            // MLflow answers these with INVALID_PARAMETER_VALUE; the status says the request
            // itself was well formed.
            RegistryError::State(m) => Self {
                status: StatusCode::CONFLICT,
                code: "INVALID_PARAMETER_VALUE",
                message: m,
            },
            RegistryError::Invalid(m) => Self::invalid(m),
            other => {
                tracing::error!(error = %other, "registry failure");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "INTERNAL_ERROR",
                    message: "the registry failed; see the server log".into(),
                }
            }
        }
    }
}

impl From<ApiError> for MlflowError {
    fn from(e: ApiError) -> Self {
        let code = match e.status {
            StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
            StatusCode::FORBIDDEN => "PERMISSION_DENIED",
            StatusCode::NOT_FOUND => "RESOURCE_DOES_NOT_EXIST",
            StatusCode::CONFLICT => "RESOURCE_ALREADY_EXISTS",
            s if s.is_server_error() => "INTERNAL_ERROR",
            _ => "INVALID_PARAMETER_VALUE",
        };
        Self {
            status: e.status,
            code,
            message: e.0.message,
        }
    }
}

impl crate::audit::Refusal for MlflowError {
    fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for MlflowError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({"error_code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

/// The answer to an unknown `/api/` route: MLflow's 404 `ENDPOINT_NOT_FOUND`, which makes the
/// client try another form of the call.
pub fn not_found(method: &str, path: &str) -> Response {
    MlflowError {
        status: StatusCode::NOT_FOUND,
        code: "ENDPOINT_NOT_FOUND",
        message: format!("no endpoint {method} {path}"),
    }
    .into_response()
}
