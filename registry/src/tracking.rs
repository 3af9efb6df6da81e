//! Experiment tracking: experiments, runs, parameters (immutable once logged), metrics (many
//! values per key, by step and timestamp) and tags.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{now_ms, pairs};
use crate::rules::{check_experiment_name, check_key, check_value};
use crate::{Registry, RegistryError};

/// An experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Experiment {
    /// Its id (a decimal number, as MLflow spells ids).
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// Where its runs' artifacts go.
    pub artifact_location: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last changed (ms since the epoch).
    pub updated_at: i64,
    /// Its tags.
    #[schema(value_type = Vec<Vec<String>>)]
    pub tags: Vec<(String, String)>,
}

/// A run's status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// In progress.
    Running,
    /// Waiting to start.
    Scheduled,
    /// Ended well.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped.
    Killed,
}

impl RunStatus {
    /// The status as stored (MLflow's spelling).
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Parses a stored status.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        Ok(match s {
            "RUNNING" => RunStatus::Running,
            "SCHEDULED" => RunStatus::Scheduled,
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            other => {
                return Err(RegistryError::Invalid(format!(
                    "run status {other:?} is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"
                )));
            }
        })
    }
}

/// Which runs a search sees (MLflow's `run_view_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunView {
    /// Runs not deleted (the default).
    #[default]
    ActiveOnly,
    /// Deleted runs only.
    DeletedOnly,
    /// Both.
    All,
}

impl RunView {
    /// From `ACTIVE_ONLY`, `DELETED_ONLY` or `ALL`.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        match s {
            "ACTIVE_ONLY" => Ok(Self::ActiveOnly),
            "DELETED_ONLY" => Ok(Self::DeletedOnly),
            "ALL" => Ok(Self::All),
            other => Err(RegistryError::Invalid(format!(
                "run view {other:?}: expected ACTIVE_ONLY, DELETED_ONLY or ALL"
            ))),
        }
    }

    fn condition(self) -> &'static str {
        match self {
            Self::ActiveOnly => "lifecycle_stage = 'active'",
            Self::DeletedOnly => "lifecycle_stage = 'deleted'",
            Self::All => "1 = 1",
        }
    }
}

/// What a run is, without its data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RunInfo {
    /// 32 hex digits.
    pub id: String,
    /// Its experiment.
    pub experiment_id: String,
    /// Its name.
    pub name: String,
    /// Its status.
    pub status: RunStatus,
    /// Who ran it.
    pub user_id: String,
    /// Started (ms since the epoch).
    pub start_time: i64,
    /// Ended, if it has.
    pub end_time: Option<i64>,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    /// Where its artifacts go.
    pub artifact_uri: String,
}

/// One value of a metric.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metric<'a> {
    /// The metric's key.
    #[serde(borrow)]
    pub key: &'a str,
    /// The value (NaN and infinities are kept).
    pub value: f64,
    /// The step it belongs to.
    pub step: i64,
    /// When it was measured (ms since the epoch).
    pub timestamp: i64,
}

/// A stored metric value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MetricValue {
    /// The metric's key.
    pub key: String,
    /// The value.
    #[schema(value_type = Option<f64>)]
    pub value: f64,
    /// The step.
    pub step: i64,
    /// When it was measured (ms since the epoch).
    pub timestamp: i64,
}

/// A run with its parameters, the latest value of each metric, and its tags.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Run {
    /// The run.
    pub info: RunInfo,
    /// Parameters, by key.
    pub params: Vec<(String, String)>,
    /// For each metric, its value at the highest step (the latest timestamp breaking ties).
    pub metrics: Vec<MetricValue>,
    /// Tags, by key.
    pub tags: Vec<(String, String)>,
}

fn random_run_id() -> Result<String, RegistryError> {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf)
        .map_err(|e| RegistryError::Database(format!("no randomness for a run id: {e}")))?;
    Ok(hex::encode(buf))
}

fn experiment_id(id: &str) -> Result<i64, RegistryError> {
    id.parse()
        .map_err(|_| RegistryError::NotFound(format!("experiment {id:?}")))
}

