//! MLflow's logged models and model registry, over Ferry's registry.

use crate::server::error::MlflowErrorBody;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use ferry_registry::{
    LoggedModel, ModelVersion, NewModelVersion, RegisteredModel, Role, RunFilter, RunOrder,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    KeyValue, MlflowError, body, int_of, key_values, page, reader, version_in, with_token, write,
};
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

#[utoipa::path(post, path = "/api/2.0/mlflow/logged-models", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow/logged-models/{id}", tag = "mlflow", params(("id" = String, Path)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(patch, path = "/api/2.0/mlflow/logged-models/{id}", tag = "mlflow", params(("id" = String, Path)), request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(patch, path = "/api/2.0/mlflow/logged-models/{id}/tags", tag = "mlflow", params(("id" = String, Path)), request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[derive(Debug, Deserialize)]
struct SearchLoggedModels {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: String,
    max_results: Option<Value>,
    #[serde(default)]
    order_by: Vec<Value>,
    page_token: Option<String>,
}

/// An `order_by` entry: MLflow sends logged-model orders as objects
/// (`{"field_name": "creation_timestamp", "ascending": false}`), other searches as text.
fn order_of(v: &Value) -> Result<RunOrder, MlflowError> {
    let text = match v {
        Value::String(t) => t.clone(),
        Value::Object(o) => format!(
            "{} {}",
            o.get("field_name").and_then(Value::as_str).unwrap_or(""),
            if o.get("ascending").and_then(Value::as_bool).unwrap_or(true) {
                "ASC"
            } else {
                "DESC"
            }
        ),
        other => {
            return Err(MlflowError::invalid(format!(
                "order_by {other}: not an order"
            )));
        }
    };
    Ok(RunOrder::parse(&text)?)
}

