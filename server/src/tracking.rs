//! The tracking endpoints: experiments and runs (read).

use super::error::ErrorBody;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ferry_registry::{ArtifactInfo, Experiment, MetricValue, Run};
use serde::Deserialize;

use ferry_registry::{RunFilter, RunOrder, RunView};

use super::auth::{caller, may_read};
use super::{AppState, error::ApiError};

#[utoipa::path(get, path = "/v1/experiments", tag = "tracking",
    responses((status = 200, description = "Every experiment", body = Vec<Experiment>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/experiments`.
pub async fn experiments(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.experiments().await?).into_response())
}

#[utoipa::path(get, path = "/v1/experiments/{id}", tag = "tracking",
    params(("id" = String, Path, description = "The experiment's id")),
    responses((status = 200, description = "The experiment", body = Experiment), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/experiments/{id}`.
pub async fn experiment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.experiment(&id).await?).into_response())
}

/// A blob's digest, in the URL.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DigestPath {
    /// `sha256:` and 64 lowercase hex digits.
    #[param(schema_with = super::schema::digest)]
    digest: String,
}

/// Query of `GET /v1/runs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsParams {
    /// One experiment (default: all).
    experiment_id: Option<String>,
    /// MLflow's filter syntax, e.g. `metrics.roc_auc >= 0.8 and params.model.l2 = '1'`.
    filter: Option<String>,
    /// Comma-separated orderings, e.g. `metrics.roc_auc DESC`.
    order_by: Option<String>,
    /// At most this many (default 1,000).
    #[param(minimum = 0, maximum = 1000000000)]
    max_results: Option<usize>,
    /// `ACTIVE_ONLY` (default), `DELETED_ONLY` or `ALL`.
    #[param(schema_with = super::schema::view_type)]
    run_view_type: Option<String>,
}

#[utoipa::path(get, path = "/v1/runs", tag = "tracking",
    params(RunsParams),
    responses((status = 200, description = "Matching runs", body = Vec<Run>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
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
    let filter = RunFilter::parse(p.filter.as_deref().unwrap_or(""))?;
    let order = p
        .order_by
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(RunOrder::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let runs = state
        .registry
        .search_runs(
            &ids,
            match &p.run_view_type {
                Some(v) => RunView::parse(v)?,
                None => RunView::ActiveOnly,
            },
            &filter,
            &order,
            p.max_results.unwrap_or(1000),
        )
        .await?;
    Ok(Json(runs).into_response())
}

#[utoipa::path(get, path = "/v1/runs/{id}/artifacts", tag = "tracking",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, description = "The run's files", body = Vec<ArtifactInfo>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/runs/{id}/artifacts`: the files recorded with a run.
pub async fn artifacts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.artifacts(&id, "").await?).into_response())
}

#[utoipa::path(get, path = "/v1/runs/{id}/artifacts/{path}", tag = "tracking",
    params(("id" = String, Path, description = "The run's id"), ("path" = String, Path, description = "The file's path in the run, e.g. `model/model.bin`")),
    responses((status = 200, description = "The file; its digest in `x-ferry-digest`", content_type = "application/octet-stream", body = Vec<u8>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/runs/{id}/artifacts/{path}`: one file's bytes, with its digest.
pub async fn artifact(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, path)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let info = state.registry.artifact(&id, &path).await?;
    let bytes = state.registry.blobs().get(&info.digest).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_string(),
            ),
            (
                axum::http::header::HeaderName::from_static("x-ferry-digest"),
                info.digest,
            ),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/runs/{id}", tag = "tracking",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, description = "The run with its params, latest metrics and tags", body = Run), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/runs/{id}`.
pub async fn run(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.run(&id).await?).into_response())
}

#[utoipa::path(get, path = "/v1/runs/{id}/metrics/{key}", tag = "tracking",
    params(("id" = String, Path, description = "The run's id"), ("key" = String, Path, description = "The metric")),
    responses((status = 200, description = "Every logged value", body = Vec<MetricValue>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/runs/{id}/metrics/{key}`: every value of a metric, by step.
pub async fn metric_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.metric_history(&id, &key).await?).into_response())
}

#[utoipa::path(get, path = "/v1/blobs/{digest}", tag = "tracking",
    params(DigestPath),
    responses((status = 200, description = "The stored bytes, checked against the digest", content_type = "application/octet-stream", body = Vec<u8>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/blobs/{digest}`: a stored blob (a plugin, a run's file, a model artifact) by its
/// digest, checked against it; the answer carries the digest in `x-ferry-digest`. What a
/// lineage pins by digest, a remote `ferry transform --model` fetches here.
pub async fn blob(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(DigestPath { digest }): Path<DigestPath>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let bytes = state.registry.blobs().get(&digest).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_string(),
            ),
            (
                axum::http::header::HeaderName::from_static("x-ferry-digest"),
                digest,
            ),
        ],
        bytes,
    )
        .into_response())
}