fn run_info(row: &AnyRow) -> Result<RunInfo, RegistryError> {
    Ok(RunInfo {
        id: row.try_get("id")?,
        experiment_id: row.try_get::<i64, _>("experiment_id")?.to_string(),
        name: row.try_get("name")?,
        status: RunStatus::parse(&row.try_get::<String, _>("status")?)?,
        user_id: row.try_get("user_id")?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        lifecycle_stage: row.try_get("lifecycle_stage")?,
        artifact_uri: row.try_get("artifact_uri")?,
    })
}

/// A metric's value as stored: the value and `is_nan`. A NaN is stored as 0 with `is_nan`
/// set, never as a NULL parameter: in the metric INSERT … SELECT, PostgreSQL would type a NULL
/// first seen on a connection as text and refuse every float sent later to that cached
/// statement.
fn stored_value(v: f64) -> (f64, i64) {
    if v.is_nan() { (0.0, 1) } else { (v, 0) }
}

fn metric_value(row: &AnyRow) -> Result<MetricValue, RegistryError> {
    let nan: i64 = row.try_get("is_nan")?;
    Ok(MetricValue {
        key: row.try_get("key")?,
        value: if nan != 0 {
            f64::NAN
        } else {
            row.try_get::<Option<f64>, _>("value")?.unwrap_or(f64::NAN)
        },
        step: row.try_get("step")?,
        timestamp: row.try_get("timestamp")?,
    })
}

/// A run's parameters, tags and latest metrics.
type Details = (
    Vec<(String, String)>,
    Vec<(String, String)>,
    Vec<MetricValue>,
);

