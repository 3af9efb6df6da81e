//! `/v1/deployments`: named deployments (deployer role, every change audited) and prediction
//! through them. A request goes to one target (by weight, sticky by a key when the deployment
//! names one); when that target fails, times out or has an open circuit, the fallback
//! answers, then the configured default. A request-side error (400, 422) is the request's,
//! not the target's: it is answered as the model endpoint answers it. Shadows get a copy of
//! each request off the request path.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_registry::{DeploymentRevision, Role, ShadowSample, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;

use super::admission::{check_declared, read_rows};
use super::audit::with_request_id;
use super::auth::{caller, may_read};
use super::error::ErrorBody;
use super::metrics::{observe_predictions, outcome, record};
use super::models::PredictParams;
use super::predict::{Attempt, attempt, render};
use super::{AppState, error::ApiError, request_id};
use crate::deploy::live::label;
use crate::deploy::{
    self, DeploymentSpec, Live, Reason, SpecError, deployment_json, revision_json, sample_json,
    target_json,
};
use crate::monitor::predlog::Entry;
use ferry_core::data::RequestRows;
use ferry_registry::deployment_spec::{Resolved, Sticky};

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
            Ok(deploy::create(&state.registry, &b.name, b.spec, actor).await?)
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
            Ok(deploy::update(&state.registry, &name, b.spec, actor, b.expected_revision).await?)
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
            Ok(deploy::rollback(&state.registry, &name, to, actor).await?)
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

/// What one version did with a request.
enum Outcome {
    Answered(Value),
    Refused(Response),
    Failed(String),
}

/// Has version `r` of `model` predict the request, within `timeout`. Loading the version is
/// not counted against the timeout (it happens once per server). The prediction runs on the
/// plugin threads, so the timeout fires on time however busy they are, and a prediction past
/// it is stopped within an epoch tick rather than left to finish.
async fn try_version(
    state: &AppState,
    model: &str,
    r: Resolved,
    rows: &Arc<RequestRows>,
    timeout: Duration,
    (deployment, revision, id): (&str, i64, &str),
) -> Outcome {
    let pipeline = match state
        .served
        .get(
            &state.runtime,
            &state.registry,
            model,
            (r.number, r.created_at),
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(format!("cannot serve: {e}")),
    };
    let rows = rows.clone();
    let (model_name, number) = (model.to_string(), r.number);
    let log = state
        .predictions
        .clone()
        .filter(|l| l.sampled())
        .map(|l| (l, deployment.to_string(), id.to_string()));
    let task = state.runtime.compute().run(async move {
        match attempt(&pipeline, &rows).await {
            Attempt::Answered(p, inputs) => {
                observe_predictions(&model_name, number, &p.outputs);
                if let Some((log, deployment, request_id)) = log {
                    log.record(Entry {
                        model: model_name.clone(),
                        version: number,
                        deployment,
                        revision: Some(revision),
                        request_id,
                        at_ms: now_ms(),
                        inputs,
                        outputs: p.outputs.clone(),
                    });
                }
                Outcome::Answered(render(&p.outputs, rows.as_rows()))
            }
            Attempt::Refused(r) => Outcome::Refused(r),
            Attempt::Failed(e) => Outcome::Failed(e),
        }
    });
    let started = std::time::Instant::now();
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => Outcome::Failed(format!("the prediction stopped: {e}")),
        Err(_) => Outcome::Failed(format!(
            "no answer within the deployment's timeout of {} ms (given up after {} ms)",
            timeout.as_millis(),
            started.elapsed().as_millis()
        )),
    }
}

/// The default answer for every row, shaped as the request.
fn default_answer(default: &Value, rows: &RequestRows) -> Value {
    let n = rows.rows();
    if rows.as_rows() {
        Value::Array(vec![default.clone(); n])
    } else {
        let columns: serde_json::Map<String, Value> = default
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone(); n])))
                    .collect()
            })
            .unwrap_or_default();
        Value::Object(columns)
    }
}

