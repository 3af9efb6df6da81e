//! The tracking endpoints: experiments and runs (read).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::{caller, may_read};
use super::{AppState, error::ApiError};

/// `GET /v1/experiments`.
pub async fn experiments(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.experiments().await?).into_response())
}

/// `GET /v1/experiments/{id}`.
pub async fn experiment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.experiment(&id).await?).into_response())
}

/// Query of `GET /v1/runs`.
#[derive(Debug, Deserialize)]
pub struct RunsParams {
    experiment_id: Option<String>,
}

/// `GET /v1/runs?experiment_id=`: runs, newest first (every experiment when none is given).
pub async fn runs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<RunsParams>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let ids = match p.experiment_id {
        Some(id) => vec![state.registry.experiment(&id).await?.id],
        None => state
            .registry
            .experiments()
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect(),
    };
    Ok(Json(state.registry.runs(&ids).await?).into_response())
}

/// `GET /v1/runs/{id}`.
pub async fn run(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.run(&id).await?).into_response())
}

/// `GET /v1/runs/{id}/metrics/{key}`: every value of a metric, by step.
pub async fn metric_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.metric_history(&id, &key).await?).into_response())
}
