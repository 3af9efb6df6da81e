//! MLflow's experiments, runs, params, metrics and tags.

use crate::error::MlflowErrorBody;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::HeaderMap;
use ferry_registry::{
    Experiment, Metric, MetricValue, Role, Run, RunFilter, RunOrder, RunStatus, RunView, now_ms,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{KeyValue, MlflowError, body, int_of, key_values, page, reader, with_token, write};
use crate::AppState;
use crate::schema;

type Answer = Result<Json<Value>, MlflowError>;

/// A float as MLflow's JSON spells it (NaN and infinities as strings).
pub fn number(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

fn metric_json(m: &MetricValue) -> Value {
    json!({"key": m.key, "value": number(m.value), "timestamp": m.timestamp, "step": m.step})
}

/// An experiment as MLflow returns it.
pub fn experiment_json(e: &Experiment) -> Value {
    json!({
        "experiment_id": e.id, "name": e.name, "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage, "creation_time": e.created_at,
        "last_update_time": e.updated_at, "tags": key_values(&e.tags),
    })
}

/// A run as MLflow returns it.
pub fn run_json(r: &Run) -> Value {
    let i = &r.info;
    let mut info = json!({
        "run_id": i.id, "run_uuid": i.id, "experiment_id": i.experiment_id, "run_name": i.name,
        "user_id": i.user_id, "status": i.status.name(), "start_time": i.start_time,
        "artifact_uri": i.artifact_uri, "lifecycle_stage": i.lifecycle_stage,
    });
    if let Some(end) = i.end_time {
        info["end_time"] = json!(end);
    }
    json!({
        "info": info,
        "data": {
            "metrics": r.metrics.iter().map(metric_json).collect::<Vec<_>>(),
            "params": key_values(&r.params),
            "tags": key_values(&r.tags),
        },
        "inputs": {},
        "outputs": {},
    })
}

/// A value that may come as a JSON number or a string ("0.5", "NaN").
fn float_of(v: &Value, what: &str) -> Result<f64, MlflowError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| MlflowError::invalid(format!("{what}: not a number"))),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| MlflowError::invalid(format!("{what}: {other:?} is not a number"))),
        },
        _ => Err(MlflowError::invalid(format!(
            "{what}: missing or not a number"
        ))),
    }
}

/// Query with an experiment's name.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ByName {
    /// The experiment's name.
    experiment_name: String,
}

#[utoipa::path(get, path = "/api/2.0/mlflow/experiments/get-by-name", tag = "mlflow", params(ByName), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET experiments/get-by-name`.
pub async fn experiment_by_name(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ByName>,
) -> Answer {
    reader(&s, &headers).await?;
    let e = s.registry.experiment_by_name(&q.experiment_name).await?;
    Ok(Json(json!({"experiment": experiment_json(&e)})))
}

/// Query with an experiment's id.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ById {
    /// The experiment's id.
    experiment_id: String,
}

#[utoipa::path(get, path = "/api/2.0/mlflow/experiments/get", tag = "mlflow", params(ById), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET experiments/get`.
pub async fn experiment(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ById>,
) -> Answer {
    reader(&s, &headers).await?;
    let e = s.registry.experiment(&q.experiment_id).await?;
    Ok(Json(json!({"experiment": experiment_json(&e)})))
}

