//! The server's errors: the edge's [`ferry_edge::http::ApiError`] (a status, a stable code and a
//! message, answered as JSON) with the conversions from the registry's, publishing's and the
//! libraries' errors that only the full server needs, and the bodies the OpenAPI document
//! describes.

use std::ops::{Deref, DerefMut};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_core::data::BodyError;
use ferry_kit::publish::PublishError;
use ferry_registry::RegistryError;

pub use ferry_edge::http::json_errors;

/// The body of every error the `/v1` API answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `not_found`.
    pub code: String,
    /// What was wrong, for people.
    pub message: String,
}

/// The body of every error the MLflow API answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MlflowErrorBody {
    /// MLflow's code, e.g. `RESOURCE_DOES_NOT_EXIST`.
    pub error_code: String,
    /// What was wrong.
    pub message: String,
}

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError(pub ferry_edge::http::ApiError);

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self(ferry_edge::http::ApiError::new(status, code, message))
    }

    /// 401: no valid token.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self(ferry_edge::http::ApiError::unauthenticated(message))
    }

    /// 403: a valid token without the right.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self(ferry_edge::http::ApiError::forbidden(message))
    }

    /// 400: a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self(ferry_edge::http::ApiError::bad_request(message))
    }
}

impl Deref for ApiError {
    type Target = ferry_edge::http::ApiError;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<ferry_edge::http::ApiError> for ApiError {
    fn from(e: ferry_edge::http::ApiError) -> Self {
        Self(e)
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(m) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", format!("{m} not found"))
            }
            RegistryError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            RegistryError::State(m) => Self::new(StatusCode::CONFLICT, "state", m),
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
            PublishError::NotConforming { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_conforming",
                e.to_string(),
            ),
            PublishError::Registry(inner) => inner.into(),
        }
    }
}
