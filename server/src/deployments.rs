//! `/v1/deployments`: named deployments (deployer role, every change audited) and prediction
//! through them. A request goes to one target (by weight, sticky by a key when the deployment
//! names one); when that target fails, times out or has an open circuit, the fallback
//! answers, then the configured default. A request-side error (400, 422) is the request's,
//! not the target's: it is answered as the model endpoint answers it. Shadows get a copy of
//! each request off the request path.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_registry::deployment_spec::Resolved;
use ferry_registry::{DeploymentRevision, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;

use super::audit::with_request_id;
use super::auth::{caller, may_read};
use super::error::ErrorBody;
use super::metrics::{outcome, record};
use super::models::PredictParams;
use super::{AppState, error::ApiError, request_id};
use ferry_edge::http::refused;
use ferry_edge::http::{check_declared, read_rows};
use ferry_ops::deploy::{
    self, DeploymentSpec, RouteError, Routed, SpecError, deployment_json, revision_json,
    sample_json, target_json,
};

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::Spec(e) => e.into(),
            e @ RouteError::Unanswered { .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "prediction_failed",
                e.to_string(),
            ),
        }
    }
}

impl From<SpecError> for ApiError {
    fn from(e: SpecError) -> Self {
        match e {
            SpecError::Invalid(m) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_deployment", m)
            }
            SpecError::Registry(r) => r.into(),
        }
    }
}

/// Runs a change that needs the deployer role, audits it, and answers with its result.
async fn change(
    state: &AppState,
    headers: &HeaderMap,
    action: &str,
    name: &str,
    success: StatusCode,
    body: impl AsyncFnOnce(&str) -> Result<DeploymentRevision, ApiError>,
) -> Response {
    let (id, result) = super::audit::audited(
        state,
        headers,
        Role::Deployer,
        action,
        &format!("deployment:{name}"),
        async |who| {
            let r = body(&who.actor()).await?;
            let detail = format!("revision {} ({})", r.revision, r.reason);
            Ok::<_, ApiError>((r, detail))
        },
    )
    .await;
    let response = match result {
        Ok(r) => {
            warm(state, &r);
            (success, Json(revision_json(&r))).into_response()
        }
        Err(e) => e.into_response(),
    };
    with_request_id(response, &id)
}

/// Loads a new revision's versions in the background, so that its first requests do not wait
/// for them.
fn warm(state: &AppState, r: &DeploymentRevision) {
    let Ok(spec) = serde_json::from_str::<DeploymentSpec>(&r.spec) else {
        return;
    };
    let keys: Vec<(String, Resolved)> = spec
        .targets
        .iter()
        .filter_map(|t| t.key())
        .chain(spec.shadows.iter().filter_map(|s| s.key()))
        .chain(spec.fallback.iter().filter_map(|f| f.key()))
        .collect();
    let state = state.clone();
    tokio::spawn(async move {
        for (model, r) in keys {
            if let Err(e) = state
                .served
                .get(
                    &state.runtime,
                    &state.registry,
                    &model,
                    (r.number, r.created_at),
                )
                .await
            {
                tracing::warn!(model = %model, version = r.number, error = %e, "could not load a deployment's version");
            }
        }
    });
}

#[utoipa::path(get, path = "/v1/deployments", tag = "deployments",
    responses((status = 200, description = "Every deployment, by name", body = Vec<Object>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/deployments`: every deployment at its current revision.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let all: Vec<Value> = state
        .registry
        .deployments()
        .await?
        .iter()
        .map(|d| deployment_json(d, None))
        .collect();
    Ok(Json(all).into_response())
}

/// Body of `POST /v1/deployments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = deployments::CreateDeployment)]
pub struct CreateBody {
    /// The deployment's name.
    #[schema(schema_with = super::schema::deployment_name)]
    name: String,
    /// What it serves.
    spec: DeploymentSpec,
}

fn json_body<T>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_deployment",
            e.body_text(),
        )
    })
}