/// `experiments/create`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::CreateExperiment)]
pub struct CreateExperiment {
    /// Its name.
    #[schema(schema_with = schema::experiment_name)]
    name: String,
    /// Must be empty: Ferry keeps artifacts in its blob store.
    #[schema(schema_with = schema::nothing)]
    artifact_location: Option<String>,
    /// Its tags.
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/experiments/create", tag = "mlflow", request_body = CreateExperiment, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST experiments/create`.
pub async fn create_experiment(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: CreateExperiment = body(&raw)?;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "experiments.create",
        &format!("experiment:{}", b.name),
        async |_| {
            if b.artifact_location
                .as_deref()
                .is_some_and(|l| !l.is_empty())
            {
                return Err(MlflowError::invalid(
                    "artifact_location: Ferry keeps artifacts in its blob store; leave it out",
                ));
            }
            let e = s.registry.create_experiment(&b.name, None).await?;
            for t in &b.tags {
                s.registry
                    .set_experiment_tag(&e.id, &t.key, &t.value)
                    .await?;
            }
            Ok(json!({"experiment_id": e.id}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// A search of experiments, from a query string or a JSON body.
#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
#[schema(as = mlflow::SearchExperiments)]
#[into_params(parameter_in = Query)]
pub struct SearchExperiments {
    /// Which experiments: `ACTIVE_ONLY` (the default), `DELETED_ONLY` or `ALL`.
    #[schema(schema_with = schema::view_type)]
    #[param(schema_with = schema::view_type)]
    view_type: Option<String>,
    /// Which experiments, in MLflow's search syntax.
    #[serde(default)]
    #[schema(schema_with = schema::filter)]
    #[param(schema_with = schema::filter)]
    filter: Option<String>,
    /// Orders, e.g. `name ASC` (in a query string, the key repeats).
    #[serde(default, deserialize_with = "super::one_or_many")]
    order_by: Vec<String>,
    /// At most this many (1 to 50,000; 1,000 when left out).
    #[schema(schema_with = schema::int64)]
    #[param(schema_with = schema::integer_text)]
    max_results: Option<Value>,
    /// The page after the one this token came with.
    #[schema(schema_with = schema::page_token)]
    #[param(schema_with = schema::page_token)]
    page_token: Option<String>,
}

async fn search_experiments_with(s: &AppState, q: SearchExperiments) -> Answer {
    let view = q
        .view_type
        .as_deref()
        .map(RunView::parse)
        .transpose()?
        .unwrap_or_default();
    let filter = RunFilter::parse(q.filter.as_deref().unwrap_or(""))?;
    let order = q
        .order_by
        .iter()
        .map(|o| RunOrder::parse(o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut list: Vec<Experiment> = s
        .registry
        .experiments()
        .await?
        .into_iter()
        .filter(|e| match view {
            RunView::ActiveOnly => e.lifecycle_stage == "active",
            RunView::DeletedOnly => e.lifecycle_stage == "deleted",
            RunView::All => true,
        })
        .filter(|e| filter.matches(e))
        .collect();
    list.sort_by(|a, b| {
        RunOrder::compare_all(&order, a, b)
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| {
                let id = |e: &Experiment| e.id.parse::<i64>().unwrap_or(i64::MAX);
                id(a).cmp(&id(b))
            })
    });
    let max = int_of(q.max_results.as_ref(), 1000)?.clamp(1, 50_000) as usize;
    let (list, next) = page(list, max, q.page_token.as_deref())?;
    Ok(Json(with_token(
        json!({"experiments": list.iter().map(experiment_json).collect::<Vec<_>>()}),
        next,
    )))
}

#[utoipa::path(get, path = "/api/2.0/mlflow/experiments/search", tag = "mlflow", params(SearchExperiments), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET experiments/search`.
pub async fn search_experiments(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    reader(&s, &headers).await?;
    let mut q = SearchExperiments::default();
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "view_type" => q.view_type = Some(v),
            "filter" => q.filter = Some(v),
            "order_by" => q.order_by.push(v),
            "max_results" => q.max_results = Some(Value::String(v)),
            "page_token" => q.page_token = Some(v),
            _ => {}
        }
    }
    search_experiments_with(&s, q).await
}

#[utoipa::path(post, path = "/api/2.0/mlflow/experiments/search", tag = "mlflow", request_body = Option<SearchExperiments>, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST experiments/search`.
pub async fn search_experiments_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    reader(&s, &headers).await?;
    search_experiments_with(&s, body(&raw)?).await
}

/// `experiments/update`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::UpdateExperiment)]
pub struct UpdateExperiment {
    /// The experiment.
    experiment_id: String,
    /// Its new name.
    #[schema(schema_with = schema::experiment_name)]
    new_name: String,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/experiments/update", tag = "mlflow", request_body = UpdateExperiment, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST experiments/update`: renames an experiment.
pub async fn update_experiment(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    let b: UpdateExperiment = body(&raw)?;
    let object = format!("experiment:{}", b.experiment_id);
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "experiments.update",
        &object,
        async |_| {
            s.registry
                .rename_experiment(&b.experiment_id, &b.new_name)
                .await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `experiments/set-experiment-tag` and `experiments/delete-experiment-tag`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::ExperimentTag)]
pub struct ExperimentTag {
    /// The experiment.
    experiment_id: String,
    /// The tag's key.
    #[schema(schema_with = schema::key)]
    key: String,
    /// The tag's value (not needed to delete it).
    #[serde(default)]
    #[schema(schema_with = schema::value)]
    value: String,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/experiments/set-experiment-tag", tag = "mlflow", request_body = ExperimentTag, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST experiments/set-experiment-tag`.
pub async fn set_experiment_tag(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    experiment_tag(&s, &headers, &raw, true).await
}

#[utoipa::path(post, path = "/api/2.0/mlflow/experiments/delete-experiment-tag", tag = "mlflow", request_body = ExperimentTag, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST experiments/delete-experiment-tag`.
pub async fn delete_experiment_tag(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    experiment_tag(&s, &headers, &raw, false).await
}

/// Sets (`set`) or deletes a tag of an experiment.
async fn experiment_tag(s: &AppState, headers: &HeaderMap, raw: &[u8], set: bool) -> Answer {
    let b: ExperimentTag = body(raw)?;
    let object = format!("experiment:{}", b.experiment_id);
    let action = if set {
        "experiments.set-tag"
    } else {
        "experiments.delete-tag"
    };
    let v = write(s, headers, Role::Publisher, action, &object, async |_| {
        if set {
            s.registry
                .set_experiment_tag(&b.experiment_id, &b.key, &b.value)
                .await?;
        } else {
            s.registry
                .delete_experiment_tag(&b.experiment_id, &b.key)
                .await?;
        }
        Ok(json!({}))
    })
    .await?;
    Ok(Json(v))
}

/// `runs/create`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::CreateRun)]
pub struct CreateRun {
    /// The experiment (the default experiment, 0, when left out).
    experiment_id: Option<String>,
    /// Who ran it (the caller when left out).
    user_id: Option<String>,
    /// When it started, in milliseconds since 1970.
    #[schema(schema_with = schema::int64)]
    start_time: Option<Value>,
    /// Its name (made up when left out).
    run_name: Option<String>,
    /// Its tags.
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/create", tag = "mlflow", request_body = Option<CreateRun>, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/create`.
pub async fn create_run(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: CreateRun = body(&raw)?;
    for t in &b.tags {
        ferry_registry::check_key("tag", &t.key)?;
    }
    let exp = b.experiment_id.clone().unwrap_or_else(|| "0".into());
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.create",
        &format!("experiment:{exp}"),
        async |who| {
            let name = b.run_name.clone().or_else(|| {
                b.tags
                    .iter()
                    .find(|t| t.key == "mlflow.runName")
                    .map(|t| t.value.clone())
            });
            let user = b
                .user_id
                .clone()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| who.actor());
            let start = match &b.start_time {
                None | Some(Value::Null) => None,
                Some(v) => Some(int_of(Some(v), 0)?),
            };
            let info = s
                .registry
                .create_run(&exp, name.as_deref(), &user, start)
                .await?;
            for t in &b.tags {
                s.registry.set_run_tag(&info.id, &t.key, &t.value).await?;
            }
            s.registry
                .set_run_tag(&info.id, "mlflow.runName", &info.name)
                .await?;
            Ok(json!({"run": run_json(&s.registry.run(&info.id).await?)}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// Query naming a run.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// The run.
    #[param(min_length = 1)]
    run_id: String,
    /// The run again, by its older name (MLflow's client sends both).
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
}

#[utoipa::path(get, path = "/api/2.0/mlflow/runs/get", tag = "mlflow", params(RunQuery), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET runs/get`.
pub async fn get_run(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RunQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    Ok(Json(
        json!({"run": run_json(&s.registry.run(&q.run_id).await?)}),
    ))
}

/// `runs/update`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::UpdateRun)]
pub struct UpdateRun {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
    /// The run again, by its older name.
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
    /// Its new status.
    #[schema(schema_with = schema::run_status)]
    status: Option<String>,
    /// When it ended, in milliseconds since 1970.
    #[schema(schema_with = schema::int64)]
    end_time: Option<Value>,
    /// Its new name.
    run_name: Option<String>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/update", tag = "mlflow", request_body = UpdateRun, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/update`.
pub async fn update_run(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: UpdateRun = body(&raw)?;
    let id = b.run_id.clone();
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.update",
        &format!("run:{id}"),
        async |_| {
            let status = b.status.as_deref().map(RunStatus::parse).transpose()?;
            let end = match &b.end_time {
                None | Some(Value::Null) => None,
                Some(v) => Some(int_of(Some(v), 0)?),
            };
            let info = s
                .registry
                .update_run(&id, status, end, b.run_name.as_deref())
                .await
                .map_err(MlflowError::unchangeable)?;
            if let Some(name) = &b.run_name {
                s.registry.set_run_tag(&id, "mlflow.runName", name).await?;
            }
            let run = s.registry.run(&info.id).await?;
            Ok(json!({"run_info": run_json(&run)["info"]}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `runs/delete` and `runs/restore`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::RunRef)]
pub struct RunRef {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
    /// The run again, by its older name.
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
}

/// `experiments/delete` and `experiments/restore`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::ExperimentRef)]
pub struct ExperimentRef {
    /// The experiment.
    experiment_id: String,
}

/// `POST runs/delete` and `runs/restore`: a run's lifecycle (it stays stored either way).
async fn run_lifecycle(s: &AppState, headers: &HeaderMap, raw: &[u8], delete: bool) -> Answer {
    let b: RunRef = body(raw)?;
    let id = b.run_id;
    let action = if delete {
        "runs.delete"
    } else {
        "runs.restore"
    };
    let v = write(
        s,
        headers,
        Role::Publisher,
        action,
        &format!("run:{id}"),
        async |_| {
            if delete {
                s.registry.delete_run(&id).await?;
            } else {
                s.registry.restore_run(&id).await?;
            }
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/delete", tag = "mlflow", request_body = RunRef, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/delete`.
pub async fn delete_run(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    run_lifecycle(&s, &headers, &raw, true).await
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/restore", tag = "mlflow", request_body = RunRef, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/restore`.
pub async fn restore_run(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    run_lifecycle(&s, &headers, &raw, false).await
}

/// `POST experiments/delete` and `experiments/restore`: an experiment with its runs.
async fn experiment_lifecycle(
    s: &AppState,
    headers: &HeaderMap,
    raw: &[u8],
    delete: bool,
) -> Answer {
    let b: ExperimentRef = body(raw)?;
    let action = if delete {
        "experiments.delete"
    } else {
        "experiments.restore"
    };
    let object = format!("experiment:{}", b.experiment_id);
    let v = write(s, headers, Role::Publisher, action, &object, async |_| {
        if delete {
            s.registry.delete_experiment(&b.experiment_id).await?;
        } else {
            s.registry.restore_experiment(&b.experiment_id).await?;
        }
        Ok(json!({}))
    })
    .await?;
    Ok(Json(v))
}

#[utoipa::path(post, path = "/api/2.0/mlflow/experiments/delete", tag = "mlflow", request_body = ExperimentRef, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST experiments/delete`.
pub async fn delete_experiment(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    experiment_lifecycle(&s, &headers, &raw, true).await
}

#[utoipa::path(post, path = "/api/2.0/mlflow/experiments/restore", tag = "mlflow", request_body = ExperimentRef, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST experiments/restore`.
pub async fn restore_experiment(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Answer {
    experiment_lifecycle(&s, &headers, &raw, false).await
}

/// `runs/log-parameter`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::LogParam)]
pub struct LogParam {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
    /// The run again, by its older name.
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
    /// The parameter's key.
    #[schema(schema_with = schema::key)]
    key: String,
    /// Its value (a number or boolean is kept as its JSON text).
    #[schema(schema_with = schema::param_value)]
    value: Value,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/log-parameter", tag = "mlflow", request_body = LogParam, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/log-parameter`.
pub async fn log_param(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: LogParam = body(&raw)?;
    let id = b.run_id.clone();
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.log-parameter",
        &format!("run:{id}"),
        async |_| {
            s.registry
                .log_param(&id, &b.key, &text_of(&b.value))
                .await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `runs/log-metric`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::LogMetric)]
pub struct LogMetric {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
    /// The run again, by its older name.
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
    /// The metric's key.
    #[schema(schema_with = schema::key)]
    key: String,
    /// Its value.
    #[schema(schema_with = schema::float)]
    value: Value,
    /// When, in milliseconds since 1970 (now when left out).
    #[schema(schema_with = schema::int64)]
    timestamp: Option<Value>,
    /// Its step (0 when left out).
    #[schema(schema_with = schema::int64)]
    step: Option<Value>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/log-metric", tag = "mlflow", request_body = LogMetric, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/log-metric`.
pub async fn log_metric(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: LogMetric = body(&raw)?;
    let id = b.run_id.clone();
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.log-metric",
        &format!("run:{id}"),
        async |_| {
            let m = Metric {
                key: &b.key,
                value: float_of(&b.value, &b.key)?,
                step: int_of(b.step.as_ref(), 0)?,
                timestamp: int_of(b.timestamp.as_ref(), now_ms())?,
            };
            s.registry.log_metric(&id, m).await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `runs/set-tag`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::SetTag)]
pub struct SetTag {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
    /// The run again, by its older name.
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
    /// The tag's key.
    #[schema(schema_with = schema::key)]
    key: String,
    /// Its value.
    #[serde(default)]
    #[schema(schema_with = schema::value)]
    value: String,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/set-tag", tag = "mlflow", request_body = SetTag, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/set-tag`.
pub async fn set_tag(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: SetTag = body(&raw)?;
    let id = b.run_id.clone();
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.set-tag",
        &format!("run:{id}"),
        async |_| {
            s.registry
                .set_run_tag(&id, &b.key, &b.value)
                .await
                .map_err(MlflowError::unchangeable)?;
            if b.key == "mlflow.runName" {
                s.registry
                    .update_run(&id, None, None, Some(&b.value))
                    .await?;
            }
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `runs/delete-tag`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::DeleteTag)]
pub struct DeleteTag {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
    /// The run again, by its older name.
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
    /// The tag's key.
    #[schema(schema_with = schema::key)]
    key: String,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/delete-tag", tag = "mlflow", request_body = DeleteTag, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/delete-tag`.
pub async fn delete_tag(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: DeleteTag = body(&raw)?;
    let id = b.run_id.clone();
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.delete-tag",
        &format!("run:{id}"),
        async |_| {
            s.registry
                .delete_run_tag(&id, &b.key)
                .await
                .map_err(MlflowError::unchangeable)?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// A metric of `runs/log-batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::BatchMetric)]
pub struct BatchMetric {
    /// The metric's key.
    #[schema(schema_with = schema::key)]
    key: String,
    /// Its value.
    #[schema(schema_with = schema::float)]
    value: Value,
    /// When, in milliseconds since 1970 (now when left out).
    #[schema(schema_with = schema::int64)]
    timestamp: Option<Value>,
    /// Its step (0 when left out).
    #[schema(schema_with = schema::int64)]
    step: Option<Value>,
}

/// `runs/log-batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::LogBatch)]
pub struct LogBatch {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
    /// The run again, by its older name.
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
    /// Up to 1,000 metrics.
    #[serde(default)]
    #[schema(max_items = 1000)]
    metrics: Vec<BatchMetric>,
    /// Up to 100 parameters.
    #[serde(default)]
    #[schema(max_items = 100)]
    params: Vec<KeyValue>,
    /// Up to 100 tags.
    #[serde(default)]
    #[schema(max_items = 100)]
    tags: Vec<KeyValue>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/log-batch", tag = "mlflow", request_body = LogBatch, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/log-batch`.
pub async fn log_batch(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: LogBatch = body(&raw)?;
    let id = b.run_id.clone();
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.log-batch",
        &format!("run:{id}"),
        async |_| {
            if b.metrics.len() > 1000 || b.params.len() > 100 || b.tags.len() > 100 {
                return Err(MlflowError::invalid(
                    "a batch holds at most 1000 metrics, 100 params and 100 tags",
                ));
            }
            for p in &b.params {
                s.registry.log_param(&id, &p.key, &p.value).await?;
            }
            let now = now_ms();
            let values = b
                .metrics
                .iter()
                .map(|m| {
                    Ok((
                        float_of(&m.value, &m.key)?,
                        int_of(m.step.as_ref(), 0)?,
                        int_of(m.timestamp.as_ref(), now)?,
                    ))
                })
                .collect::<Result<Vec<_>, MlflowError>>()?;
            let metrics: Vec<Metric<'_>> = b
                .metrics
                .iter()
                .zip(&values)
                .map(|(m, (value, step, timestamp))| Metric {
                    key: &m.key,
                    value: *value,
                    step: *step,
                    timestamp: *timestamp,
                })
                .collect();
            if !metrics.is_empty() {
                s.registry.log_metrics(&id, &metrics).await?;
            }
            for t in &b.tags {
                s.registry.set_run_tag(&id, &t.key, &t.value).await?;
            }
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `runs/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::SearchRuns)]
pub struct SearchRuns {
    /// The experiments to search (every one when empty).
    #[serde(default)]
    experiment_ids: Vec<String>,
    /// Which runs, in MLflow's search syntax.
    #[serde(default)]
    #[schema(schema_with = schema::filter)]
    filter: String,
    /// At most this many (1 to 50,000; 1,000 when left out).
    #[schema(schema_with = schema::int64)]
    max_results: Option<Value>,
    /// Orders, e.g. `metrics.rmse ASC`.
    #[serde(default)]
    order_by: Vec<String>,
    /// Which runs: `ACTIVE_ONLY` (the default), `DELETED_ONLY` or `ALL`.
    #[schema(schema_with = schema::view_type)]
    run_view_type: Option<String>,
    /// The page after the one this token came with.
    #[schema(schema_with = schema::page_token)]
    page_token: Option<String>,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/search", tag = "mlflow", request_body = Option<SearchRuns>, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/search`.
pub async fn search_runs(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    reader(&s, &headers).await?;
    let b: SearchRuns = body(&raw)?;
    let filter = RunFilter::parse(&b.filter)?;
    let order = b
        .order_by
        .iter()
        .map(|o| RunOrder::parse(o))
        .collect::<Result<Vec<_>, _>>()?;
    let max = int_of(b.max_results.as_ref(), 1000)?.clamp(1, 50_000) as usize;
    let view = match b.run_view_type.as_deref() {
        Some(v) => RunView::parse(v)?,
        None => RunView::ActiveOnly,
    };
    let runs = s
        .registry
        .search_runs(&b.experiment_ids, view, &filter, &order, usize::MAX)
        .await?;
    let (runs, next) = page(runs, max, b.page_token.as_deref())?;
    Ok(Json(with_token(
        json!({"runs": runs.iter().map(run_json).collect::<Vec<_>>()}),
        next,
    )))
}

/// A logged model a run produced.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::OutputModel)]
pub struct OutputModel {
    /// The logged model's id.
    #[schema(max_length = 36)]
    model_id: String,
}

/// `runs/outputs`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::LogOutputs)]
pub struct LogOutputs {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
    /// Up to 200 logged models it produced.
    #[serde(default)]
    #[schema(max_items = 200)]
    models: Vec<OutputModel>,
}

/// `runs/log-inputs` (its datasets are accepted and not kept yet).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = mlflow::LogInputs)]
pub struct LogInputs {
    /// The run.
    #[schema(schema_with = schema::run_id)]
    run_id: String,
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/outputs", tag = "mlflow", request_body = LogOutputs, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/outputs`: which logged models a run produced (kept as a run tag).
pub async fn log_outputs(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: LogOutputs = body(&raw)?;
    let id = b.run_id.clone();
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.outputs",
        &format!("run:{id}"),
        async |_| {
            let models: Vec<&str> = b.models.iter().map(|m| m.model_id.as_str()).collect();
            s.registry.run(&id).await?;
            if !models.is_empty() {
                s.registry
                    .set_run_tag(&id, "ferry.logged_models", &models.join(","))
                    .await?;
            }
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

#[utoipa::path(post, path = "/api/2.0/mlflow/runs/log-inputs", tag = "mlflow", request_body = LogInputs, responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `POST runs/log-inputs`: datasets are accepted and not kept yet.
pub async fn log_inputs(State(s): State<AppState>, headers: HeaderMap, raw: Bytes) -> Answer {
    let b: LogInputs = body(&raw)?;
    let id = b.run_id;
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "runs.log-inputs",
        &format!("run:{id}"),
        async |_| {
            s.registry.run(&id).await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// Query of `metrics/get-history`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The run.
    #[param(min_length = 1)]
    run_id: String,
    /// The run again, by its older name.
    #[serde(rename = "run_uuid")]
    _run_uuid: Option<String>,
    /// The metric.
    metric_key: String,
    /// Accepted and not used: the whole history is answered.
    #[param(schema_with = schema::integer_text)]
    #[serde(rename = "max_results")]
    _max_results: Option<String>,
}

#[utoipa::path(get, path = "/api/2.0/mlflow/metrics/get-history", tag = "mlflow", params(HistoryQuery), responses((status = 200, description = "MLflow's answer", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET metrics/get-history`.
pub async fn metric_history(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HistoryQuery>,
) -> Answer {
    reader(&s, &headers).await?;
    let history = s.registry.metric_history(&q.run_id, &q.metric_key).await?;
    Ok(Json(
        json!({"metrics": history.iter().map(metric_json).collect::<Vec<_>>()}),
    ))
}
