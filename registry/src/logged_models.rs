//! Logged models (MLflow 3): a model's files, params and tags under an experiment, with the
//! run that produced it.

use sqlx::Row;

use crate::db::{now_ms, pairs};
use crate::{Registry, RegistryError};

/// A logged model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LoggedModel {
    /// `m-` and 32 hex digits.
    pub id: String,
    /// Its experiment.
    pub experiment_id: String,
    /// Its name (the artifact path it was logged under, e.g. `model`).
    pub name: String,
    /// The run that produced it.
    pub source_run_id: Option<String>,
    /// `LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY` or `LOGGED_MODEL_UPLOAD_FAILED`.
    pub status: String,
    /// The flavor's model type, if given.
    pub model_type: String,
    /// Where its files are: `mlflow-artifacts:/EXPERIMENT/models/ID/artifacts`.
    pub artifact_uri: String,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last changed (ms since the epoch).
    pub updated_at: i64,
    /// Params, by key.
    #[schema(value_type = Vec<Vec<String>>)]
    pub params: Vec<(String, String)>,
    /// Tags, by key.
    #[schema(value_type = Vec<Vec<String>>)]
    pub tags: Vec<(String, String)>,
}

impl Registry {
    /// Creates a logged model, pending until its files are uploaded.
    pub async fn create_logged_model(
        &self,
        experiment: &str,
        name: &str,
        source_run: Option<&str>,
        model_type: &str,
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<LoggedModel, RegistryError> {
        let e = self.experiment(experiment).await?;
        if let Some(run) = source_run {
            self.run(run).await?;
        }
        let mut buf = [0u8; 16];
        getrandom::fill(&mut buf)
            .map_err(|e| RegistryError::Database(format!("no randomness for a model id: {e}")))?;
        let id = format!("m-{}", hex::encode(buf));
        let uri = format!(
            "{}/models/{id}/artifacts",
            e.artifact_location.trim_end_matches('/')
        );
        let now = now_ms();
        let eid: i64 =
            e.id.parse()
                .map_err(|_| RegistryError::NotFound(format!("experiment {experiment:?}")))?;
        let mut tx = self.db().pool().begin().await?;
        sqlx::query("INSERT INTO logged_models (id, experiment_id, name, source_run_id, status, model_type, artifact_uri, created_at, updated_at) VALUES ($1, $2, $3, $4, 'LOGGED_MODEL_PENDING', $5, $6, $7, $8)")
            .bind(&id)
            .bind(eid)
            .bind(name)
            .bind(source_run)
            .bind(model_type)
            .bind(&uri)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for (table, list) in [("logged_model_params", params), ("logged_model_tags", tags)] {
            for (k, v) in list {
                sqlx::query(&format!("INSERT INTO {table} (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"))
                    .bind(&id)
                    .bind(k)
                    .bind(v)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.logged_model(&id).await
    }

    /// A logged model with its params and tags.
    pub async fn logged_model(&self, id: &str) -> Result<LoggedModel, RegistryError> {
        let pool = self.db().pool();
        let row = sqlx::query("SELECT id, experiment_id, name, source_run_id, status, model_type, artifact_uri, created_at, updated_at FROM logged_models WHERE id = $1 AND lifecycle_stage = 'active'")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("logged model {id:?}")))?;
        let params = pairs(
            &sqlx::query(
                "SELECT key, value FROM logged_model_params WHERE model_id = $1 ORDER BY key",
            )
            .bind(id)
            .fetch_all(pool)
            .await?,
        )?;
        let tags = pairs(
            &sqlx::query(
                "SELECT key, value FROM logged_model_tags WHERE model_id = $1 ORDER BY key",
            )
            .bind(id)
            .fetch_all(pool)
            .await?,
        )?;
        Ok(LoggedModel {
            id: row.try_get("id")?,
            experiment_id: row.try_get::<i64, _>("experiment_id")?.to_string(),
            name: row.try_get("name")?,
            source_run_id: row.try_get("source_run_id")?,
            status: row.try_get("status")?,
            model_type: row.try_get("model_type")?,
            artifact_uri: row.try_get("artifact_uri")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            params,
            tags,
        })
    }

    /// Changes a logged model's status.
    pub async fn set_logged_model_status(
        &self,
        id: &str,
        status: &str,
    ) -> Result<LoggedModel, RegistryError> {
        if ![
            "LOGGED_MODEL_PENDING",
            "LOGGED_MODEL_READY",
            "LOGGED_MODEL_UPLOAD_FAILED",
        ]
        .contains(&status)
        {
            return Err(RegistryError::Invalid(format!(
                "logged model status {status:?}"
            )));
        }
        let current = self.logged_model(id).await?;
        if current.status == "LOGGED_MODEL_READY" && status != current.status {
            return Err(RegistryError::Conflict(format!(
                "logged model {id} is READY, and a READY model stays READY (its files never change)"
            )));
        }
        let n = sqlx::query("UPDATE logged_models SET status = $1, updated_at = $2 WHERE id = $3 AND lifecycle_stage = 'active'")
            .bind(status)
            .bind(now_ms())
            .bind(id)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(RegistryError::NotFound(format!("logged model {id:?}")));
        }
        self.logged_model(id).await
    }