/// Mirrors a request to the deployment's shadows, off the request path.
fn mirror(
    state: &AppState,
    live: &Arc<Live>,
    rows: &Arc<RequestRows>,
    answered: &str,
    answer: &Value,
    id: &str,
) {
    for (i, (model, r, counters)) in live.shadows.iter().enumerate() {
        let Ok(permit) = live.shadow_slots.clone().try_acquire_owned() else {
            counters.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (state, live, rows, answer) =
            (state.clone(), live.clone(), rows.clone(), answer.clone());
        let (model, r, answered, id) = (model.clone(), *r, answered.to_string(), id.to_string());
        tokio::spawn(async move {
            let _permit = permit;
            let timeout = Duration::from_millis(live.spec.timeout_ms);
            let counters = &live.shadows[i].2;
            counters.mirrored.fetch_add(1, Ordering::Relaxed);
            let shadow_answer = match try_version(
                &state,
                &model,
                r,
                &rows,
                timeout,
                (&live.name, live.revision, &id),
            )
            .await
            {
                Outcome::Answered(v) if v == answer => {
                    counters.agreed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Outcome::Answered(v) => {
                    counters.disagreed.fetch_add(1, Ordering::Relaxed);
                    v
                }
                Outcome::Refused(_) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    json!({"error": "the shadow refused the request"})
                }
                Outcome::Failed(e) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    json!({"error": e})
                }
            };
            let rate = live.spec.shadow_sample_rate;
            let draw = getrandom::u64().unwrap_or_default() as f64 / u64::MAX as f64;
            if rate <= 0.0 || draw > rate {
                return;
            }
            let sample = ShadowSample {
                name: live.name.clone(),
                revision: live.revision,
                request_id: id,
                answered,
                shadow: label(&model, r),
                answer: answer.to_string(),
                shadow_answer: shadow_answer.to_string(),
                created_at: now_ms(),
            };
            if let Err(e) = state.registry.add_shadow_sample(&sample).await {
                tracing::warn!(deployment = %live.name, error = %e, "could not log a shadow disagreement");
            }
        });
    }
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
        Ok::<Response, ApiError>(match route(&state, &name, rows, header, &id).await? {
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
                r
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

/// How a deployment handled one request.
pub(crate) enum Routed {
    /// The answer: the deployment, revision, version and reason, and the predictions.
    Answered(Value),
    /// The request was wrong (a 4xx answered as the model endpoint answers it), as the model
    /// and version that judged it found.
    Refused(Response, (String, i64)),
}

/// Routes one request (a predict body's rows) through deployment `name`: a target chosen by weight
/// (sticky by the key `header` or the first row gives), then the fallback, then the default;
/// the answer is mirrored to the shadows. Shared by HTTP and streaming.
pub(crate) async fn route(
    state: &AppState,
    name: &str,
    rows: RequestRows,
    header: impl Fn(&str) -> Option<String>,
    id: &str,
) -> Result<Routed, ApiError> {
    let live = state.deployments.current(&state.registry, name).await?;
    let key = match &live.spec.sticky {
        Some(Sticky::Header(h)) => header(h.as_str()),
        Some(Sticky::Field(f)) => rows.first(f),
        None => None,
    };
    let (i, reason) = live.choose(key.as_deref());
    let count = rows.rows();
    let rows = Arc::new(rows);
    let timeout = Duration::from_millis(live.spec.timeout_ms);
    let mut failed = Vec::new();

    let (model, r, breaker) = &live.targets[i];
    let mut answer = None;
    match breaker.admit() {
        None => failed.push(json!({"target": label(model, *r), "error": "its circuit is open"})),
        Some(ticket) => {
            match try_version(state, model, *r, &rows, timeout, (name, live.revision, id)).await {
                Outcome::Answered(v) => {
                    ticket.success();
                    answer = Some((Some((model.clone(), *r)), reason, v));
                }
                Outcome::Refused(response) => {
                    ticket.success();
                    return Ok(Routed::Refused(response, (model.clone(), r.number)));
                }
                Outcome::Failed(e) => {
                    ticket.failure();
                    tracing::warn!(deployment = %name, target = %label(model, *r), error = %e, "a deployment target failed");
                    failed.push(json!({"target": label(model, *r), "error": e}));
                }
            }
        }
    }
    if answer.is_none()
        && let Some((model, r)) = live.spec.fallback.as_ref().and_then(|f| f.key())
    {
        match try_version(state, &model, r, &rows, timeout, (name, live.revision, id)).await {
            Outcome::Answered(v) => answer = Some((Some((model, r)), Reason::Fallback, v)),
            Outcome::Refused(response) => {
                return Ok(Routed::Refused(response, (model, r.number)));
            }
            Outcome::Failed(e) => {
                tracing::warn!(deployment = %name, fallback = %label(&model, r), error = %e, "a deployment's fallback failed");
                failed.push(json!({"target": label(&model, r), "error": e}));
            }
        }
    }
    if answer.is_none()
        && let Some(default) = &live.spec.default
    {
        answer = Some((None, Reason::Default, default_answer(default, &rows)));
    }
    let Some((version, reason, predictions)) = answer else {
        let detail: Vec<String> = failed
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f["target"].as_str().unwrap_or("?"),
                    f["error"].as_str().unwrap_or("?")
                )
            })
            .collect();
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "prediction_failed",
            format!(
                "deployment {name:?} could not answer: {}",
                detail.join("; ")
            ),
        ));
    };
    let answered = version
        .as_ref()
        .map(|(m, r)| label(m, *r))
        .unwrap_or_else(|| "default".into());
    mirror(state, &live, &rows, &answered, &predictions, id);
    let mut out = json!({
        "deployment": name,
        "revision": live.revision,
        "model": version.as_ref().map(|(m, _)| m.clone()),
        "version": version.as_ref().map(|(_, r)| r.number),
        "reason": reason,
        "request_id": id,
        "rows": count,
        "predictions": predictions,
    });
    if !failed.is_empty() {
        out["failed"] = Value::Array(failed);
    }
    Ok(Routed::Answered(out))
}
