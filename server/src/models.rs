//! The model registry endpoints and online prediction.

use super::error::ErrorBody;
use ferry_registry::RegisteredModel;
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_registry::{ModelVersion, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;

use super::audit::with_request_id;
use super::auth::{Caller, caller, may_read};
use super::metrics::{outcome, record};
use super::{AppState, error::ApiError, request_id};
use ferry_core::attempt::{Attempt, attempt, render};
use ferry_core::lineage::Lineage;
use ferry_edge::http::refused;
use ferry_edge::http::{check_declared, read_rows};
use ferry_ops::monitor::metrics::METRICS;
use ferry_ops::monitor::predlog::Entry;
use ferry_pipeline::PipelineError;
use ferry_pipeline::card::model_card;
use ferry_pipeline::external::{ExternalModel, attach_pipeline};
use ferry_pipeline::register::register_version;

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Skew(m) => Self::new(StatusCode::CONFLICT, "lineage_mismatch", m),
            PipelineError::NoLineage(m) => Self::new(StatusCode::CONFLICT, "no_lineage", m),
            PipelineError::Untrusted(m) => Self::new(
                StatusCode::CONFLICT,
                "untrusted_plugin",
                format!("untrusted plugin {m}"),
            ),
            PipelineError::Registry(r) => r.into(),
            PipelineError::Spec(m) | PipelineError::Invalid(m) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m)
            }
            other => {
                tracing::error!(error = %other, "pipeline failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "pipeline_failed",
                    other.to_string(),
                )
            }
        }
    }
}

/// Runs a change that needs `role`, answers with its result, and audits it (refusals too).
async fn audited(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
    action: &str,
    object: &str,
    success: StatusCode,
    change: impl AsyncFnOnce(&Caller) -> Result<(Value, String), ApiError>,
) -> Response {
    let (id, result) = super::audit::audited(state, headers, role, action, object, change).await;
    let response = match result {
        Ok(v) => (success, Json(v)).into_response(),
        Err(e) => e.into_response(),
    };
    with_request_id(response, &id)
}

fn version_json(v: &ModelVersion) -> Value {
    let mut value = serde_json::to_value(v).unwrap_or_default();
    if let Some(l) = &v.lineage
        && let Ok(parsed) = serde_json::from_str::<Value>(l)
    {
        value["lineage"] = parsed;
    }
    value
}

fn version_number(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not a version number")))
}

/// Query of `GET /v1/models`.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
}

#[utoipa::path(get, path = "/v1/models", tag = "models",
    params(("q" = Option<String>, Query, description = "Part of the name")),
    responses((status = 200, description = "Registered models", body = Vec<RegisteredModel>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/models?q=`: registered models whose name contains `q`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(state.registry.registered_models(&p.q).await?).into_response())
}

/// Body of `POST /v1/models`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = models::CreateModel)]
pub struct CreateBody {
    /// Its name.
    #[schema(schema_with = super::schema::model_name)]
    name: String,
    /// What it is for.
    #[serde(default)]
    description: String,
    /// Its tags.
    #[serde(default)]
    #[schema(schema_with = super::schema::tag_map)]
    tags: HashMap<String, String>,
}

#[utoipa::path(post, path = "/v1/models", tag = "models", request_body = CreateBody,
    responses((status = 201, description = "Created", body = RegisteredModel), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `POST /v1/models`: creates a registered model (publisher).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let object = match &body {
        Ok(b) => format!("model:{}", b.name),
        Err(_) => "model:?".into(),
    };
    audited(
        &state,
        &headers,
        Role::Publisher,
        "model.create",
        &object,
        StatusCode::CREATED,
        async |_| {
            let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
            let mut tags: Vec<(String, String)> = b.tags.into_iter().collect();
            tags.sort();
            let m = state
                .registry
                .create_registered_model(&b.name, &b.description, &tags)
                .await?;
            Ok((serde_json::to_value(m).unwrap_or_default(), String::new()))
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/models/{name}", tag = "models",
    params(("name" = String, Path, description = "The registered model")),
    responses((status = 200, description = "The model and its versions", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/models/{name}`: a model with its versions.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let m = state.registry.registered_model(&name).await?;
    let versions: Vec<Value> = state
        .registry
        .model_versions(&name)
        .await?
        .iter()
        .map(version_json)
        .collect();
    let mut v = serde_json::to_value(m).unwrap_or_default();
    v["versions"] = Value::Array(versions);
    Ok(Json(v).into_response())
}

/// Body of `PATCH /v1/models/{name}` and `PATCH /v1/models/{name}/versions/{version}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    /// The new description.
    description: Option<String>,
    /// Tags to set.
    #[serde(default)]
    #[schema(schema_with = super::schema::tag_map)]
    tags: HashMap<String, String>,
}

