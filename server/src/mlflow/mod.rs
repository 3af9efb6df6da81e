//! The MLflow REST API (`/api/2.0/mlflow`, `/api/2.0/mlflow-artifacts`,
//! `/api/3.0/mlflow/server-info`) over Ferry's own experiments, runs, artifacts and model
//! registry, so the `mlflow` client works unchanged against `ferry serve`.

mod artifacts;
mod error;
mod registry;
mod tracking;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use ferry_registry::Role;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::audited;
use super::auth::{Caller, caller, may_read};
use super::schema;
pub use error::{MlflowError, not_found};

/// Largest artifact accepted in one upload (streamed to disk, never held in memory).
pub const MAX_ARTIFACT_BYTES: usize = 8 << 30;

/// The MLflow routes, each with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(tracking::experiment_by_name))
        .routes(routes!(tracking::experiment))
        .routes(routes!(tracking::create_experiment))
        .routes(routes!(
            tracking::search_experiments,
            tracking::search_experiments_post
        ))
        .routes(routes!(tracking::create_run))
        .routes(routes!(tracking::get_run))
        .routes(routes!(tracking::update_run))
        .routes(routes!(tracking::delete_run))
        .routes(routes!(tracking::restore_run))
        .routes(routes!(tracking::delete_experiment))
        .routes(routes!(tracking::restore_experiment))
        .routes(routes!(tracking::log_param))
        .routes(routes!(tracking::log_metric))
        .routes(routes!(tracking::set_tag))
        .routes(routes!(tracking::delete_tag))
        .routes(routes!(tracking::update_experiment))
        .routes(routes!(tracking::set_experiment_tag))
        .routes(routes!(tracking::delete_experiment_tag))
        .routes(routes!(tracking::log_batch))
        .routes(routes!(tracking::search_runs))
        .routes(routes!(tracking::log_outputs))
        .routes(routes!(tracking::log_inputs))
        .routes(routes!(tracking::metric_history))
        .routes(routes!(registry::create_logged_model))
        .routes(routes!(registry::search_logged_models))
        .routes(routes!(
            registry::get_logged_model,
            registry::finalize_logged_model,
            registry::delete_logged_model
        ))
        .routes(routes!(registry::set_logged_model_tags))
        .routes(routes!(registry::delete_logged_model_tag))
        .routes(routes!(registry::log_logged_model_params))
        .routes(routes!(registry::create_registered_model))
        .routes(routes!(registry::get_registered_model))
        .routes(routes!(registry::search_registered_models))
        .routes(routes!(
            registry::latest_versions_get,
            registry::latest_versions_post
        ))
        .routes(routes!(registry::rename_registered_model))
        .routes(routes!(registry::update_registered_model))
        .routes(routes!(registry::delete_registered_model))
        .routes(routes!(registry::set_model_tag))
        .routes(routes!(registry::delete_model_tag))
        .routes(routes!(
            registry::get_alias,
            registry::set_alias,
            registry::delete_alias
        ))
        .routes(routes!(registry::create_model_version))
        .routes(routes!(registry::get_model_version))
        .routes(routes!(registry::search_model_versions))
        .routes(routes!(registry::update_model_version))
        .routes(routes!(registry::delete_model_version))
        .routes(routes!(registry::set_version_tag))
        .routes(routes!(registry::delete_version_tag))
        .routes(routes!(registry::transition_stage))
        .routes(routes!(registry::download_uri))
        .routes(routes!(artifacts::list))
        .routes(routes!(artifacts::server_info));
    crate::wildcard(
        router,
        "/api/2.0/mlflow-artifacts/artifacts/{*path}",
        routes!(artifacts::download, artifacts::upload),
        |m| m.layer(DefaultBodyLimit::max(MAX_ARTIFACT_BYTES)),
    )
}

/// Parses a JSON body, answering MLflow's 400 when it is not what the endpoint takes. No body,
/// or `null`, stands for `{}` (where the document says a body is optional).
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MlflowError> {
    let bytes: &[u8] = if bytes.trim_ascii().is_empty() || bytes.trim_ascii() == b"null" {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| MlflowError::invalid(format!("the request body is not valid: {e}")))
}

/// Checks that the caller may read.
pub async fn reader(state: &AppState, headers: &HeaderMap) -> Result<Caller, MlflowError> {
    let who = caller(state, headers).await?;
    may_read(state, &who)?;
    Ok(who)
}

/// Runs a write that needs `role`, and audits it (refusals too) as `mlflow.ACTION`.
pub async fn write(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
    action: &str,
    object: &str,
    change: impl AsyncFnOnce(&Caller) -> Result<Value, MlflowError>,
) -> Result<Value, MlflowError> {
    let action = format!("mlflow.{action}");
    let (_, result) = audited(state, headers, role, &action, object, async |who| {
        Ok((change(who).await?, String::new()))
    })
    .await;
    result
}

/// One page of search results and the token of the next page, as MLflow pages: the token is
/// base64 of `{"offset": N}`; the last page has none. A token that is not one is refused.
pub fn page<T>(
    items: Vec<T>,
    max_results: usize,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), MlflowError> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let offset = match token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => engine
            .decode(t)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .and_then(|v| v["offset"].as_u64())
            .ok_or_else(|| MlflowError::invalid(format!("page_token {t:?} is not a page token")))?
            as usize,
    };
    let max = max_results.max(1);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(max).collect();
    let next = (offset + max < total)
        .then(|| engine.encode(serde_json::json!({ "offset": offset + max }).to_string()));
    Ok((page, next))
}

/// Adds `next_page_token` to a search answer when there is a next page.
pub fn with_token(mut answer: Value, next: Option<String>) -> Value {
    if let Some(t) = next {
        answer["next_page_token"] = Value::String(t);
    }
    answer
}

/// A list, or one string (a query string repeats a key, or gives it once).
pub fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// An integer that may come as a JSON number or a string (`"1"`), or `default` when absent.
pub fn int_of(v: Option<&Value>, default: i64) -> Result<i64, MlflowError> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                // `2.0` and `1e3` are integers too, within the bounds the document states.
                n.as_f64()
                    .filter(|f| {
                        f.fract() == 0.0 && (-schema::INT_BOUND..=schema::INT_BOUND).contains(f)
                    })
                    .map(|f| f as i64)
            })
            .ok_or_else(|| MlflowError::invalid(format!("{n} is not an integer"))),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| MlflowError::invalid(format!("{s:?} is not an integer"))),
        Some(other) => Err(MlflowError::invalid(format!("{other} is not an integer"))),
    }
}

/// A model version number, required.
pub fn version_in(v: Option<&Value>) -> Result<i64, MlflowError> {
    match v {
        None | Some(Value::Null) => Err(MlflowError::invalid("version is required")),
        some => int_of(some, 0),
    }
}

/// A parameter or tag of a run or experiment, as MLflow sends them (`[{key, value}]`).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = mlflow::KeyValue)]
pub struct KeyValue {
    /// The key.
    #[schema(schema_with = schema::key)]
    pub key: String,
    /// The value.
    #[serde(default)]
    #[schema(schema_with = schema::value)]
    pub value: String,
}

/// A tag or parameter of a registered model, version or logged model.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = mlflow::ModelTag)]
pub struct ModelTag {
    /// The key.
    #[schema(schema_with = schema::tag_key)]
    pub key: String,
    /// The value.
    #[serde(default)]
    #[schema(schema_with = schema::value)]
    pub value: String,
}

/// Pairs as `[{key, value}]`.
pub fn key_values(pairs: &[(String, String)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect(),
    )
}
