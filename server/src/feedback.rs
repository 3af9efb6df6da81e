//! Labels that arrive after the prediction (`POST .../feedback`), and the live metrics they
//! give once joined with the prediction log (`GET .../live-metrics`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_registry::{Feedback, Role, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit::{Refusal, audited, with_request_id};
use super::auth::{caller, may_read};
use super::error::ErrorBody;
use super::{AppState, error::ApiError};
use ferry_core::lineage::Lineage;
use ferry_ops::monitor::live::{live_metrics, task_of};
use ferry_ops::monitor::metrics::{METRICS, ModelLabels};
use ferry_runtime::bindings::types::Task;

/// The most labels one request may carry.
pub const MAX_LABELS: usize = 10_000;

/// Body of the feedback endpoints.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    /// Each label: `{"request_id": "...", "row": 0, "label": ...}` or
    /// `{"key": {"customer_id": "C00001"}, "label": ...}`; up to 10,000. Each malformed one is
    /// named, with what is wrong with it, in one 422.
    #[schema(value_type = Vec<Value>)]
    labels: Vec<Value>,
}

#[utoipa::path(post, path = "/v1/models/{name}/versions/{reference}/feedback", tag = "models",
    params(("name" = String, Path, description = "The registered model"), ("reference" = String, Path, description = "A version number, an alias, a stage or `latest`")),
    request_body = FeedbackBody,
    responses((status = 202, description = "Stored; joined with the prediction log when live metrics are computed", body = Object), (status = "4XX", description = "Refused; the body says why, label by label", body = ErrorBody)), security(("token" = [])))]
/// `POST /v1/models/{name}/versions/{reference}/feedback`: labels for that version's
/// predictions (publisher).
pub async fn for_version(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, reference)): Path<(String, String)>,
    body: Result<Json<FeedbackBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let object = format!("model:{name}/{reference}");
    let (id, result) = audited(
        &state,
        &headers,
        Role::Publisher,
        "feedback.add",
        &object,
        async |_| {
            let v = state
                .registry
                .resolve_model_version(&name, &reference)
                .await?;
            let task = task_from(v.lineage.as_deref());
            store(&state, body, &name, v.version, "", task).await
        },
    )
    .await;
    with_request_id(result.unwrap_or_else(|r| r.response), &id)
}

#[utoipa::path(post, path = "/v1/deployments/{name}/feedback", tag = "deployments",
    params(("name" = String, Path, description = "The deployment")),
    request_body = FeedbackBody,
    responses((status = 202, description = "Stored; joined with whichever version answered", body = Object), (status = "4XX", description = "Refused; the body says why, label by label", body = ErrorBody)), security(("token" = [])))]
/// `POST /v1/deployments/{name}/feedback`: labels for the predictions a deployment answered,
/// whichever version answered them (publisher).
pub async fn for_deployment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<FeedbackBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (id, result) = audited(
        &state,
        &headers,
        Role::Publisher,
        "feedback.add",
        &format!("deployment:{name}"),
        async |_| {
            let live = state
                .deployments
                .current(&state.registry, &name)
                .await
                .map_err(ApiError::from)?;
            let Some((model, r, _)) = live.targets.first() else {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "no_target",
                    format!("deployment {name:?} has no target"),
                )
                .into());
            };
            let v = state.registry.model_version(model, r.number).await?;
            let task = task_from(v.lineage.as_deref());
            store(&state, body, model, -1, &name, task).await
        },
    )
    .await;
    with_request_id(result.unwrap_or_else(|r| r.response), &id)
}

/// A refused feedback request: its answer, and what the audit log says of it.
struct Refused {
    response: Response,
    message: String,
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Self {
            message: e.message.clone(),
            response: e.into_response(),
        }
    }
}

impl From<ferry_registry::RegistryError> for Refused {
    fn from(e: ferry_registry::RegistryError) -> Self {
        ApiError::from(e).into()
    }
}

impl Refusal for Refused {
    fn message(&self) -> &str {
        &self.message
    }
}

fn task_from(lineage: Option<&str>) -> Option<Task> {
    lineage
        .and_then(|l| Lineage::parse(l).ok())
        .and_then(|l| l.model)
        .and_then(|m| task_of(&m.task))
}