#[utoipa::path(patch, path = "/v1/models/{name}", tag = "models",
    params(("name" = String, Path, description = "The registered model")), request_body = PatchBody,
    responses((status = 200, description = "The model", body = RegisteredModel), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `PATCH /v1/models/{name}`: description and tags (publisher).
pub async fn patch_model(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<PatchBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    audited(
        &state,
        &headers,
        Role::Publisher,
        "model.update",
        &format!("model:{name}"),
        StatusCode::OK,
        async |_| {
            let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
            if let Some(d) = &b.description {
                state.registry.set_model_description(&name, d).await?;
            }
            for (k, v) in &b.tags {
                state.registry.set_model_tag(&name, k, v).await?;
            }
            let m = state.registry.registered_model(&name).await?;
            Ok((serde_json::to_value(m).unwrap_or_default(), String::new()))
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/models/{name}/versions", tag = "models",
    params(("name" = String, Path, description = "The registered model")),
    responses((status = 200, description = "Every version, oldest first", body = Vec<Object>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/models/{name}/versions`.
pub async fn versions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    state.registry.registered_model(&name).await?;
    let versions: Vec<Value> = state
        .registry
        .model_versions(&name)
        .await?
        .iter()
        .map(version_json)
        .collect();
    Ok(Json(versions).into_response())
}

/// Body of `POST /v1/models/{name}/versions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    #[schema(value_type = Object)]
    lineage: Value,
    #[serde(default)]
    description: String,
    /// The registered model's description, when this creates it.
    #[serde(default)]
    model_description: String,
}

#[utoipa::path(post, path = "/v1/models/{name}/versions", tag = "models",
    params(("name" = String, Path, description = "The registered model")), request_body = RegisterBody,
    responses((status = 201, description = "Registered after every pin was checked", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `POST /v1/models/{name}/versions`: registers a version from a lineage, after checking every
/// digest it pins (publisher). A lineage that does not match what is stored gets a 409.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<RegisterBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    audited(
        &state,
        &headers,
        Role::Publisher,
        "model.register",
        &format!("model:{name}"),
        StatusCode::CREATED,
        async |who| {
            let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
            let lineage = Lineage::parse(&b.lineage.to_string()).map_err(|m| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_lineage", m)
            })?;
            let mv = register_version(
                &state.registry,
                &name,
                &b.model_description,
                &lineage,
                &who.actor(),
                &b.description,
            )
            .await?;
            let detail = format!("version {}", mv.version);
            Ok((version_json(&mv), detail))
        },
    )
    .await
}

/// Body of `PUT /v1/models/{name}/versions/{version}/pipeline`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachBody {
    run: String,
    plugin: String,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::schema::object_or_text)]
    load_config: Option<Value>,
}

#[utoipa::path(put, path = "/v1/models/{name}/versions/{reference}/pipeline", tag = "models",
    params(NumberPath), request_body = AttachBody,
    responses((status = 200, description = "The version, now with a lineage", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `PUT /v1/models/{name}/versions/{version}/pipeline`: gives a version the MLflow client
/// registered a Ferry pipeline (a run's features, then its model file through an adapter), so
/// that it can be served (publisher). A version keeps the first lineage it gets.
pub async fn attach(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(NumberPath {
        name,
        reference: version,
    }): Path<NumberPath>,
    body: Result<Json<AttachBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    audited(
        &state,
        &headers,
        Role::Publisher,
        "model.attach",
        &format!("model:{name}/{version}"),
        StatusCode::OK,
        async |_| {
            let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
            let number = version_number(&version)?;
            let load_config = match b.load_config {
                None | Some(Value::Null) => "{}".to_string(),
                Some(Value::String(s)) => s,
                Some(v @ Value::Object(_)) => v.to_string(),
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "load_config: expected a JSON object or a string".to_string(),
                    ));
                }
            };
            let model = ExternalModel {
                run: b.run.clone(),
                plugin: b.plugin,
                features: b.features,
                load_config,
            };
            let mv = attach_pipeline(
                &state.runtime,
                &state.registry,
                &name,
                number,
                &model,
                b.file.as_deref(),
                state.served.options(),
            )
            .await?;
            Ok((version_json(&mv), format!("run {}", b.run)))
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/models/{name}/versions/{reference}", tag = "models",
    params(("name" = String, Path, description = "The registered model"), ("reference" = String, Path, description = "A version number, an alias, a stage or `latest`")),
    responses((status = 200, description = "The version, with its lineage", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/models/{name}/versions/{reference}`: a version by number, alias, stage or `latest`.
pub async fn version(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, reference)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    Ok(Json(version_json(
        &state
            .registry
            .resolve_model_version(&name, &reference)
            .await?,
    ))
    .into_response())
}

#[utoipa::path(patch, path = "/v1/models/{name}/versions/{reference}", tag = "models",
    params(NumberPath), request_body = PatchBody,
    responses((status = 200, description = "The version", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `PATCH /v1/models/{name}/versions/{version}`: description and tags (publisher).
pub async fn patch_version(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(NumberPath {
        name,
        reference: version,
    }): Path<NumberPath>,
    body: Result<Json<PatchBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    audited(
        &state,
        &headers,
        Role::Publisher,
        "model.version.update",
        &format!("model:{name}/{version}"),
        StatusCode::OK,
        async |_| {
            let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
            let v = version_number(&version)?;
            if let Some(d) = &b.description {
                state.registry.set_version_description(&name, v, d).await?;
            }
            for (k, val) in &b.tags {
                state.registry.set_version_tag(&name, v, k, val).await?;
            }
            Ok((
                version_json(&state.registry.model_version(&name, v).await?),
                String::new(),
            ))
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/models/{name}/versions/{reference}/card", tag = "models",
    params(("name" = String, Path, description = "The registered model"), ("reference" = String, Path, description = "A version number, an alias, a stage or `latest`")),
    responses((status = 200, description = "The model card", content_type = "text/markdown", body = String), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/models/{name}/versions/{reference}/card`: the model card (Markdown).
pub async fn card(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, reference)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let v = state
        .registry
        .resolve_model_version(&name, &reference)
        .await?;
    let lineage = v.lineage.as_deref().and_then(|l| Lineage::parse(l).ok());
    let m = state.registry.registered_model(&name).await?;
    let text = model_card(&m, &v, lineage.as_ref());
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        text,
    )
        .into_response())
}

/// Body of `POST /v1/models/{name}/versions/{version}/stage`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageBody {
    /// The new stage.
    #[schema(schema_with = super::schema::stage)]
    stage: String,
    /// Whether the versions in that stage move to Archived.
    #[serde(default)]
    archive_existing: bool,
}

/// A registered model and a version number, in the URL.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NumberPath {
    /// The registered model.
    name: String,
    /// A version number.
    #[param(schema_with = super::schema::version_text)]
    reference: String,
}