/// The runs a query reads: one by id, or the active runs of some experiments.
enum Scope<'a> {
    Run(&'a str),
    Experiments(&'a [i64], RunView),
}

impl Scope<'_> {
    /// The experiment ids, as SQL (numbers, so nothing to escape).
    fn id_list(&self) -> String {
        match self {
            Scope::Run(_) => String::new(),
            Scope::Experiments(ids, _) => ids
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// The condition on `run_id` that selects these runs (`$1` is the run's id).
    fn condition(&self) -> String {
        match self {
            Scope::Run(_) => "run_id = $1".into(),
            Scope::Experiments(_, view) => format!(
                "run_id IN (SELECT id FROM runs WHERE {} AND experiment_id IN ({}))",
                view.condition(),
                self.id_list()
            ),
        }
    }

    async fn fetch(&self, r: &Registry, sql: &str) -> Result<Vec<AnyRow>, RegistryError> {
        let query = sqlx::query(sql);
        let query = match self {
            Scope::Run(id) => query.bind(*id),
            Scope::Experiments(..) => query,
        };
        Ok(query.fetch_all(r.db().pool()).await?)
    }
}

const EXPERIMENT_COLUMNS: &str =
    "id, name, artifact_location, lifecycle_stage, created_at, updated_at";
const RUN_COLUMNS: &str =
    "id, experiment_id, name, status, user_id, start_time, end_time, lifecycle_stage, artifact_uri";

/// Tags under this prefix are Ferry's: once set, they never change or go.
pub const FERRY_TAGS: &str = "ferry.";

/// The tag `ferry train` sets on every run it records.
pub const RECORDED_BY_FERRY: &str = "ferry.pipeline";

impl Registry {
    /// Creates an experiment; a name already taken is a conflict.
    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
    ) -> Result<Experiment, RegistryError> {
        check_experiment_name(name)?;
        let name = name.trim();
        let now = now_ms();
        let inserted = sqlx::query("INSERT INTO experiments (name, artifact_location, lifecycle_stage, created_at, updated_at) VALUES ($1, '', 'active', $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now)
            .bind(now)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(RegistryError::Conflict(format!(
                "an experiment named {name:?} already exists"
            )));
        }
        let mut e = self.experiment_by_name(name).await?;
        let location = artifact_location
            .map(str::to_string)
            .unwrap_or_else(|| format!("mlflow-artifacts:/{}", e.id));
        sqlx::query("UPDATE experiments SET artifact_location = $1 WHERE id = $2")
            .bind(&location)
            .bind(experiment_id(&e.id)?)
            .execute(self.db().pool())
            .await?;
        e.artifact_location = location;
        Ok(e)
    }

    async fn experiment_from(
        &self,
        row: Option<AnyRow>,
        what: String,
    ) -> Result<Experiment, RegistryError> {
        let row = row.ok_or(RegistryError::NotFound(what))?;
        let id: i64 = row.try_get("id")?;
        let tags = pairs(
            &sqlx::query(
                "SELECT key, value FROM experiment_tags WHERE experiment_id = $1 ORDER BY key",
            )
            .bind(id)
            .fetch_all(self.db().pool())
            .await?,
        )?;
        Ok(Experiment {
            id: id.to_string(),
            name: row.try_get("name")?,
            artifact_location: row.try_get("artifact_location")?,
            lifecycle_stage: row.try_get("lifecycle_stage")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            tags,
        })
    }

    /// The experiment with this id.
    pub async fn experiment(&self, id: &str) -> Result<Experiment, RegistryError> {
        let row = sqlx::query(&format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE id = $1"
        ))
        .bind(experiment_id(id)?)
        .fetch_optional(self.db().pool())
        .await?;
        self.experiment_from(row, format!("experiment {id}")).await
    }

    /// The experiment with this name.
    pub async fn experiment_by_name(&self, name: &str) -> Result<Experiment, RegistryError> {
        let row = sqlx::query(&format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.db().pool())
        .await?;
        self.experiment_from(row, format!("experiment {name:?}"))
            .await
    }

    /// Every experiment, by id.
    pub async fn experiments(&self) -> Result<Vec<Experiment>, RegistryError> {
        let ids: Vec<i64> = sqlx::query("SELECT id FROM experiments ORDER BY id")
            .fetch_all(self.db().pool())
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.experiment(&id.to_string()).await?);
        }
        Ok(out)
    }

    /// Sets (or replaces) a tag of an experiment.
    pub async fn set_experiment_tag(
        &self,
        id: &str,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        check_key("tag", key)?;
        check_value("tag", key, value)?;
        let eid = experiment_id(id)?;
        self.experiment(id).await?;
        sqlx::query("INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value")
            .bind(eid)
            .bind(key)
            .bind(value)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Removes a tag of an experiment.
    pub async fn delete_experiment_tag(&self, id: &str, key: &str) -> Result<(), RegistryError> {
        let eid = experiment_id(id)?;
        self.experiment(id).await?;
        let gone = sqlx::query("DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2")
            .bind(eid)
            .bind(key)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(RegistryError::NotFound(format!(
                "tag {key:?} of experiment {id}"
            )));
        }
        Ok(())
    }

    /// Renames an active experiment. Its runs keep their files: artifact locations name the
    /// experiment by id.
    pub async fn rename_experiment(&self, id: &str, new_name: &str) -> Result<(), RegistryError> {
        check_experiment_name(new_name)?;
        let new_name = new_name.trim();
        let eid = experiment_id(id)?;
        let e = self.experiment(id).await?;
        if e.lifecycle_stage != "active" {
            return Err(RegistryError::State(format!(
                "experiment {id} is deleted; restore it before renaming it"
            )));
        }
        if e.name == new_name {
            return Ok(());
        }
        let result = sqlx::query("UPDATE experiments SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(new_name)
            .bind(now_ms())
            .bind(eid)
            .execute(self.db().pool())
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                Err(RegistryError::Conflict(format!(
                    "experiment {new_name:?} already exists"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Starts a run in an experiment.
    pub async fn create_run(
        &self,
        experiment: &str,
        name: Option<&str>,
        user: &str,
        start_time: Option<i64>,
    ) -> Result<RunInfo, RegistryError> {
        let e = self.experiment(experiment).await?;
        if e.lifecycle_stage != "active" {
            return Err(RegistryError::State(format!(
                "experiment {experiment} is deleted"
            )));
        }
        let id = random_run_id()?;
        let name = name
            .filter(|n| !n.trim().is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("run-{}", &id[..8]));
        let artifact_uri = format!(
            "{}/{id}/artifacts",
            e.artifact_location.trim_end_matches('/')
        );
        sqlx::query("INSERT INTO runs (id, experiment_id, name, status, user_id, start_time, lifecycle_stage, artifact_uri) VALUES ($1, $2, $3, 'RUNNING', $4, $5, 'active', $6)")
            .bind(&id)
            .bind(experiment_id(experiment)?)
            .bind(&name)
            .bind(user)
            .bind(start_time.unwrap_or_else(now_ms))
            .bind(&artifact_uri)
            .execute(self.db().pool())
            .await?;
        Ok(self.run(&id).await?.info)
    }

    async fn run_info(&self, id: &str) -> Result<RunInfo, RegistryError> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("run {id:?}")))?;
        run_info(&row)
    }

    /// A run that may be written to: one not deleted, as MLflow requires.
    async fn active_run_info(&self, id: &str) -> Result<RunInfo, RegistryError> {
        let info = self.run_info(id).await?;
        if info.lifecycle_stage != "active" {
            return Err(RegistryError::State(format!(
                "run {id} is deleted: restore it before logging to it"
            )));
        }
        Ok(info)
    }

    /// Deletes a run (it stays stored, and `restore_run` brings it back): searches and lists
    /// no longer show it, and nothing more can be logged to it. Model versions it produced
    /// keep their lineage.
    pub async fn delete_run(&self, id: &str) -> Result<(), RegistryError> {
        self.set_run_lifecycle(id, "deleted").await
    }

    /// Restores a deleted run.
    pub async fn restore_run(&self, id: &str) -> Result<(), RegistryError> {
        let info = self.run_info(id).await?;
        let e = self.experiment(&info.experiment_id).await?;
        if e.lifecycle_stage != "active" {
            return Err(RegistryError::State(format!(
                "run {id} belongs to the deleted experiment {}: restore the experiment",
                e.id
            )));
        }
        self.set_run_lifecycle(id, "active").await
    }

    async fn set_run_lifecycle(&self, id: &str, stage: &str) -> Result<(), RegistryError> {
        let changed = sqlx::query("UPDATE runs SET lifecycle_stage = $1 WHERE id = $2")
            .bind(stage)
            .bind(id)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(RegistryError::NotFound(format!("run {id:?}")));
        }
        Ok(())
    }

    /// Deletes an experiment and its runs (restorable, as MLflow does). The default
    /// experiment cannot be deleted.
    pub async fn delete_experiment(&self, id: &str) -> Result<(), RegistryError> {
        let eid = experiment_id(id)?;
        if eid == 0 {
            return Err(RegistryError::State(
                "the default experiment (0) cannot be deleted".into(),
            ));
        }
        self.set_experiment_lifecycle(eid, "active", "deleted")
            .await
    }

    /// Restores a deleted experiment and the runs deleted with it.
    pub async fn restore_experiment(&self, id: &str) -> Result<(), RegistryError> {
        self.set_experiment_lifecycle(experiment_id(id)?, "deleted", "active")
            .await
    }

    async fn set_experiment_lifecycle(
        &self,
        eid: i64,
        from: &str,
        to: &str,
    ) -> Result<(), RegistryError> {
        let e = self.experiment(&eid.to_string()).await?;
        if e.lifecycle_stage == to {
            return Ok(());
        }
        let mut tx = self.db().pool().begin().await?;
        sqlx::query("UPDATE experiments SET lifecycle_stage = $1, updated_at = $2 WHERE id = $3")
            .bind(to)
            .bind(now_ms())
            .bind(eid)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE runs SET lifecycle_stage = $1 WHERE experiment_id = $2 AND lifecycle_stage = $3",
        )
        .bind(to)
        .bind(eid)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A run with its parameters, latest metrics and tags.
    pub async fn run(&self, id: &str) -> Result<Run, RegistryError> {
        let info = self.run_info(id).await?;
        let mut details = self.run_details(&Scope::Run(id)).await?;
        let (params, tags, metrics) = details.remove(id).unwrap_or_default();
        Ok(Run {
            info,
            params,
            metrics,
            tags,
        })
    }

    /// The parameters, tags and latest metrics of the runs in `scope`, by run id: three
    /// queries, however many runs and however long their metric histories.
    async fn run_details(
        &self,
        scope: &Scope<'_>,
    ) -> Result<HashMap<String, Details>, RegistryError> {
        let condition = scope.condition();
        let mut out: HashMap<String, Details> = HashMap::new();
        for (table, slot) in [("run_params", 0), ("run_tags", 1)] {
            let rows = scope
                .fetch(
                    self,
                    &format!("SELECT run_id, key, value FROM {table} WHERE {condition} ORDER BY run_id, key"),
                )
                .await?;
            for row in &rows {
                let entry = out.entry(row.try_get("run_id")?).or_default();
                let pair = (row.try_get("key")?, row.try_get("value")?);
                if slot == 0 {
                    entry.0.push(pair);
                } else {
                    entry.1.push(pair);
                }
            }
        }
        let rows = scope
            .fetch(
                self,
                &format!("SELECT run_id, key, value, is_nan, step, timestamp FROM run_latest_metrics WHERE {condition} ORDER BY run_id, key"),
            )
            .await?;
        for row in &rows {
            out.entry(row.try_get("run_id")?)
                .or_default()
                .2
                .push(metric_value(row)?);
        }
        Ok(out)
    }

    /// Logs a parameter. A parameter is immutable: the same value again is accepted, another
    /// value is refused.
    pub async fn log_param(&self, run: &str, key: &str, value: &str) -> Result<(), RegistryError> {
        check_key("param", key)?;
        check_value("param", key, value)?;
        self.active_run_info(run).await?;
        let inserted = sqlx::query("INSERT INTO run_params (run_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_id, key) DO NOTHING")
            .bind(run)
            .bind(key)
            .bind(value)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if inserted == 0 {
            let existing: String =
                sqlx::query("SELECT value FROM run_params WHERE run_id = $1 AND key = $2")
                    .bind(run)
                    .bind(key)
                    .fetch_one(self.db().pool())
                    .await?
                    .try_get("value")?;
            if existing != value {
                return Err(RegistryError::State(format!(
                    "param {key:?} of run {run} was logged as {existing:?} and cannot be changed to {value:?}"
                )));
            }
        }
        Ok(())
    }

    /// Logs one value of a metric.
    pub async fn log_metric(&self, run: &str, metric: Metric<'_>) -> Result<(), RegistryError> {
        self.log_metrics(run, &[metric]).await
    }

    /// Logs several metric values at once, in one transaction.
    pub async fn log_metrics(
        &self,
        run: &str,
        metrics: &[Metric<'_>],
    ) -> Result<(), RegistryError> {
        for m in metrics {
            check_key("metric", m.key)?;
        }
        self.active_run_info(run).await?;
        let mut tx = self.db().pool().begin().await?;
        // By key, so that concurrent writers lock the latest rows in the same order.
        let mut latest: BTreeMap<&str, &Metric<'_>> = BTreeMap::new();
        for m in metrics {
            let (value, nan) = stored_value(m.value);
            // An identical point (key, value, step and timestamp) is kept once, as MLflow does;
            // one statement, so that concurrent writers never upgrade a read lock.
            let inserted = sqlx::query("INSERT INTO run_metrics (run_id, key, value, is_nan, step, timestamp) SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM run_metrics WHERE run_id = $1 AND key = $2 AND step = $5 AND timestamp = $6 AND is_nan = $4 AND (is_nan = 1 OR value = $7))")
                .bind(run)
                .bind(m.key)
                .bind(value)
                .bind(nan)
                .bind(m.step)
                .bind(m.timestamp)
                .bind(value)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // The latest value per key: a higher step, or the same step at the same time or
            // later (the last logged wins a tie).
            if inserted == 1 {
                match latest.get(m.key) {
                    Some(l) if (m.step, m.timestamp) < (l.step, l.timestamp) => {}
                    _ => {
                        latest.insert(m.key, m);
                    }
                }
            }
        }
        for m in latest.values() {
            let (value, nan) = stored_value(m.value);
            sqlx::query("INSERT INTO run_latest_metrics (run_id, key, value, is_nan, step, timestamp) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, timestamp = excluded.timestamp WHERE excluded.step > run_latest_metrics.step OR (excluded.step = run_latest_metrics.step AND excluded.timestamp >= run_latest_metrics.timestamp)")
                .bind(run)
                .bind(m.key)
                .bind(value)
                .bind(nan)
                .bind(m.step)
                .bind(m.timestamp)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every value of a metric, by step then timestamp.
    pub async fn metric_history(
        &self,
        run: &str,
        key: &str,
    ) -> Result<Vec<MetricValue>, RegistryError> {
        self.run_info(run).await?;
        sqlx::query("SELECT key, value, is_nan, step, timestamp FROM run_metrics WHERE run_id = $1 AND key = $2 ORDER BY step, timestamp, id")
            .bind(run)
            .bind(key)
            .fetch_all(self.db().pool())
            .await?
            .iter()
            .map(metric_value)
            .collect()
    }

    /// Sets (or replaces) a tag of a run.
    pub async fn set_run_tag(
        &self,
        run: &str,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        check_key("tag", key)?;
        check_value("tag", key, value)?;
        self.active_run_info(run).await?;
        if key.starts_with(FERRY_TAGS) {
            let held = self.run_tag(run, key).await?;
            if held.as_deref().is_some_and(|v| v != value) {
                return Err(RegistryError::Conflict(format!(
                    "tag {key:?} of run {run} was set by Ferry and cannot change"
                )));
            }
        }
        sqlx::query("INSERT INTO run_tags (run_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value")
            .bind(run)
            .bind(key)
            .bind(value)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Removes a tag of an active run.
    pub async fn delete_run_tag(&self, run: &str, key: &str) -> Result<(), RegistryError> {
        self.active_run_info(run).await?;
        if key.starts_with(FERRY_TAGS) {
            return Err(RegistryError::Conflict(format!(
                "tag {key:?} of run {run} was set by Ferry and cannot be removed"
            )));
        }
        let gone = sqlx::query("DELETE FROM run_tags WHERE run_id = $1 AND key = $2")
            .bind(run)
            .bind(key)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(RegistryError::NotFound(format!("tag {key:?} of run {run}")));
        }
        Ok(())
    }

    /// One tag of a run, if it is set.
    async fn run_tag(&self, run: &str, key: &str) -> Result<Option<String>, RegistryError> {
        let row = sqlx::query("SELECT value FROM run_tags WHERE run_id = $1 AND key = $2")
            .bind(run)
            .bind(key)
            .fetch_optional(self.db().pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("value")?),
            None => None,
        })
    }

    /// Changes a run's status, end time or name. A run `ferry train` recorded (it has the
    /// `ferry.pipeline` tag) is never re-opened once it has ended.
    pub async fn update_run(
        &self,
        run: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        name: Option<&str>,
    ) -> Result<RunInfo, RegistryError> {
        let info = self.active_run_info(run).await?;
        if status == Some(RunStatus::Running)
            && info.status != RunStatus::Running
            && self.run_tag(run, RECORDED_BY_FERRY).await?.is_some()
        {
            return Err(RegistryError::Conflict(format!(
                "run {run} was recorded by `ferry train` and has ended ({}); it cannot be re-opened",
                info.status.name()
            )));
        }
        sqlx::query("UPDATE runs SET status = $1, end_time = $2, name = $3 WHERE id = $4")
            .bind(status.unwrap_or(info.status).name())
            .bind(end_time.or(info.end_time))
            .bind(name.map(str::to_string).unwrap_or(info.name))
            .bind(run)
            .execute(self.db().pool())
            .await?;
        self.run_info(run).await
    }

    /// The active runs of some experiments, newest first.
    pub async fn runs(&self, experiments: &[String]) -> Result<Vec<Run>, RegistryError> {
        self.runs_in_view(experiments, RunView::ActiveOnly).await
    }

    /// The runs of some experiments that `view` sees, newest first.
    pub async fn runs_in_view(
        &self,
        experiments: &[String],
        view: RunView,
    ) -> Result<Vec<Run>, RegistryError> {
        let ids = experiments
            .iter()
            .map(|e| experiment_id(e))
            .collect::<Result<Vec<i64>, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let scope = Scope::Experiments(&ids, view);
        let rows = scope
            .fetch(
                self,
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE {} AND experiment_id IN ({})",
                    view.condition(),
                    scope.id_list()
                ),
            )
            .await?;
        let mut details = self.run_details(&scope).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let info = run_info(row)?;
            let (params, tags, metrics) = details.remove(&info.id).unwrap_or_default();
            out.push(Run {
                info,
                params,
                metrics,
                tags,
            });
        }
        out.sort_by(|a, b| {
            b.info
                .start_time
                .cmp(&a.info.start_time)
                .then(a.info.id.cmp(&b.info.id))
        });
        Ok(out)
    }
}