async fn store(
    state: &AppState,
    body: Result<Json<FeedbackBody>, axum::extract::rejection::JsonRejection>,
    model: &str,
    version: i64,
    deployment: &str,
    task: Option<Task>,
) -> Result<(Response, String), Refused> {
    let invalid =
        |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_feedback", m);
    let Json(body) =
        body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text()))?;
    if body.labels.is_empty() || body.labels.len() > MAX_LABELS {
        return Err(invalid(format!(
            "`labels` must hold from 1 to {MAX_LABELS} labels, not {}",
            body.labels.len()
        ))
        .into());
    }
    let now = now_ms();
    let mut problems = Vec::new();
    let mut rows = Vec::with_capacity(body.labels.len());
    for (i, item) in body.labels.iter().enumerate() {
        match parse_label(item, task) {
            Ok((request_id, row_index, key_column, key_value, label)) => rows.push(Feedback {
                id: super::request_id(),
                model: model.to_string(),
                version,
                deployment: deployment.to_string(),
                request_id,
                row_index,
                key_column,
                key_value,
                label,
                received_at: now,
            }),
            Err(p) => problems.push(json!({"label": i, "problem": p})),
        }
    }
    if !problems.is_empty() {
        let message = problems
            .iter()
            .take(10)
            .map(|p| {
                format!(
                    "labels[{}]: {}",
                    p["label"],
                    p["problem"].as_str().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let response = (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": {"code": "invalid_feedback", "message": message, "labels": problems}})),
        )
            .into_response();
        return Err(Refused { response, message });
    }
    state.registry.add_feedback(&rows).await?;
    METRICS
        .feedback_received
        .get_or_create(&ModelLabels {
            model: model.to_string(),
            version: if version < 0 {
                String::new()
            } else {
                version.to_string()
            },
        })
        .inc_by(rows.len() as u64);
    state.live.notify_one();
    let response = (
        StatusCode::ACCEPTED,
        Json(json!({"accepted": rows.len(), "model": model, "version": (version >= 0).then_some(version), "deployment": (!deployment.is_empty()).then_some(deployment)})),
    )
        .into_response();
    Ok((response, format!("{} labels", rows.len())))
}

type Parsed = (String, i64, String, String, String);

/// One label: by request id (and row) or by a single business key, with a scalar label of the
/// task's kind.
fn parse_label(item: &Value, task: Option<Task>) -> Result<Parsed, String> {
    let o = item.as_object().ok_or("expected an object")?;
    for k in o.keys() {
        if !matches!(k.as_str(), "request_id" | "row" | "key" | "label") {
            return Err(format!(
                "unknown field `{k}`; a label has request_id and row, or key, and label"
            ));
        }
    }
    let label = o.get("label").ok_or("no `label`")?;
    match (label, task) {
        (Value::Null, _) => return Err("`label` is null".into()),
        (Value::Array(_) | Value::Object(_), _) => {
            return Err("`label` must be a string, a number or a boolean".into());
        }
        (v, Some(Task::Regression)) if !v.is_number() => {
            return Err(format!(
                "`label` must be a number for a regression model, not {v}"
            ));
        }
        _ => {}
    }
    let text = label.to_string();
    match (o.get("request_id"), o.get("key")) {
        (Some(id), None) => {
            let id = id
                .as_str()
                .filter(|s| !s.is_empty() && s.len() <= 200)
                .ok_or("`request_id` must be a non-empty string")?;
            let row = match o.get("row") {
                None => 0,
                Some(r) => r
                    .as_i64()
                    .filter(|&r| r >= 0)
                    .ok_or("`row` must be a whole number of at least 0")?,
            };
            Ok((id.to_string(), row, String::new(), String::new(), text))
        }
        (None, Some(key)) => {
            if o.contains_key("row") {
                return Err("`row` goes with `request_id`, not `key`".into());
            }
            let key = key.as_object().filter(|k| k.len() == 1).ok_or(
                "`key` must be an object with one column, like {\"customer_id\": \"C00001\"}",
            )?;
            let (column, value) = key.iter().next().ok_or("`key` is empty")?;
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => {
                    return Err(format!(
                        "key `{column}` must be a string, a number or a boolean"
                    ));
                }
            };
            Ok((String::new(), 0, column.clone(), value, text))
        }
        (Some(_), Some(_)) => Err("give `request_id` or `key`, not both".into()),
        (None, None) => Err("no `request_id` or `key` to join the label on".into()),
    }
}

/// Query of the live-metrics endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// Predictions answered within this many seconds (default 3600).
    #[param(minimum = 0, maximum = 1000000000000i64)]
    pub window_seconds: Option<u64>,
    /// Only the last N labelled predictions.
    #[param(minimum = 0, maximum = 1000000000i64)]
    pub last: Option<usize>,
}

#[utoipa::path(get, path = "/v1/models/{name}/versions/{reference}/live-metrics", tag = "models",
    params(("name" = String, Path, description = "The registered model"), ("reference" = String, Path, description = "A version number, an alias, a stage or `latest`"), LiveParams),
    responses((status = 200, description = "The live metrics, with the training metrics beside them", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/models/{name}/versions/{reference}/live-metrics`: labels joined with the prediction
/// log and scored, over a time window or the last N labelled predictions.
pub async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, reference)): Path<(String, String)>,
    Query(params): Query<LiveParams>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let v = state
        .registry
        .resolve_model_version(&name, &reference)
        .await?;
    let lineage = v.lineage.as_deref().and_then(|l| Lineage::parse(l).ok());
    let Some((task, training)) = lineage.as_ref().and_then(|l| {
        l.model
            .as_ref()
            .and_then(|m| task_of(&m.task))
            .map(|t| (t, l.metrics.clone()))
    }) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_lineage",
            format!(
                "{name} version {} has no Ferry lineage with a model",
                v.version
            ),
        ));
    };
    let window = params.window_seconds.unwrap_or(3600).clamp(1, 366 * 86_400);
    if params.last == Some(0) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "`last` must be at least 1",
        ));
    }
    let m = live_metrics(
        &state.registry,
        &name,
        v.version,
        task,
        training,
        window,
        params.last,
    )
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "live_metrics_failed", e))?;
    Ok(Json(m).into_response())
}
