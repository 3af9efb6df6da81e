//! MLflow's logged models and model registry, over Ferry's registry.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use ferry_registry::{
    LoggedModel, ModelVersion, NewModelVersion, RegisteredModel, Role, Run, RunFilter, RunInfo,
    RunStatus,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{KeyValue, MlflowError, body, key_values, reader, version_in, write};
use crate::server::AppState;

type Answer = Result<Json<Value>, MlflowError>;

fn logged_model_json(m: &LoggedModel) -> Value {
    json!({
        "info": {
            "model_id": m.id, "experiment_id": m.experiment_id, "name": m.name,
            "creation_timestamp_ms": m.created_at, "last_updated_timestamp_ms": m.updated_at,
            "artifact_uri": m.artifact_uri, "status": m.status, "model_type": m.model_type,
            "source_run_id": m.source_run_id.clone().unwrap_or_default(), "tags": key_values(&m.tags),
        },
        "data": {"params": key_values(&m.params)},
    })
}

/// A model version as MLflow returns it.
pub fn version_json(v: &ModelVersion) -> Value {
    json!({
        "name": v.name, "version": v.version.to_string(), "creation_timestamp": v.created_at,
        "last_updated_timestamp": v.updated_at, "current_stage": v.stage, "description": v.description,
        "source": v.source, "run_id": v.run_id.clone().unwrap_or_default(), "status": v.status,
        "run_link": "", "aliases": v.aliases, "tags": key_values(&v.tags), "user_id": v.user_id,
    })
}

fn registered_model_json(m: &RegisteredModel) -> Value {
    json!({
        "name": m.name, "creation_timestamp": m.created_at, "last_updated_timestamp": m.updated_at,
        "description": m.description,
        "latest_versions": m.latest_versions.iter().map(version_json).collect::<Vec<_>>(),
        "aliases": m.aliases.iter().map(|(a, v)| json!({"alias": a, "version": v.to_string()})).collect::<Vec<_>>(),
        "tags": key_values(&m.tags),
    })
}

