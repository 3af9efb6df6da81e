//! Who is calling: a bearer token's principal, or anonymous.

use axum::http::HeaderMap;
use ferry_registry::{Principal, Role};

use super::{AppState, error::ApiError};

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No token.
    Anonymous,
    /// A valid token.
    Token(Principal),
}

impl Caller {
    /// How the caller appears in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".into(),
            Caller::Token(p) => format!("token:{}", p.name),
        }
    }

    /// The principal, if the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<&Principal, ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::unauthenticated(format!(
                "this needs a token with the {} role: send `Authorization: Bearer <token>`",
                role.name()
            ))),
            Caller::Token(p) if p.role >= role => Ok(p),
            Caller::Token(p) => Err(ApiError::forbidden(format!(
                "token {} has the {} role; this needs {}",
                p.name,
                p.role.name(),
                role.name()
            ))),
        }
    }
}

/// Reads the caller from the `Authorization` header; a header with an unknown or revoked
/// token is refused rather than treated as anonymous.
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
    let token = text
        .strip_prefix("Bearer ")
        .ok_or_else(|| {
            ApiError::unauthenticated("the Authorization header must be `Bearer <token>`")
        })?
        .trim();
    match state.registry.authenticate(token).await? {
        Some(p) => Ok(Caller::Token(p)),
        None => Err(ApiError::unauthenticated("the token is unknown or revoked")),
    }
}

/// Checks read access: anonymous reads only when the server allows them.
pub fn may_read(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if matches!(caller, Caller::Anonymous) && !state.anonymous_read {
        return Err(ApiError::unauthenticated(
            "this server needs a token to read: send `Authorization: Bearer <token>`",
        ));
    }
    Ok(())
}