/// A registered model and an alias to set, in the URL.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AliasPath {
    /// The registered model.
    name: String,
    /// The alias.
    #[param(schema_with = super::schema::alias)]
    alias: String,
}

#[utoipa::path(post, path = "/v1/models/{name}/versions/{reference}/stage", tag = "models",
    params(NumberPath), request_body = StageBody,
    responses((status = 200, description = "The version", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `POST /v1/models/{name}/versions/{version}/stage` (deployer).
pub async fn stage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(NumberPath {
        name,
        reference: version,
    }): Path<NumberPath>,
    body: Result<Json<StageBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    audited(
        &state,
        &headers,
        Role::Deployer,
        "model.stage",
        &format!("model:{name}/{version}"),
        StatusCode::OK,
        async |_| {
            let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
            let v = state
                .registry
                .transition_model_stage(
                    &name,
                    version_number(&version)?,
                    &b.stage,
                    b.archive_existing,
                )
                .await?;
            let detail = v.stage.clone();
            Ok((version_json(&v), detail))
        },
    )
    .await
}

/// Body of `PUT /v1/models/{name}/aliases/{alias}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasBody {
    /// The version it points to.
    #[schema(schema_with = super::schema::number)]
    #[serde(deserialize_with = "super::schema::integer")]
    version: i64,
}