    /// Sets tags of a logged model.
    pub async fn set_logged_model_tags(
        &self,
        id: &str,
        tags: &[(String, String)],
    ) -> Result<(), RegistryError> {
        self.logged_model(id).await?;
        for (k, v) in tags {
            sqlx::query("INSERT INTO logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value")
                .bind(id)
                .bind(k)
                .bind(v)
                .execute(self.db().pool())
                .await?;
        }
        Ok(())
    }

    /// The logged models of some experiments (not deleted), newest first.
    pub async fn logged_models(
        &self,
        experiments: &[String],
    ) -> Result<Vec<LoggedModel>, RegistryError> {
        let mut out = Vec::new();
        for e in experiments {
            let Ok(eid) = e.parse::<i64>() else { continue };
            let ids: Vec<String> = sqlx::query("SELECT id FROM logged_models WHERE experiment_id = $1 AND lifecycle_stage = 'active' ORDER BY created_at DESC, id")
                .bind(eid)
                .fetch_all(self.db().pool())
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
            for id in ids {
                out.push(self.logged_model(&id).await?);
            }
        }
        Ok(out)
    }

    /// Deletes a logged model: it is no longer found, but kept, as a registered version may
    /// name it as its source.
    pub async fn delete_logged_model(&self, id: &str) -> Result<(), RegistryError> {
        let n = sqlx::query("UPDATE logged_models SET lifecycle_stage = 'deleted', updated_at = $1 WHERE id = $2 AND lifecycle_stage = 'active'")
            .bind(now_ms())
            .bind(id)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(RegistryError::NotFound(format!("logged model {id:?}")));
        }
        Ok(())
    }

    /// Removes a tag of a logged model.
    pub async fn delete_logged_model_tag(&self, id: &str, key: &str) -> Result<(), RegistryError> {
        self.logged_model(id).await?;
        let n = sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2")
            .bind(id)
            .bind(key)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(RegistryError::NotFound(format!(
                "tag {key:?} of logged model {id:?}"
            )));
        }
        Ok(())
    }

    /// Logs parameters of a logged model (a parameter's value never changes once logged).
    pub async fn log_logged_model_params(
        &self,
        id: &str,
        params: &[(String, String)],
    ) -> Result<(), RegistryError> {
        let model = self.logged_model(id).await?;
        for (k, v) in params {
            if let Some(old) = crate::pair(&model.params, k)
                && old != v
            {
                return Err(RegistryError::State(format!(
                    "param {k:?} of logged model {id} is {old:?}; changing param values is not allowed"
                )));
            }
            sqlx::query("INSERT INTO logged_model_params (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO NOTHING")
                .bind(id)
                .bind(k)
                .bind(v)
                .execute(self.db().pool())
                .await?;
        }
        Ok(())
    }
}