#[derive(Debug, Deserialize)]
struct CreateLoggedModel {
    experiment_id: String,
    #[serde(default)]
    name: String,
    source_run_id: Option<String>,
    #[serde(default)]
    model_type: String,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

fn pairs(list: &[KeyValue]) -> Vec<(String, String)> {
    list.iter()
        .map(|k| (k.key.clone(), k.value.clone()))
        .collect()
}

/// `POST logged-models`.
pub async fn create_logged_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: CreateLoggedModel = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "logged-models.create",
        &format!("experiment:{}", b.experiment_id),
        async |_| {
            let name = if b.name.is_empty() {
                "model"
            } else {
                b.name.as_str()
            };
            let m = s
                .registry
                .create_logged_model(
                    &b.experiment_id,
                    name,
                    b.source_run_id.as_deref().filter(|r| !r.is_empty()),
                    &b.model_type,
                    &pairs(&b.params),
                    &pairs(&b.tags),
                )
                .await?;
            Ok(json!({"model": logged_model_json(&m)}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `GET logged-models/{id}`.
pub async fn get_logged_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    reader(&s, &headers).await?;
    Ok(Json(
        json!({"model": logged_model_json(&s.registry.logged_model(&id).await?)}),
    ))
}

/// `PATCH logged-models/{id}`: sets its status (the client finalizes an upload).
pub async fn finalize_logged_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Bytes,
) -> Answer {
    let b: Value = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "logged-models.finalize",
        &format!("logged-model:{id}"),
        async |_| {
            let status = b["status"].as_str().unwrap_or("LOGGED_MODEL_READY");
            let m = s.registry.set_logged_model_status(&id, status).await?;
            Ok(json!({"model": logged_model_json(&m)}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Vec<KeyValue>,
}

/// `PATCH logged-models/{id}/tags`.
pub async fn set_logged_model_tags(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Bytes,
) -> Answer {
    let b: Tags = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "logged-models.tags",
        &format!("logged-model:{id}"),
        async |_| {
            s.registry
                .set_logged_model_tags(&id, &pairs(&b.tags))
                .await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// The value of `FIELD = 'VALUE'` in a simple filter.
fn filter_value(filter: &str, field: &str) -> Option<String> {
    let at = filter.find(field)?;
    let rest = filter[at + field.len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = &rest[1..];
    inner.find(quote).map(|end| inner[..end].to_string())
}

#[derive(Debug, Deserialize)]
struct SearchLoggedModels {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: String,
    max_results: Option<usize>,
}

/// `POST logged-models/search` (filters on `name` and `source_run_id`).
pub async fn search_logged_models(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    reader(&s, &headers).await?;
    let b: SearchLoggedModels = body(&raw)?;
    let name = filter_value(&b.filter, "name");
    let run = filter_value(&b.filter, "source_run_id");
    let mut models = s
        .registry
        .search_logged_models(&b.experiment_ids, name.as_deref(), run.as_deref())
        .await?;
    models.truncate(b.max_results.unwrap_or(1000));
    Ok(Json(
        json!({"models": models.iter().map(logged_model_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Deserialize)]
struct CreateRegisteredModel {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

/// `POST registered-models/create`.
pub async fn create_registered_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: CreateRegisteredModel = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "registered-models.create",
        &format!("model:{}", b.name),
        async |_| {
            let m = s
                .registry
                .create_registered_model(&b.name, &b.description, &pairs(&b.tags))
                .await?;
            Ok(json!({"registered_model": registered_model_json(&m)}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// Query naming a registered model.
#[derive(Debug, Deserialize)]
pub struct NameQuery {
    name: Option<String>,
    alias: Option<String>,
    version: Option<String>,
    stages: Option<String>,
}

fn name_of(q: &NameQuery) -> Result<String, MlflowError> {
    q.name
        .clone()
        .ok_or_else(|| MlflowError::invalid("name is required"))
}

fn number_of(v: &Option<String>) -> Result<i64, MlflowError> {
    let text = v
        .as_deref()
        .ok_or_else(|| MlflowError::invalid("version is required"))?;
    text.parse()
        .map_err(|_| MlflowError::invalid(format!("version {text:?} is not a number")))
}

/// `GET registered-models/get`.
pub async fn get_registered_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let m = s.registry.registered_model(&name_of(&q)?).await?;
    Ok(Json(json!({"registered_model": registered_model_json(&m)})))
}

/// Query of `registered-models/search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    filter: Option<String>,
    max_results: Option<usize>,
}

/// A stand-in run, so registered models can be filtered with the run filter's grammar
/// (`name`, `tags.KEY`).
fn as_run(m: &RegisteredModel) -> Run {
    Run {
        info: RunInfo {
            id: String::new(),
            experiment_id: String::new(),
            name: m.name.clone(),
            status: RunStatus::Finished,
            user_id: String::new(),
            start_time: m.created_at,
            end_time: None,
            lifecycle_stage: "active".into(),
            artifact_uri: String::new(),
        },
        params: Vec::new(),
        metrics: Vec::new(),
        tags: m.tags.clone(),
    }
}

/// `GET registered-models/search`.
pub async fn search_registered_models(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let filter = RunFilter::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut models: Vec<RegisteredModel> = s
        .registry
        .registered_models("")
        .await?
        .into_iter()
        .filter(|m| filter.matches_absent_as_unequal(&as_run(m)))
        .collect();
    models.truncate(q.max_results.unwrap_or(100));
    Ok(Json(
        json!({"registered_models": models.iter().map(registered_model_json).collect::<Vec<_>>()}),
    ))
}

async fn latest(s: &AppState, name: &str, stages: &[String]) -> Result<Value, MlflowError> {
    let m = s.registry.registered_model(name).await?;
    let versions: Vec<Value> = m
        .latest_versions
        .iter()
        .filter(|v| stages.is_empty() || stages.iter().any(|st| st.eq_ignore_ascii_case(&v.stage)))
        .map(version_json)
        .collect();
    Ok(json!({"model_versions": versions}))
}

/// `GET registered-models/get-latest-versions`.
pub async fn latest_versions_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let stages: Vec<String> = q
        .stages
        .as_deref()
        .map(|x| x.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    Ok(Json(latest(&s, &name_of(&q)?, &stages).await?))
}

#[derive(Debug, Deserialize)]
struct LatestBody {
    name: String,
    #[serde(default)]
    stages: Vec<String>,
}

/// `POST registered-models/get-latest-versions`.
pub async fn latest_versions_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    reader(&s, &headers).await?;
    let b: LatestBody = body(&raw)?;
    Ok(Json(latest(&s, &b.name, &b.stages).await?))
}

#[derive(Debug, Deserialize)]
struct AliasBody {
    name: String,
    alias: String,
    version: Option<Value>,
}

/// `POST registered-models/alias` (deployer).
pub async fn set_alias(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: AliasBody = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Deployer,
        "registered-models.alias",
        &format!("model:{}@{}", b.name, b.alias),
        async |_| {
            let version = version_in(b.version.as_ref())?;
            s.registry
                .set_model_alias(&b.name, &b.alias, version)
                .await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `GET registered-models/alias`: the version an alias points to (an unknown alias is a 400,
/// as MLflow answers).
pub async fn get_alias(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let name = name_of(&q)?;
    let alias = q
        .alias
        .clone()
        .ok_or_else(|| MlflowError::invalid("alias is required"))?;
    let m = s.registry.registered_model(&name).await?;
    let Some((_, version)) = m.aliases.iter().find(|(a, _)| *a == alias) else {
        return Err(MlflowError::invalid(format!(
            "Registered model alias {alias} not found."
        )));
    };
    Ok(Json(
        json!({"model_version": version_json(&s.registry.model_version(&name, *version).await?)}),
    ))
}

/// `DELETE registered-models/alias` (deployer).
pub async fn delete_alias(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
    raw: Bytes,
) -> Answer {
    let from_body: Option<AliasBody> = if raw.is_empty() {
        None
    } else {
        body(&raw).ok()
    };
    let name = from_body
        .as_ref()
        .map(|b| b.name.clone())
        .or(q.name.clone())
        .unwrap_or_default();
    let alias = from_body
        .as_ref()
        .map(|b| b.alias.clone())
        .or(q.alias.clone())
        .unwrap_or_default();
    let v = write(
        &s,
        &headers,
        Role::Deployer,
        "registered-models.alias.delete",
        &format!("model:{name}@{alias}"),
        async |_| {
            s.registry.delete_model_alias(&name, &alias).await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct CreateVersion {
    name: String,
    #[serde(default)]
    source: String,
    run_id: Option<String>,
    model_id: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

/// `POST model-versions/create`.
pub async fn create_model_version(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: CreateVersion = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "model-versions.create",
        &format!("model:{}", b.name),
        async |who| {
            let source = if b.source.is_empty() {
                b.model_id
                    .as_ref()
                    .map(|m| format!("models:/{m}"))
                    .unwrap_or_default()
            } else {
                b.source.clone()
            };
            let mv = s
                .registry
                .create_model_version(
                    &b.name,
                    NewModelVersion {
                        source,
                        run_id: b.run_id.clone().filter(|r| !r.is_empty()),
                        user_id: who.actor(),
                        description: b.description.clone(),
                        lineage: None,
                        tags: pairs(&b.tags),
                    },
                )
                .await?;
            Ok(json!({"model_version": version_json(&mv)}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `GET model-versions/get`.
pub async fn get_model_version(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let v = s
        .registry
        .model_version(&name_of(&q)?, number_of(&q.version)?)
        .await?;
    Ok(Json(json!({"model_version": version_json(&v)})))
}

#[derive(Debug, Deserialize)]
struct Transition {
    name: String,
    version: Value,
    stage: String,
    #[serde(default)]
    archive_existing_versions: bool,
}

/// `POST model-versions/transition-stage` (deployer).
pub async fn transition_stage(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: Transition = body(&raw)?;
    let version = version_in(Some(&b.version))?;
    let v = write(
        &s,
        &headers,
        Role::Deployer,
        "model-versions.transition-stage",
        &format!("model:{}/{version}", b.name),
        async |_| {
            let mv = s
                .registry
                .transition_model_stage(&b.name, version, &b.stage, b.archive_existing_versions)
                .await?;
            Ok(json!({"model_version": version_json(&mv)}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `GET model-versions/get-download-uri`: a logged model's files, or the version's source.
pub async fn download_uri(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let v = s
        .registry
        .model_version(&name_of(&q)?, number_of(&q.version)?)
        .await?;
    let uri = match v.source.strip_prefix("models:/") {
        Some(id) if id.starts_with("m-") => s.registry.logged_model(id).await?.artifact_uri,
        _ => v.source.clone(),
    };
    Ok(Json(json!({"artifact_uri": uri})))
}

#[cfg(test)]
mod tests {
    #[test]
    fn filter_values() {
        assert_eq!(
            super::filter_value("name = 'model'", "name").as_deref(),
            Some("model")
        );
        assert_eq!(
            super::filter_value("source_run_id = \"abc\"", "source_run_id").as_deref(),
            Some("abc")
        );
        assert_eq!(super::filter_value("name LIKE 'x'", "name"), None);
    }
}