#[utoipa::path(put, path = "/v1/models/{name}/aliases/{alias}", tag = "models",
    params(AliasPath), request_body = AliasBody,
    responses((status = 200, description = "The alias now", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `PUT /v1/models/{name}/aliases/{alias}` (deployer).
pub async fn set_alias(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(AliasPath { name, alias }): Path<AliasPath>,
    body: Result<Json<AliasBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    audited(
        &state,
        &headers,
        Role::Deployer,
        "model.alias.set",
        &format!("model:{name}@{alias}"),
        StatusCode::OK,
        async |_| {
            let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
            state
                .registry
                .set_model_alias(&name, &alias, b.version)
                .await?;
            Ok((
                json!({"name": name, "alias": alias, "version": b.version}),
                format!("version {}", b.version),
            ))
        },
    )
    .await
}

#[utoipa::path(delete, path = "/v1/models/{name}/aliases/{alias}", tag = "models",
    params(("name" = String, Path, description = "The registered model"), ("alias" = String, Path, description = "The alias")),
    responses((status = 200, description = "Removed", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `DELETE /v1/models/{name}/aliases/{alias}` (deployer).
pub async fn delete_alias(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, alias)): Path<(String, String)>,
) -> Response {
    audited(
        &state,
        &headers,
        Role::Deployer,
        "model.alias.delete",
        &format!("model:{name}@{alias}"),
        StatusCode::OK,
        async |_| {
            state.registry.delete_model_alias(&name, &alias).await?;
            Ok((
                json!({"name": name, "alias": alias, "deleted": true}),
                String::new(),
            ))
        },
    )
    .await
}

/// Query of the predict endpoints.
#[derive(Debug, Deserialize)]
pub struct PredictParams {
    /// Add the model's input features to the answer.
    #[serde(default)]
    pub features: bool,
}

#[utoipa::path(post, path = "/v1/models/{name}/{reference}/predict", tag = "models",
    params(("name" = String, Path, description = "The registered model"), ("reference" = String, Path, description = "A version number, an alias, a stage or `latest`"), ("features" = Option<bool>, Query, description = "Add the model's input features to the answer")),
    request_body(content = Object, description = "`rows` (or `dataframe_records`, `instances`): an array of objects; or `columns` (or `inputs`): an object of arrays"),
    responses((status = 200, description = "The predictions, the version that answered and a request id", body = Object), (status = "4XX", description = "Refused; the body says why (413: over --max-body-mib or --max-rows)", body = ErrorBody), (status = 503, description = "Too many requests in flight for this model (--max-in-flight); retry after `Retry-After` seconds", body = ErrorBody)))]
/// `POST /v1/models/{name}/{reference}/predict`: rows (`{"rows": [{...}]}`, also
/// `dataframe_records` or `instances`) or columns (`{"columns": {"col": [...]}}`, also
/// `inputs`), answered with the predictions, the version that answered and a request id.
pub async fn predict(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, reference)): Path<(String, String)>,
    Query(params): Query<PredictParams>,
    body: axum::body::Body,
) -> Response {
    let id = request_id();
    let span = tracing::info_span!("predict", request_id = %id, model = %name);
    let started = std::time::Instant::now();
    let mut answered = None;
    let response = async {
        may_read(&state, &caller(&state, &headers).await?)?;
        check_declared(&headers, &state.limits)?;
        let _slot = state
            .in_flight
            .enter(&format!("model {name:?}"), state.limits.max_in_flight)?;
        let rows = read_rows(body, &state.limits).await?;
        let key = state
            .served
            .resolve(&state.registry, &name, &reference)
            .await?;
        let number = key.0;
        answered = Some(number);
        let pipeline = state
            .served
            .get(&state.runtime, &state.registry, &name, key)
            .await?;
        let rows = std::sync::Arc::new(rows);
        let asked = rows.clone();
        let outcome = state
            .runtime
            .compute()
            .run(async move { attempt(&pipeline, &asked).await })
            .await
            .unwrap_or_else(|e| Attempt::Failed(e.to_string()));
        let prediction = match outcome {
            Attempt::Answered(p, inputs) => {
                if let Some(log) = state.predictions.as_ref().filter(|l| l.sampled()) {
                    log.record(Entry {
                        model: name.clone(),
                        version: number,
                        deployment: String::new(),
                        revision: None,
                        request_id: id.clone(),
                        at_ms: ferry_registry::now_ms(),
                        inputs,
                        outputs: p.outputs.clone(),
                    });
                }
                p
            }
            Attempt::Refused(r) => return Ok(refused(r)),
            Attempt::Failed(e) => {
                tracing::error!(model = %name, error = %e, "prediction failed");
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "prediction_failed",
                    e,
                ));
            }
        };
        METRICS.observe_predictions(&name, number, &prediction.outputs);
        let as_rows = rows.as_rows();
        let mut out = json!({
            "model": name,
            "version": number,
            "request_id": id,
            "predictions": render(&prediction.outputs, as_rows),
        });
        if params.features {
            out["features"] = render(&prediction.features, as_rows);
        }
        Ok::<Response, ApiError>(Json(out).into_response())
    }
    .instrument(span.clone())
    .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    span.in_scope(|| {
        record(
            "",
            answered.map(|v| (name.as_str(), v)),
            outcome(&response, false),
            started,
        );
    });
    with_request_id(response, &id)
}
