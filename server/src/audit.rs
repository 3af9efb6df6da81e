//! Changes made through the API: the caller's role is checked, the change runs, and the outcome
//! (refusals included) goes to the audit log under a fresh request id, which the answer echoes
//! in `x-request-id`.

use axum::http::HeaderMap;
use ferry_registry::Role;

use super::auth::{Caller, caller};
use super::{ApiError, AppState, request_id};

/// An API error whose message can be audited.
pub trait Refusal: From<ApiError> {
    /// What was refused, for the audit log.
    fn message(&self) -> &str;
}

impl Refusal for ApiError {
    fn message(&self) -> &str {
        &self.message
    }
}

/// Runs `change` for a caller with at least `role` and audits the outcome: `ok` with the detail
/// the change returns, or `denied` with the error's message. Returns the request id with the
/// result.
pub async fn audited<T, E: Refusal>(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
    action: &str,
    object: &str,
    change: impl AsyncFnOnce(&Caller) -> Result<(T, String), E>,
) -> (String, Result<T, E>) {
    let id = request_id();
    let who = caller(state, headers).await;
    let actor = who
        .as_ref()
        .map(Caller::actor)
        .unwrap_or_else(|_| "invalid-token".into());
    let result = async {
        let who = who.map_err(E::from)?;
        who.require(role).map_err(E::from)?;
        change(&who).await
    }
    .await;
    let (outcome, detail) = match &result {
        Ok((_, d)) => ("ok", d.clone()),
        Err(e) => ("denied", e.message().to_string()),
    };
    if let Err(e) = state
        .registry
        .audit(&actor, action, object, outcome, &id, &detail)
        .await
    {
        tracing::error!(error = %e, "could not write the audit log");
    }
    (id, result.map(|(v, _)| v))
}

pub use ferry_edge::http::with_request_id;