#[utoipa::path(post, path = "/v1/deployments", tag = "deployments", request_body = CreateBody,
    responses((status = 201, description = "Created at revision 1, its references resolved", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `POST /v1/deployments`: creates a deployment (deployer).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let name = match &body {
        Ok(Json(b)) => b.name.clone(),
        Err(_) => "?".into(),
    };
    change(
        &state,
        &headers,
        "deployment.create",
        &name,
        StatusCode::CREATED,
        async |actor| {
            let b = json_body(body)?;
            Ok(deploy::create(&state.registry, state.gate(), &b.name, b.spec, actor).await?)
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/deployments/{name}", tag = "deployments",
    params(("name" = String, Path, description = "The deployment")),
    responses((status = 200, description = "The deployment, its current revision, and its targets' circuit breakers and shadows' counters on this server", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/deployments/{name}`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let d = state.registry.deployment(&name).await?;
    let live = state.deployments.get(&d)?;
    Ok(Json(deployment_json(&d, Some(&live))).into_response())
}

/// Body of `PUT /v1/deployments/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// What it serves from now on.
    spec: DeploymentSpec,
    /// Write only if this is still the current revision.
    #[serde(default, deserialize_with = "super::schema::some_integer")]
    #[schema(schema_with = super::schema::some_number)]
    expected_revision: Option<i64>,
}

#[utoipa::path(put, path = "/v1/deployments/{name}", tag = "deployments",
    params(("name" = String, Path, description = "The deployment")), request_body = UpdateBody,
    responses((status = 200, description = "The new revision, served from now on", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `PUT /v1/deployments/{name}`: writes and serves the next revision (deployer). Requests
/// already running finish on the revision they started on; every later one gets the new one.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<UpdateBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    change(
        &state,
        &headers,
        "deployment.update",
        &name,
        StatusCode::OK,
        async |actor| {
            let b = json_body(body)?;
            Ok(deploy::update(
                &state.registry,
                state.gate(),
                &name,
                b.spec,
                actor,
                b.expected_revision,
            )
            .await?)
        },
    )
    .await
}

#[utoipa::path(delete, path = "/v1/deployments/{name}", tag = "deployments",
    params(("name" = String, Path, description = "The deployment")),
    responses((status = 200, description = "Deleted with its history", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `DELETE /v1/deployments/{name}` (deployer).
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let (id, result) = super::audit::audited(
        &state,
        &headers,
        Role::Deployer,
        "deployment.delete",
        &format!("deployment:{name}"),
        async |_| {
            state.registry.delete_deployment(&name).await?;
            state.deployments.forget(&name);
            Ok::<_, ApiError>((json!({"name": name, "deleted": true}), String::new()))
        },
    )
    .await;
    let response = match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    with_request_id(response, &id)
}

#[utoipa::path(get, path = "/v1/deployments/{name}/revisions", tag = "deployments",
    params(("name" = String, Path, description = "The deployment")),
    responses((status = 200, description = "Every revision, oldest first", body = Vec<Object>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/deployments/{name}/revisions`: the deployment's history.
pub async fn revisions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let all: Vec<Value> = state
        .registry
        .deployment_revisions(&name)
        .await?
        .iter()
        .map(revision_json)
        .collect();
    Ok(Json(all).into_response())
}

/// Body of `POST /v1/deployments/{name}/rollback`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// The revision to serve again (the one before the current one when absent).
    #[serde(default, deserialize_with = "super::schema::some_integer")]
    #[schema(schema_with = super::schema::some_number)]
    to: Option<i64>,
}

#[utoipa::path(post, path = "/v1/deployments/{name}/rollback", tag = "deployments",
    params(("name" = String, Path, description = "The deployment")), request_body = Option<RollbackBody>,
    responses((status = 200, description = "The new revision, a copy of the one rolled back to", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `POST /v1/deployments/{name}/rollback`: serves an earlier revision again, as a new revision
/// (deployer).
pub async fn rollback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<Option<RollbackBody>>, axum::extract::rejection::JsonRejection>,
) -> Response {
    change(
        &state,
        &headers,
        "deployment.rollback",
        &name,
        StatusCode::OK,
        async |actor| {
            let to = match body {
                Ok(Json(b)) => b.and_then(|b| b.to),
                Err(axum::extract::rejection::JsonRejection::MissingJsonContentType(_)) => None,
                Err(e) => return Err(ApiError::bad_request(e.body_text())),
            };
            Ok(deploy::rollback(&state.registry, state.gate(), &name, to, actor).await?)
        },
    )
    .await
}

/// Query of `GET /v1/deployments/{name}/shadow`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShadowParams {
    /// Samples to return, newest first (50 by default, at most 1,000).
    #[serde(default = "fifty")]
    #[param(minimum = 1, maximum = 1000)]
    limit: i64,
}

fn fifty() -> i64 {
    50
}

#[utoipa::path(get, path = "/v1/deployments/{name}/shadow", tag = "deployments",
    params(("name" = String, Path, description = "The deployment"), ShadowParams),
    responses((status = 200, description = "The shadows' counters on this server and the sampled disagreements", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/deployments/{name}/shadow`: how the shadows compare with the answers given.
pub async fn shadow(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(p): Query<ShadowParams>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    if !(1..=1000).contains(&p.limit) {
        return Err(ApiError::bad_request(format!(
            "limit: {} is not between 1 and 1000",
            p.limit
        )));
    }
    let d = state.registry.deployment(&name).await?;
    let live = state.deployments.get(&d)?;
    let samples: Vec<Value> = state
        .registry
        .shadow_samples(&name, p.limit)
        .await?
        .iter()
        .map(sample_json)
        .collect();
    Ok(Json(json!({"counters": live.shadow_status(), "samples": samples})).into_response())
}

#[utoipa::path(get, path = "/v1/deployments/{name}/targets", tag = "deployments",
    params(("name" = String, Path, description = "The deployment")),
    responses((status = 200, description = "What each deployer plugin last reported: the version live on its target and what a rollback returns to", body = Vec<Object>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/deployments/{name}/targets`.
pub async fn targets(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let all: Vec<Value> = state
        .registry
        .deployment_targets(&name)
        .await?
        .iter()
        .map(target_json)
        .collect();
    Ok(Json(all).into_response())
}

/// Body of `PUT /v1/deployments/{name}/targets/{target}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetBody {
    /// The deployer's report.
    #[schema(value_type = Object)]
    status: Value,
}

#[utoipa::path(put, path = "/v1/deployments/{name}/targets/{target}", tag = "deployments",
    params(("name" = String, Path, description = "The deployment"), ("target" = String, Path, description = "The deployer plugin")), request_body = TargetBody,
    responses((status = 200, description = "Recorded", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `PUT /v1/deployments/{name}/targets/{target}`: records what a deployer plugin run by
/// `ferry deploy target` reported (deployer).
pub async fn record_target(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, target)): Path<(String, String)>,
    body: Result<Json<TargetBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (id, result) = super::audit::audited(
        &state,
        &headers,
        Role::Deployer,
        "deployment.target",
        &format!("deployment:{name}"),
        async |who| {
            let b = json_body(body)?;
            if !b.status.is_object() {
                return Err(ApiError::bad_request("status: expected a JSON object"));
            }
            let t = state
                .registry
                .record_deployment_target(&name, &target, &b.status.to_string(), &who.actor())
                .await?;
            let detail = format!("{target}: {}", b.status["action"].as_str().unwrap_or("?"));
            Ok::<_, ApiError>((target_json(&t), detail))
        },
    )
    .await;
    let response = match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    with_request_id(response, &id)
}

#[utoipa::path(post, path = "/v1/deployments/{name}/predict", tag = "deployments",
    params(("name" = String, Path, description = "The deployment"), ("features" = Option<bool>, Query, description = "Accepted for symmetry with the model endpoint; a deployment's answer holds predictions only")),
    request_body(content = Object, description = "As for the model endpoint: `rows` (or `dataframe_records`, `instances`), or `columns` (or `inputs`)"),
    responses((status = 200, description = "The predictions, the version that answered and why (`primary`, `canary`, `fallback` or `default`), and a request id", body = Object), (status = "4XX", description = "Refused; the body says why (413: over --max-body-mib or --max-rows)", body = ErrorBody), (status = 500, description = "Neither a target, the fallback nor a default could answer", body = ErrorBody), (status = 503, description = "Too many requests in flight for this deployment (--max-in-flight); retry after `Retry-After` seconds", body = ErrorBody)))]
/// `POST /v1/deployments/{name}/predict`.
pub async fn predict(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(_params): Query<PredictParams>,
    body: axum::body::Body,
) -> Response {
    let id = request_id();
    let span = tracing::info_span!("predict", request_id = %id, deployment = %name);
    let started = std::time::Instant::now();
    let mut answered: Option<(String, i64, bool)> = None;
    let response = async {
        may_read(&state, &caller(&state, &headers).await?)?;
        check_declared(&headers, &state.limits)?;
        let _slot = state
            .in_flight
            .enter(&format!("deployment {name:?}"), state.limits.max_in_flight)?;
        let rows = read_rows(body, &state.limits).await?;
        let header = |h: &str| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let routed = state.routing().route(&name, rows, header, &id).await?;
        Ok::<Response, ApiError>(match routed {
            Routed::Answered(v) => {
                let reason = v["reason"].as_str().unwrap_or_default();
                answered = Some((
                    v["model"].as_str().unwrap_or_default().to_string(),
                    v["version"].as_i64().unwrap_or_default(),
                    matches!(reason, "fallback" | "default"),
                ));
                Json(v).into_response()
            }
            Routed::Refused(r, by) => {
                answered = Some((by.0, by.1, false));
                refused(r)
            }
        })
    }
    .instrument(span.clone())
    .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let fallback = answered.as_ref().is_some_and(|a| a.2);
    span.in_scope(|| {
        record(
            &name,
            answered.as_ref().map(|(m, v, _)| (m.as_str(), *v)),
            outcome(&response, fallback),
            started,
        );
    });
    with_request_id(response, &id)
}
