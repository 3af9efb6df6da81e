//! MLflow's logged models and model registry, over Ferry's registry.

use crate::error::MlflowErrorBody;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use ferry_registry::{
    LoggedModel, ModelVersion, NewModelVersion, RegisteredModel, Role, RunFilter, RunOrder,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{
    MlflowError, ModelTag, body, int_of, key_values, page, reader, version_in, with_token, write,
};
use crate::AppState;
use crate::schema;

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

/// `logged-models` (create).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::CreateLoggedModel)]
pub struct CreateLoggedModel {
    /// The experiment it belongs to.
    experiment_id: String,
    /// Its name (`model` when left out).
    #[serde(default)]
    name: String,
    /// The run that produced it.
    source_run_id: Option<String>,
    /// What kind of model it is.
    #[serde(default)]
    model_type: String,
    /// Its parameters.
    #[serde(default)]
    params: Vec<ModelTag>,
    /// Its tags.
    #[serde(default)]
    tags: Vec<ModelTag>,
}

fn pairs(list: &[ModelTag]) -> Vec<(String, String)> {
    list.iter()
        .map(|k| (k.key.clone(), k.value.clone()))
        .collect()
}

#[utoipa::path(post, path = "/api/2.0/mlflow/logged-models", tag = "mlflow", request_body = CreateLoggedModel, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

/// `PATCH logged-models/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::FinalizeLoggedModel)]
pub struct Finalize {
    /// Its new status (`LOGGED_MODEL_READY` when left out).
    #[schema(schema_with = schema::logged_model_status)]
    status: Option<String>,
}

#[utoipa::path(patch, path = "/api/2.0/mlflow/logged-models/{id}", tag = "mlflow", params(("id" = String, Path)), request_body = Option<Finalize>, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `PATCH logged-models/{id}`: sets its status (the client finalizes an upload).
pub async fn finalize_logged_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Bytes,
) -> Answer {
    let b: Finalize = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "logged-models.finalize",
        &format!("logged-model:{id}"),
        async |_| {
            let status = b.status.as_deref().unwrap_or("LOGGED_MODEL_READY");
            let m = s
                .registry
                .set_logged_model_status(&id, status)
                .await
                .map_err(MlflowError::unchangeable)?;
            Ok(json!({"model": logged_model_json(&m)}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `PATCH logged-models/{id}/tags`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::LoggedModelTags)]
pub struct Tags {
    /// The tags to set.
    #[serde(default)]
    tags: Vec<ModelTag>,
}

#[utoipa::path(patch, path = "/api/2.0/mlflow/logged-models/{id}/tags", tag = "mlflow", params(("id" = String, Path)), request_body = Tags, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

/// `logged-models/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::SearchLoggedModels)]
pub struct SearchLoggedModels {
    /// The experiments to search (every one when empty).
    #[serde(default)]
    experiment_ids: Vec<String>,
    /// Which models, in MLflow's search syntax.
    #[serde(default)]
    #[schema(schema_with = schema::filter)]
    filter: String,
    /// At most this many (1 to 50,000; 100 when left out).
    #[schema(schema_with = schema::int64)]
    max_results: Option<Value>,
    /// Orders: text (`name ASC`) or `{field_name, ascending}`.
    #[serde(default)]
    #[schema(value_type = Vec<Value>)]
    order_by: Vec<Value>,
    /// The page after the one this token came with.
    #[schema(schema_with = schema::page_token)]
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

#[utoipa::path(post, path = "/api/2.0/mlflow/logged-models/search", tag = "mlflow", request_body = Option<SearchLoggedModels>, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

/// `logged-models/{id}/params`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::LoggedModelParams)]
pub struct Params {
    /// The parameters to log.
    #[serde(default)]
    params: Vec<ModelTag>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/logged-models/{id}/params", tag = "mlflow", params(("id" = String, Path)), request_body = Params, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

/// `registered-models/create`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::CreateRegisteredModel)]
pub struct CreateRegisteredModel {
    /// Its name.
    #[schema(schema_with = schema::model_name)]
    name: String,
    /// What it is for.
    #[serde(default)]
    description: String,
    /// Its tags.
    #[serde(default)]
    tags: Vec<ModelTag>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/create", tag = "mlflow", request_body = CreateRegisteredModel, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NameQuery {
    /// The registered model.
    name: String,
}

/// Query naming a version of a registered model.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// The registered model.
    name: String,
    /// The version's number.
    #[param(pattern = "^-?[0-9]{1,18}$")]
    version: String,
}

impl VersionQuery {
    fn number(&self) -> Result<i64, MlflowError> {
        self.version.parse().map_err(|_| {
            MlflowError::invalid(format!("version {:?} is not a number", self.version))
        })
    }
}

/// Query naming an alias of a registered model.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AliasQuery {
    /// The registered model.
    name: String,
    /// The alias.
    alias: String,
}

/// Query of `registered-models/get-latest-versions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestQuery {
    /// The registered model.
    name: String,
    /// Only versions in these stages, separated by commas (any stage when left out).
    stages: Option<String>,
}

/// A search of registered models or model versions, from the query string (which
/// `SearchQuery::parse` reads, as the key `order_by` repeats).
#[allow(dead_code)]
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Which, in MLflow's search syntax.
    #[param(schema_with = schema::filter)]
    filter: Option<String>,
    /// At most this many (1 to 50,000).
    #[param(schema_with = schema::integer_text)]
    max_results: Option<String>,
    /// Orders, e.g. `name ASC` (the key repeats).
    order_by: Option<Vec<String>>,
    /// The page after the one this token came with.
    #[param(schema_with = schema::page_token)]
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/get", tag = "mlflow", params(NameQuery), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET registered-models/get`.
pub async fn get_registered_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let m = s.registry.registered_model(&q.name).await?;
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

#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/search", tag = "mlflow", params(SearchParams), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow/model-versions/search", tag = "mlflow", params(SearchParams), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

/// `registered-models/rename`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::RenameRegisteredModel)]
pub struct RenameModel {
    /// The registered model.
    name: String,
    /// Its new name.
    #[schema(schema_with = schema::model_name)]
    new_name: String,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/rename", tag = "mlflow", request_body = RenameModel, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

/// `registered-models/update` and `registered-models/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::RegisteredModelRef)]
pub struct Described {
    /// The registered model.
    name: String,
    /// Its new description (to update it).
    #[serde(default)]
    description: Option<String>,
}

/// `model-versions/update` and `model-versions/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::ModelVersionRef)]
pub struct VersionDescribed {
    /// The registered model.
    name: String,
    /// The version's number.
    #[schema(schema_with = schema::int64)]
    version: Value,
    /// Its new description (to update it).
    #[serde(default)]
    description: Option<String>,
}

#[utoipa::path(patch, path = "/api/2.0/mlflow/registered-models/update", tag = "mlflow", request_body = Described, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(patch, path = "/api/2.0/mlflow/model-versions/update", tag = "mlflow", request_body = VersionDescribed, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `PATCH model-versions/update`: its description.
pub async fn update_model_version(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: VersionDescribed = body(&raw)?;
    let version = version_in(Some(&b.version))?;
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

#[utoipa::path(delete, path = "/api/2.0/mlflow/registered-models/delete", tag = "mlflow", request_body = Described, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE registered-models/delete`: the model with every version, tag and alias.
pub async fn delete_registered_model(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: Described = body(&raw)?;
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

#[utoipa::path(delete, path = "/api/2.0/mlflow/model-versions/delete", tag = "mlflow", request_body = VersionDescribed, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE model-versions/delete`.
pub async fn delete_model_version(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: VersionDescribed = body(&raw)?;
    let version = version_in(Some(&b.version))?;
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

/// `registered-models/set-tag` and `registered-models/delete-tag`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::RegisteredModelTag)]
pub struct TagBody {
    /// The registered model.
    name: String,
    /// The tag's key.
    #[schema(schema_with = schema::tag_key)]
    key: String,
    /// Its value (not needed to delete it).
    #[serde(default)]
    #[schema(schema_with = schema::value)]
    value: String,
}

/// `model-versions/set-tag` and `model-versions/delete-tag`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::ModelVersionTag)]
pub struct VersionTagBody {
    /// The registered model.
    name: String,
    /// The version's number.
    #[schema(schema_with = schema::int64)]
    version: Value,
    /// The tag's key.
    #[schema(schema_with = schema::tag_key)]
    key: String,
    /// Its value (not needed to delete it).
    #[serde(default)]
    #[schema(schema_with = schema::value)]
    value: String,
}

/// Sets (`set`) or deletes a tag of a registered model, or of a version when `of_version`.
async fn change_tag(
    s: &AppState,
    headers: &HeaderMap,
    b: TagBody,
    version: Option<i64>,
    set: bool,
) -> Answer {
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

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/set-tag", tag = "mlflow", request_body = TagBody, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST registered-models/set-tag`.
pub async fn set_model_tag(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    change_tag(&s, &headers, body(&raw)?, None, true).await
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/registered-models/delete-tag", tag = "mlflow", request_body = TagBody, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE registered-models/delete-tag`.
pub async fn delete_model_tag(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    change_tag(&s, &headers, body(&raw)?, None, false).await
}

#[utoipa::path(post, path = "/api/2.0/mlflow/model-versions/set-tag", tag = "mlflow", request_body = VersionTagBody, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST model-versions/set-tag`.
pub async fn set_version_tag(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    version_tag(&s, &headers, &raw, true).await
}

/// Sets (`set`) or deletes a tag of a version.
async fn version_tag(s: &AppState, headers: &HeaderMap, raw: &[u8], set: bool) -> Answer {
    let b: VersionTagBody = body(raw)?;
    let version = version_in(Some(&b.version))?;
    let tag = TagBody {
        name: b.name,
        key: b.key,
        value: b.value,
    };
    change_tag(s, headers, tag, Some(version), set).await
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/model-versions/delete-tag", tag = "mlflow", request_body = VersionTagBody, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE model-versions/delete-tag`.
pub async fn delete_version_tag(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    version_tag(&s, &headers, &raw, false).await
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

#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/get-latest-versions", tag = "mlflow", params(LatestQuery), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET registered-models/get-latest-versions`.
pub async fn latest_versions_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LatestQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let stages: Vec<String> = q
        .stages
        .as_deref()
        .map(|x| x.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    Ok(Json(latest(&s, &q.name, &stages).await?))
}

/// `POST registered-models/get-latest-versions`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::GetLatestVersions)]
pub struct LatestBody {
    /// The registered model.
    name: String,
    /// Only versions in these stages (any stage when empty).
    #[serde(default)]
    stages: Vec<String>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/get-latest-versions", tag = "mlflow", request_body = LatestBody, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

/// `POST registered-models/alias`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::SetAlias)]
pub struct AliasBody {
    /// The registered model.
    name: String,
    /// The alias.
    #[schema(schema_with = schema::alias)]
    alias: String,
    /// The version it points to.
    #[schema(schema_with = schema::int64)]
    version: Value,
}

/// `DELETE registered-models/alias`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::DeleteAlias)]
pub struct AliasRef {
    /// The registered model.
    name: String,
    /// The alias.
    alias: String,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/alias", tag = "mlflow", request_body = AliasBody, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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
            let version = version_in(Some(&b.version))?;
            s.registry
                .set_model_alias(&b.name, &b.alias, version)
                .await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/alias", tag = "mlflow", params(AliasQuery), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET registered-models/alias`: the version an alias points to.
pub async fn get_alias(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AliasQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let (name, alias) = (q.name, q.alias);
    let m = s.registry.registered_model(&name).await?;
    let Some((_, version)) = m.aliases.iter().find(|(a, _)| *a == alias) else {
        return Err(MlflowError::missing(format!(
            "Registered model alias {alias} not found."
        )));
    };
    Ok(Json(
        json!({"model_version": version_json(&s.registry.model_version(&name, *version).await?)}),
    ))
}

#[utoipa::path(delete, path = "/api/2.0/mlflow/registered-models/alias", tag = "mlflow", request_body = AliasRef, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `DELETE registered-models/alias` (deployer).
pub async fn delete_alias(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let AliasRef { name, alias } = body(&raw)?;
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

/// `model-versions/create`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::CreateModelVersion)]
pub struct CreateVersion {
    /// The registered model.
    name: String,
    /// Where its files are (`runs:/RUN/PATH`, `models:/ID`, ...).
    #[serde(default)]
    source: String,
    /// The run that produced it.
    run_id: Option<String>,
    /// The logged model it registers.
    model_id: Option<String>,
    /// What it is.
    #[serde(default)]
    description: String,
    /// Its tags.
    #[serde(default)]
    tags: Vec<ModelTag>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/model-versions/create", tag = "mlflow", request_body = CreateVersion, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow/model-versions/get", tag = "mlflow", params(VersionQuery), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET model-versions/get`.
pub async fn get_model_version(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<VersionQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let v = s.registry.model_version(&q.name, q.number()?).await?;
    Ok(Json(json!({"model_version": version_json(&v)})))
}

/// `model-versions/transition-stage`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::TransitionStage)]
pub struct Transition {
    /// The registered model.
    name: String,
    /// The version's number.
    #[schema(schema_with = schema::int64)]
    version: Value,
    /// Its new stage.
    #[schema(schema_with = schema::stage)]
    stage: String,
    /// Whether the versions in that stage move to Archived.
    #[serde(default)]
    archive_existing_versions: bool,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/model-versions/transition-stage", tag = "mlflow", request_body = Transition, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow/model-versions/get-download-uri", tag = "mlflow", params(VersionQuery), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET model-versions/get-download-uri`: a logged model's files, or the version's source.
pub async fn download_uri(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<VersionQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let v = s.registry.model_version(&q.name, q.number()?).await?;
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
    Err(MlflowError::from(ferry_registry::RegistryError::State(
        format!(
            "version {} of {:?}: its source {:?} names a chain of copies too long to follow",
            v.version, v.name, v.source
        ),
    )))
}
