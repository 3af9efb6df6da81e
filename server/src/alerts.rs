//! `/v1/alerts`: the alerts rules raised, and the rules managed through the API (deployer,
//! audited) beside the operator's rules file.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_registry::Role;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{caller, may_read};
use super::error::ErrorBody;
use super::{AppState, error::ApiError};
use ferry_ops::monitor::alerts::Rule;

/// Query of `GET /v1/alerts`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// At most this many, newest first (default 100, at most 10,000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", params(AlertParams),
    responses((status = 200, description = "Alerts, newest first, with their state and pending notification", body = Vec<ferry_registry::AlertRecord>), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/alerts`: the alerts, newest first.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<AlertParams>,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let limit = p.limit.unwrap_or(100).clamp(1, 10_000);
    Ok(Json(state.registry.alerts(limit).await?).into_response())
}

#[utoipa::path(get, path = "/v1/alerts/rules", tag = "alerts",
    responses((status = 200, description = "The rules of the server's file and those stored through the API, and the sinks they may name", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /v1/alerts/rules`: every rule, and the sinks.
pub async fn rules(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    let stored: Vec<Value> = state
        .registry
        .alert_rules()
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "name": s.name,
                "rule": serde_json::from_str::<Value>(&s.spec).unwrap_or(Value::Null),
                "actor": s.actor,
                "updated_at": s.updated_at,
            })
        })
        .collect();
    let (file, sinks): (Vec<Value>, Vec<Value>) = match &state.alerts {
        Some(f) => (
            f.rules
                .iter()
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .collect(),
            f.sinks
                .iter()
                .map(|s| json!({"name": s.name, "plugin": s.plugin}))
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Json(json!({"file": file, "api": stored, "sinks": sinks})).into_response())
}

#[utoipa::path(put, path = "/v1/alerts/rules/{name}", tag = "alerts",
    params(("name" = String, Path, description = "The rule")),
    request_body(content = Object, description = "The rule: `when`, `model` or `deployment`, `sinks`, and optionally `window_seconds`, `every_seconds`, `cooldown_seconds`, `severity` (as in the rules file; `retrain` only in the file)"),
    responses((status = 200, description = "Stored; evaluated from the next second", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `PUT /v1/alerts/rules/{name}`: creates or replaces a rule (deployer, audited).
pub async fn put_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let object = format!("alert-rule:{name}");
    let (id, result) = super::audit::audited(
        &state,
        &headers,
        Role::Deployer,
        "alert_rule.put",
        &object,
        async |who| {
            let Json(mut body) = body.map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
            })?;
            let invalid =
                |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rule", m);
            let Some(file) = &state.alerts else {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "no_sinks",
                    "this server has no alert sinks; start it with --alerts FILE naming [[sinks]]",
                ));
            };
            let o = body
                .as_object_mut()
                .ok_or_else(|| invalid("the rule must be a JSON object".into()))?;
            match o.get("name") {
                Some(Value::String(n)) if *n == name => {}
                Some(other) => {
                    return Err(invalid(format!(
                        "`name` {other} differs from the path's {name:?}"
                    )));
                }
                None => {
                    o.insert("name".into(), Value::String(name.clone()));
                }
            }
            if o.contains_key("retrain") {
                return Err(invalid(
                    "`retrain` names files on the server; put it in the operator's rules file"
                        .into(),
                ));
            }
            let rule: Rule =
                serde_json::from_value(body).map_err(|e| invalid(format!("rule {name:?}: {e}")))?;
            file.check_rule(&rule)
                .map_err(|e| invalid(format!("rule {name:?}{e}")))?;
            if file.rules.iter().any(|r| r.name == name) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "rule_in_file",
                    format!("rule {name:?} is in the server's rules file; change it there"),
                ));
            }
            let spec = serde_json::to_string(&rule).map_err(|e| invalid(e.to_string()))?;
            let stored = state
                .registry
                .put_alert_rule(&name, &spec, &who.actor())
                .await?;
            Ok((
                json!({"name": stored.name, "rule": rule, "updated_at": stored.updated_at}),
                format!("when {}", rule.when),
            ))
        },
    )
    .await;
    answer(&id, result)
}

#[utoipa::path(delete, path = "/v1/alerts/rules/{name}", tag = "alerts",
    params(("name" = String, Path, description = "The rule")),
    responses((status = 200, description = "Deleted", body = Object), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)), security(("token" = [])))]
/// `DELETE /v1/alerts/rules/{name}`: deletes a rule stored through the API (deployer, audited).
pub async fn delete_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let object = format!("alert-rule:{name}");
    let (id, result) = super::audit::audited(
        &state,
        &headers,
        Role::Deployer,
        "alert_rule.delete",
        &object,
        async |_| {
            state.registry.delete_alert_rule(&name).await?;
            Ok::<_, ApiError>((json!({"deleted": name}), String::new()))
        },
    )
    .await;
    answer(&id, result)
}

/// An audited change's answer, with its request id.
fn answer(id: &str, result: Result<Value, ApiError>) -> Response {
    let response = match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    super::audit::with_request_id(response, id)
}
