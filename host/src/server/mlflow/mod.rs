//! The MLflow REST API (`/api/2.0/mlflow`, `/api/2.0/mlflow-artifacts`,
//! `/api/3.0/mlflow/server-info`) over Ferry's own experiments, runs, artifacts and model
//! registry, so the `mlflow` client works unchanged against `ferry serve`.

mod artifacts;
mod error;
mod registry;
mod tracking;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::{delete, get, patch, post};
use ferry_registry::Role;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::AppState;
use super::audit::audited;
use super::auth::{Caller, caller, may_read};
pub use error::{MlflowError, not_found};

/// Largest artifact accepted in one upload (streamed to disk, never held in memory).
pub const MAX_ARTIFACT_BYTES: usize = 8 << 30;

/// The MLflow routes.
pub fn routes() -> Router<AppState> {
    let api = "/api/2.0/mlflow";
    Router::new()
        .route(
            &format!("{api}/experiments/get-by-name"),
            get(tracking::experiment_by_name),
        )
        .route(&format!("{api}/experiments/get"), get(tracking::experiment))
        .route(
            &format!("{api}/experiments/create"),
            post(tracking::create_experiment),
        )
        .route(
            &format!("{api}/experiments/search"),
            get(tracking::search_experiments).post(tracking::search_experiments_post),
        )
        .route(&format!("{api}/runs/create"), post(tracking::create_run))
        .route(&format!("{api}/runs/get"), get(tracking::get_run))
        .route(&format!("{api}/runs/update"), post(tracking::update_run))
        .route(&format!("{api}/runs/delete"), post(tracking::delete_run))
        .route(&format!("{api}/runs/restore"), post(tracking::restore_run))
        .route(
            &format!("{api}/experiments/delete"),
            post(tracking::delete_experiment),
        )
        .route(
            &format!("{api}/experiments/restore"),
            post(tracking::restore_experiment),
        )
        .route(
            &format!("{api}/runs/log-parameter"),
            post(tracking::log_param),
        )
        .route(
            &format!("{api}/runs/log-metric"),
            post(tracking::log_metric),
        )
        .route(&format!("{api}/runs/set-tag"), post(tracking::set_tag))
        .route(
            &format!("{api}/runs/delete-tag"),
            post(tracking::delete_tag),
        )
        .route(
            &format!("{api}/experiments/update"),
            post(tracking::update_experiment),
        )
        .route(
            &format!("{api}/experiments/set-experiment-tag"),
            post(tracking::set_experiment_tag),
        )
        .route(
            &format!("{api}/experiments/delete-experiment-tag"),
            post(tracking::delete_experiment_tag),
        )
        .route(&format!("{api}/runs/log-batch"), post(tracking::log_batch))
        .route(&format!("{api}/runs/search"), post(tracking::search_runs))
        .route(&format!("{api}/runs/outputs"), post(tracking::log_outputs))
        .route(
            &format!("{api}/runs/log-inputs"),
            post(tracking::log_inputs),
        )
        .route(
            &format!("{api}/metrics/get-history"),
            get(tracking::metric_history),
        )
        .route(
            &format!("{api}/logged-models"),
            post(registry::create_logged_model),
        )
        .route(
            &format!("{api}/logged-models/{{id}}/tags/{{key}}"),
            delete(registry::delete_logged_model_tag),
        )
        .route(
            &format!("{api}/logged-models/{{id}}/params"),
            post(registry::log_logged_model_params),
        )
        .route(
            &format!("{api}/registered-models/rename"),
            post(registry::rename_registered_model),
        )
        .route(
            &format!("{api}/registered-models/update"),
            patch(registry::update_registered_model),
        )
        .route(
            &format!("{api}/registered-models/delete"),
            delete(registry::delete_registered_model),
        )
        .route(
            &format!("{api}/registered-models/set-tag"),
            post(registry::set_model_tag),
        )
        .route(
            &format!("{api}/registered-models/delete-tag"),
            delete(registry::delete_model_tag),
        )
        .route(
            &format!("{api}/model-versions/search"),
            get(registry::search_model_versions),
        )
        .route(
            &format!("{api}/model-versions/update"),
            patch(registry::update_model_version),
        )
        .route(
            &format!("{api}/model-versions/delete"),
            delete(registry::delete_model_version),
        )
        .route(
            &format!("{api}/model-versions/set-tag"),
            post(registry::set_version_tag),
        )
        .route(
            &format!("{api}/model-versions/delete-tag"),
            delete(registry::delete_version_tag),
        )
        .route(
            &format!("{api}/logged-models/search"),
            post(registry::search_logged_models),
        )
        .route(
            &format!("{api}/logged-models/{{id}}"),
            get(registry::get_logged_model)
                .patch(registry::finalize_logged_model)
                .delete(registry::delete_logged_model),
        )
        .route(
            &format!("{api}/logged-models/{{id}}/tags"),
            patch(registry::set_logged_model_tags),
        )
        .route(
            &format!("{api}/registered-models/create"),
            post(registry::create_registered_model),
        )
        .route(
            &format!("{api}/registered-models/get"),
            get(registry::get_registered_model),
        )
        .route(
            &format!("{api}/registered-models/search"),
            get(registry::search_registered_models),
        )
        .route(
            &format!("{api}/registered-models/get-latest-versions"),
            get(registry::latest_versions_get).post(registry::latest_versions_post),
        )
        .route(
            &format!("{api}/registered-models/alias"),
            get(registry::get_alias)
                .post(registry::set_alias)
                .delete(registry::delete_alias),
        )
        .route(
            &format!("{api}/model-versions/create"),
            post(registry::create_model_version),
        )
        .route(
            &format!("{api}/model-versions/get"),
            get(registry::get_model_version),
        )
        .route(
            &format!("{api}/model-versions/transition-stage"),
            post(registry::transition_stage),
        )
        .route(
            &format!("{api}/model-versions/get-download-uri"),
            get(registry::download_uri),
        )
        .route("/api/2.0/mlflow-artifacts/artifacts", get(artifacts::list))
        .route(
            "/api/2.0/mlflow-artifacts/artifacts/{*path}",
            get(artifacts::download)
                .put(artifacts::upload)
                .layer(DefaultBodyLimit::max(MAX_ARTIFACT_BYTES)),
        )
        .route("/api/3.0/mlflow/server-info", get(artifacts::server_info))
}

/// Parses a JSON body, answering MLflow's 400 when it is not what the endpoint takes.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MlflowError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
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

/// `[{key, value}]` pairs as MLflow sends them.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
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
