//! `POST /v1/models/{name}/versions/{reference}/drift`: rows held against the version's
//! reference profile, as `ferry drift` holds a file.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::{caller, may_read};
use super::error::ErrorBody;
use super::{AppState, error::ApiError};
use ferry_core::Refusal;
use ferry_core::lineage::Lineage;
use ferry_core::stats::{DriftOptions, Method, Profile, Role, compare, profile::ColumnProfile};
use ferry_edge::http::refused;
use ferry_edge::http::{check_declared, read_rows};

/// Query of the drift endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DriftParams {
    /// One test for every column (default: Evidently's choice per column).
    pub method: Option<String>,
    /// One threshold for every column (default: each test's own).
    pub threshold: Option<f64>,
    /// The share of drifted columns at which the dataset drifts (default 0.5).
    pub drift_share: Option<f64>,
}

#[utoipa::path(post, path = "/v1/models/{name}/versions/{reference}/drift", tag = "models",
    params(("name" = String, Path, description = "The registered model"), ("reference" = String, Path, description = "A version number, an alias, a stage or `latest`"), DriftParams),
    request_body(content = Object, description = "The current data, shaped as a prediction request: `rows` (an array of objects) or `columns` (an object of arrays)"),
    responses((status = 200, description = "The drift report: per column the test, score, threshold and verdict, and the dataset verdict", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `POST /v1/models/{name}/versions/{reference}/drift`: the drift of the rows in the body
/// from the version's training data.
pub async fn drift(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, reference)): Path<(String, String)>,
    Query(params): Query<DriftParams>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    check_declared(&headers, &state.limits)?;
    let invalid = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m);
    let options = DriftOptions {
        method: params
            .method
            .as_deref()
            .map(Method::parse)
            .transpose()
            .map_err(invalid)?,
        threshold: params.threshold,
        drift_share: params.drift_share,
        ..DriftOptions::default()
    };
    let rows = read_rows(body, &state.limits).await?;
    let v = state
        .registry
        .resolve_model_version(&name, &reference)
        .await?;
    let what = format!("{name} version {}", v.version);
    let no_profile = |why: &str| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_reference_profile",
            format!("{what} {why}"),
        )
    };
    let lineage = v
        .lineage
        .as_deref()
        .map(Lineage::parse)
        .transpose()
        .map_err(|e| no_profile(&format!("has a lineage that cannot be read: {e}")))?
        .ok_or_else(|| no_profile("has no Ferry lineage, so no reference profile"))?;
    let digest = lineage.reference_profile.as_deref().ok_or_else(|| {
        no_profile(
            "has no reference profile (trained before Ferry kept one, or registered from outside)",
        )
    })?;
    let bytes = state.registry.blobs().get(digest).await?;
    let profile = Profile::parse(&bytes).map_err(|e| no_profile(&e))?;
    let mut schema = lineage.input_fields().map_err(|e| no_profile(&e))?;
    for f in &mut schema {
        f.nullable = true;
    }
    let batch = match rows.to_batch(&schema, &[lineage.label.as_str()]) {
        Ok(b) => b,
        Err(problems) => return Ok(refused(Refusal::field_problems(&problems))),
    };
    let inputs: Vec<&ColumnProfile> = profile.of_role(Role::Input).collect();
    let report = compare(
        &format!("{name}@{}", v.version),
        &[(&inputs, ferry_core::stats::drift::Current::Batch(&batch))],
        &options,
    )
    .map_err(|e| invalid(e.to_string()))?;
    Ok(Json(report).into_response())
}