#[utoipa::path(post, path = "/api/2.0/mlflow/logged-models/search", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST logged-models/search`.
pub async fn search_logged_models(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    reader(&s, &headers).await?;
    let b: SearchLoggedModels = body(&raw)?;
    let filter = RunFilter::parse(&b.filter)?;
    let order = b
        .order_by
        .iter()
        .map(order_of)
        .collect::<Result<Vec<_>, _>>()?;
    let mut models: Vec<LoggedModel> = s
        .registry
        .logged_models(&b.experiment_ids)
        .await?
        .into_iter()
        .filter(|m| filter.matches(m))
        .collect();
    models.sort_by(|a, b| {
        RunOrder::compare_all(&order, a, b)
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    let max = int_of(b.max_results.as_ref(), 100)?.clamp(1, 50_000) as usize;
    let (models, next) = page(models, max, b.page_token.as_deref())?;
    Ok(Json(with_token(
        json!({"models": models.iter().map(logged_model_json).collect::<Vec<_>>()}),
        next,
    )))
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/logged-models/{id}", tag = "mlflow", params(("id" = String, Path)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE logged-models/{id}`.
pub async fn delete_logged_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "logged-models.delete",
        &format!("logged-model:{id}"),
        async |_| {
            s.registry.delete_logged_model(&id).await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/logged-models/{id}/tags/{key}", tag = "mlflow", params(("id" = String, Path), ("key" = String, Path)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE logged-models/{id}/tags/{key}`.
pub async fn delete_logged_model_tag(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> Answer {
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "logged-models.delete-tag",
        &format!("logged-model:{id}"),
        async |_| {
            s.registry.delete_logged_model_tag(&id, &key).await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct Params {
    #[serde(default)]
    params: Vec<KeyValue>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/logged-models/{id}/params", tag = "mlflow", params(("id" = String, Path)), request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST logged-models/{id}/params`.
pub async fn log_logged_model_params(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Bytes,
) -> Answer {
    let b: Params = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "logged-models.params",
        &format!("logged-model:{id}"),
        async |_| {
            s.registry
                .log_logged_model_params(&id, &pairs(&b.params))
                .await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct CreateRegisteredModel {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/create", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/get", tag = "mlflow", params(("name" = Option<String>, Query)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

/// A search of registered models or model versions: `filter`, `max_results`, `order_by`
/// (repeated) and `page_token`, from the query string.
struct SearchQuery {
    filter: RunFilter,
    order: Vec<RunOrder>,
    max: usize,
    page_token: Option<String>,
}

impl SearchQuery {
    fn parse(raw: Option<&str>, default_max: i64) -> Result<Self, MlflowError> {
        let (mut filter, mut order, mut max, mut page_token) =
            (String::new(), Vec::new(), None, None);
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "filter" => filter = v.into_owned(),
                "order_by" => order.push(RunOrder::parse(&v)?),
                "max_results" => max = Some(Value::String(v.into_owned())),
                "page_token" => page_token = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(Self {
            filter: RunFilter::parse(&filter)?,
            order,
            max: int_of(max.as_ref(), default_max)?.clamp(1, 50_000) as usize,
            page_token,
        })
    }
}

#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/search", tag = "mlflow", params(("filter" = Option<String>, Query), ("max_results" = Option<String>, Query), ("order_by" = Option<String>, Query), ("page_token" = Option<String>, Query)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET registered-models/search`: `name`, `tags.KEY` and the timestamps, by name unless
/// asked otherwise.
pub async fn search_registered_models(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    reader(&s, &headers).await?;
    let q = SearchQuery::parse(raw.as_deref(), 100)?;
    let mut models: Vec<RegisteredModel> = s
        .registry
        .registered_models("")
        .await?
        .into_iter()
        .filter(|m| q.filter.matches_absent_as_unequal(m))
        .collect();
    models.sort_by(|a, b| RunOrder::compare_all(&q.order, a, b).then_with(|| a.name.cmp(&b.name)));
    let (models, next) = page(models, q.max, q.page_token.as_deref())?;
    Ok(Json(with_token(
        json!({"registered_models": models.iter().map(registered_model_json).collect::<Vec<_>>()}),
        next,
    )))
}

#[utoipa::path(get, path = "/api/2.0/mlflow/model-versions/search", tag = "mlflow", params(("filter" = Option<String>, Query), ("max_results" = Option<String>, Query), ("order_by" = Option<String>, Query), ("page_token" = Option<String>, Query)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET model-versions/search`: `name`, `run_id`, `source_path`, `version_number`, `tags.KEY`
/// and the rest; by name, newest version first, unless asked otherwise.
pub async fn search_model_versions(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    reader(&s, &headers).await?;
    let q = SearchQuery::parse(raw.as_deref(), 10_000)?;
    let mut versions: Vec<ModelVersion> = s
        .registry
        .all_model_versions()
        .await?
        .into_iter()
        .filter(|v| q.filter.matches_absent_as_unequal(v))
        .collect();
    versions.sort_by(|a, b| {
        RunOrder::compare_all(&q.order, a, b)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| b.version.cmp(&a.version))
    });
    let (versions, next) = page(versions, q.max, q.page_token.as_deref())?;
    Ok(Json(with_token(
        json!({"model_versions": versions.iter().map(version_json).collect::<Vec<_>>()}),
        next,
    )))
}

#[derive(Debug, Deserialize)]
struct RenameModel {
    name: String,
    new_name: String,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/rename", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST registered-models/rename`.
pub async fn rename_registered_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: RenameModel = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "registered-models.rename",
        &format!("model:{}", b.name),
        async |_| {
            let m = s
                .registry
                .rename_registered_model(&b.name, &b.new_name)
                .await?;
            Ok(json!({"registered_model": registered_model_json(&m)}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct Described {
    name: String,
    version: Option<Value>,
    #[serde(default)]
    description: Option<String>,
}

#[utoipa::path(patch, path = "/api/2.0/mlflow/registered-models/update", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `PATCH registered-models/update`: its description.
pub async fn update_registered_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: Described = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "registered-models.update",
        &format!("model:{}", b.name),
        async |_| {
            if let Some(d) = &b.description {
                s.registry.set_model_description(&b.name, d).await?;
            }
            let m = s.registry.registered_model(&b.name).await?;
            Ok(json!({"registered_model": registered_model_json(&m)}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[utoipa::path(patch, path = "/api/2.0/mlflow/model-versions/update", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `PATCH model-versions/update`: its description.
pub async fn update_model_version(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: Described = body(&raw)?;
    let version = version_in(b.version.as_ref())?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "model-versions.update",
        &format!("model:{}/{version}", b.name),
        async |_| {
            if let Some(d) = &b.description {
                s.registry
                    .set_version_description(&b.name, version, d)
                    .await?;
            }
            let mv = s.registry.model_version(&b.name, version).await?;
            Ok(json!({"model_version": version_json(&mv)}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// The fields of a request, from its JSON body, or (the client sends some `DELETE` requests
/// this way) its query string.
fn fields<T: serde::de::DeserializeOwned>(
    raw_query: Option<&str>,
    raw: &[u8],
) -> Result<T, MlflowError> {
    if raw.iter().any(|b| !b.is_ascii_whitespace()) {
        return body(raw);
    }
    let map: serde_json::Map<String, Value> =
        form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
    serde_json::from_value(Value::Object(map))
        .map_err(|e| MlflowError::invalid(format!("the request is not valid: {e}")))
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/registered-models/delete", tag = "mlflow", params(("name" = Option<String>, Query)), request_body(content = Option<Object>, description = "The request, as MLflow's REST API defines it, or in the query string"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE registered-models/delete`: the model with every version, tag and alias.
pub async fn delete_registered_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    raw: Bytes,
) -> Answer {
    let b: Described = fields(q.as_deref(), &raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "registered-models.delete",
        &format!("model:{}", b.name),
        async |_| {
            s.registry.delete_registered_model(&b.name).await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/model-versions/delete", tag = "mlflow", params(("name" = Option<String>, Query), ("version" = Option<String>, Query)), request_body(content = Option<Object>, description = "The request, as MLflow's REST API defines it, or in the query string"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE model-versions/delete`.
pub async fn delete_model_version(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    raw: Bytes,
) -> Answer {
    let b: Described = fields(q.as_deref(), &raw)?;
    let version = version_in(b.version.as_ref())?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "model-versions.delete",
        &format!("model:{}/{version}", b.name),
        async |_| {
            s.registry.delete_model_version(&b.name, version).await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct TagBody {
    name: String,
    version: Option<Value>,
    key: String,
    #[serde(default)]
    value: String,
}

/// Sets (`set`) or deletes a tag of a registered model, or of a version when `of_version`.
async fn change_tag(
    s: &AppState,
    headers: &HeaderMap,
    b: TagBody,
    set: bool,
    of_version: bool,
) -> Answer {
    let version = if of_version {
        Some(version_in(b.version.as_ref())?)
    } else {
        None
    };
    let (what, object) = match version {
        Some(v) => ("model-versions", format!("model:{}/{v}", b.name)),
        None => ("registered-models", format!("model:{}", b.name)),
    };
    let action = format!("{what}.{}", if set { "set-tag" } else { "delete-tag" });
    let v = write(s, headers, Role::Publisher, &action, &object, async |_| {
        match (version, set) {
            (Some(v), true) => {
                s.registry
                    .set_version_tag(&b.name, v, &b.key, &b.value)
                    .await?
            }
            (Some(v), false) => s.registry.delete_version_tag(&b.name, v, &b.key).await?,
            (None, true) => s.registry.set_model_tag(&b.name, &b.key, &b.value).await?,
            (None, false) => s.registry.delete_model_tag(&b.name, &b.key).await?,
        }
        Ok(json!({}))
    })
    .await?;
    Ok(Json(v))
}

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/set-tag", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST registered-models/set-tag`.
pub async fn set_model_tag(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    change_tag(&s, &headers, body(&raw)?, true, false).await
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/registered-models/delete-tag", tag = "mlflow", params(("name" = Option<String>, Query), ("key" = Option<String>, Query)), request_body(content = Option<Object>, description = "The request, as MLflow's REST API defines it, or in the query string"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE registered-models/delete-tag`.
pub async fn delete_model_tag(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    raw: Bytes,
) -> Answer {
    change_tag(&s, &headers, fields(q.as_deref(), &raw)?, false, false).await
}

#[utoipa::path(post, path = "/api/2.0/mlflow/model-versions/set-tag", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST model-versions/set-tag`.
pub async fn set_version_tag(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    change_tag(&s, &headers, body(&raw)?, true, true).await
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/model-versions/delete-tag", tag = "mlflow", params(("name" = Option<String>, Query), ("version" = Option<String>, Query), ("key" = Option<String>, Query)), request_body(content = Option<Object>, description = "The request, as MLflow's REST API defines it, or in the query string"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE model-versions/delete-tag`.
pub async fn delete_version_tag(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    raw: Bytes,
) -> Answer {
    change_tag(&s, &headers, fields(q.as_deref(), &raw)?, false, true).await
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

#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/get-latest-versions", tag = "mlflow", params(("name" = Option<String>, Query), ("stages" = Option<String>, Query)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/get-latest-versions", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/alias", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/alias", tag = "mlflow", params(("name" = Option<String>, Query), ("alias" = Option<String>, Query)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(delete, path = "/api/2.0/mlflow/registered-models/alias", tag = "mlflow", params(("name" = Option<String>, Query), ("alias" = Option<String>, Query)), request_body(content = Option<Object>, description = "The request, as MLflow's REST API defines it, or in the query string"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(post, path = "/api/2.0/mlflow/model-versions/create", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow/model-versions/get", tag = "mlflow", params(("name" = Option<String>, Query), ("version" = Option<String>, Query)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(post, path = "/api/2.0/mlflow/model-versions/transition-stage", tag = "mlflow", request_body(content = Object, description = "The request, as MLflow's REST API defines it"), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow/model-versions/get-download-uri", tag = "mlflow", params(("name" = Option<String>, Query), ("version" = Option<String>, Query)), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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
    Ok(Json(
        json!({"artifact_uri": download_location(&s, &v).await?}),
    ))
}

/// Where a version's files are: its logged model's, its run's folder (for a `runs:/RUN/PATH`
/// source), its source, or (for a copy, whose source is `models:/NAME/VERSION`) the copied
/// version's.
async fn download_location(s: &AppState, v: &ModelVersion) -> Result<String, MlflowError> {
    let mut source = v.source.clone();
    for _ in 0..8 {
        if let Some(rest) = source.strip_prefix("runs:/") {
            let (run, path) = rest.split_once('/').unwrap_or((rest, ""));
            let root = s.registry.run(run).await?.info.artifact_uri;
            return Ok(format!("{root}/{path}").trim_end_matches('/').to_string());
        }
        let Some(rest) = source.strip_prefix("models:/") else {
            return Ok(source);
        };
        if rest.starts_with("m-") {
            return Ok(s.registry.logged_model(rest).await?.artifact_uri);
        }
        let Some((name, reference)) = rest.split_once('/') else {
            return Ok(source);
        };
        source = s
            .registry
            .resolve_model_version(name, reference)
            .await?
            .source;
    }
    Err(MlflowError::invalid(format!(
        "version {} of {:?}: its source {:?} names a chain of copies too long to follow",
        v.version, v.name, v.source
    )))
}
