//! The model registry: registered models, numbered versions (each with its lineage), aliases,
//! MLflow's classic stages, tags and descriptions.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::now_ms;
use crate::rules::{MAX_KEY, MAX_VALUE, check_alias, check_model_name};
use crate::{Registry, RegistryError};

/// MLflow's stages of a model version.
pub const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

/// A registered model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RegisteredModel {
    /// Its unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last changed (ms since the epoch).
    pub updated_at: i64,
    /// Tags, by key.
    #[schema(value_type = Vec<Vec<String>>)]
    pub tags: Vec<(String, String)>,
    /// Aliases and the versions they point to, by alias.
    #[schema(value_type = Vec<Vec<Value>>)]
    pub aliases: Vec<(String, i64)>,
    /// The newest version in each stage.
    pub latest_versions: Vec<ModelVersion>,
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ModelVersion {
    /// The registered model.
    pub name: String,
    /// 1, 2, 3, ...
    pub version: i64,
    /// What changed in it.
    pub description: String,
    /// `None`, `Staging`, `Production` or `Archived`.
    pub stage: String,
    /// Where its artifact came from (a run's artifact URI, or a path).
    pub source: String,
    /// The run that produced it.
    pub run_id: Option<String>,
    /// Who registered it.
    pub user_id: String,
    /// `READY` (Ferry registers a version only once its artifacts are stored).
    pub status: String,
    /// Its lineage (JSON, as the host wrote it), if it has one.
    #[schema(value_type = Option<Value>)]
    pub lineage: Option<String>,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last changed (ms since the epoch).
    pub updated_at: i64,
    /// Tags, by key.
    #[schema(value_type = Vec<Vec<String>>)]
    pub tags: Vec<(String, String)>,
    /// Aliases pointing to it.
    pub aliases: Vec<String>,
}

/// What a new model version is made of.
#[derive(Debug, Clone, Default)]
pub struct NewModelVersion {
    /// Where its artifact came from.
    pub source: String,
    /// The run that produced it.
    pub run_id: Option<String>,
    /// Who registers it.
    pub user_id: String,
    /// What changed in it.
    pub description: String,
    /// Its lineage (JSON).
    pub lineage: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// Parses a stage, accepting any case (`production` means `Production`).
pub fn parse_stage(stage: &str) -> Result<&'static str, RegistryError> {
    STAGES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(stage))
        .copied()
        .ok_or_else(|| {
            RegistryError::Invalid(format!(
                "stage {stage:?} is not one of None, Staging, Production, Archived"
            ))
        })
}

fn check_tag(key: &str, value: &str) -> Result<(), RegistryError> {
    let (k, v) = (key.chars().count(), value.chars().count());
    if k == 0 || k > MAX_KEY || v > MAX_VALUE {
        return Err(RegistryError::Invalid(format!(
            "tag {:?}: the key needs 1 to {MAX_KEY} characters and the value at most {MAX_VALUE}",
            key.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

const VERSION_COLUMNS: &str = "name, version, description, stage, source, run_id, user_id, status, lineage, created_at, updated_at";

impl Registry {
    /// Creates a registered model; a name already taken is a conflict.
    pub async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[(String, String)],
    ) -> Result<RegisteredModel, RegistryError> {
        check_model_name(name)?;
        for (k, v) in tags {
            check_tag(k, v)?;
        }
        let now = now_ms();
        let mut tx = self.db().pool().begin().await?;
        let inserted = sqlx::query("INSERT INTO registered_models (name, description, created_at, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(description)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(RegistryError::Conflict(format!(
                "registered model {name:?} already exists"
            )));
        }
        for (k, v) in tags {
            sqlx::query("INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value")
                .bind(name)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.registered_model(name).await
    }

    /// A registered model with its tags, aliases and latest version per stage.
    pub async fn registered_model(&self, name: &str) -> Result<RegisteredModel, RegistryError> {
        self.models_where(Some(name))
            .await?
            .pop()
            .ok_or_else(|| RegistryError::NotFound(format!("registered model {name:?}")))
    }

    /// Every registered model whose name contains `name_contains` (case-insensitive), by name.
    pub async fn registered_models(
        &self,
        name_contains: &str,
    ) -> Result<Vec<RegisteredModel>, RegistryError> {
        let needle = name_contains.to_lowercase();
        let mut models = self.models_where(None).await?;
        models.retain(|m| m.name.to_lowercase().contains(&needle));
        Ok(models)
    }

    /// One registered model, or all of them, by name: six queries however many there are.
    async fn models_where(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<RegisteredModel>, RegistryError> {
        let fetch = async |sql: String| {
            let query = sqlx::query(&sql);
            let query = match name {
                Some(n) => query.bind(n),
                None => query,
            };
            query.fetch_all(self.db().pool()).await
        };
        let condition = if name.is_some() { "name = $1" } else { "1 = 1" };
        let rows = fetch(format!("SELECT name, description, created_at, updated_at FROM registered_models WHERE {condition} ORDER BY name")).await?;
        let mut tags: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for r in fetch(format!("SELECT name, key, value FROM registered_model_tags WHERE {condition} ORDER BY name, key")).await? {
            tags.entry(r.try_get("name")?)
                .or_default()
                .push((r.try_get("key")?, r.try_get("value")?));
        }
        let mut aliases: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        for r in fetch(format!(
            "SELECT name, alias, version FROM model_aliases WHERE {condition} ORDER BY name, alias"
        ))
        .await?
        {
            aliases
                .entry(r.try_get("name")?)
                .or_default()
                .push((r.try_get("alias")?, r.try_get("version")?));
        }
        let latest_rows = fetch(format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions v WHERE {condition} AND version = (SELECT MAX(l.version) FROM model_versions l WHERE l.name = v.name AND l.stage = v.stage) ORDER BY name, version"
        ))
        .await?;
        let mut latest: HashMap<String, Vec<ModelVersion>> = HashMap::new();
        for v in self.versions_from(&latest_rows, name).await? {
            latest.entry(v.name.clone()).or_default().push(v);
        }
        rows.iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                let mut versions = latest.remove(&name).unwrap_or_default();
                versions.sort_by_key(|v| STAGES.iter().position(|s| *s == v.stage));
                Ok(RegisteredModel {
                    description: row.try_get("description")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    tags: tags.remove(&name).unwrap_or_default(),
                    aliases: aliases.remove(&name).unwrap_or_default(),
                    latest_versions: versions,
                    name,
                })
            })
            .collect()
    }

    /// Changes a registered model's description.
    pub async fn set_model_description(
        &self,
        name: &str,
        description: &str,
    ) -> Result<(), RegistryError> {
        let n = sqlx::query(
            "UPDATE registered_models SET description = $1, updated_at = $2 WHERE name = $3",
        )
        .bind(description)
        .bind(now_ms())
        .bind(name)
        .execute(self.db().pool())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(RegistryError::NotFound(format!(
                "registered model {name:?}"
            )));
        }
        Ok(())
    }

    /// Sets (or replaces) a tag of a registered model.
    pub async fn set_model_tag(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        check_tag(key, value)?;
        self.registered_model(name).await?;
        sqlx::query("INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(key)
            .bind(value)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Removes a tag of a registered model.
    pub async fn delete_model_tag(&self, name: &str, key: &str) -> Result<(), RegistryError> {
        self.registered_model(name).await?;
        sqlx::query("DELETE FROM registered_model_tags WHERE name = $1 AND key = $2")
            .bind(name)
            .bind(key)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Adds the next version of a registered model. Two registrations at once get two numbers.
    pub async fn create_model_version(
        &self,
        name: &str,
        new: NewModelVersion,
    ) -> Result<ModelVersion, RegistryError> {
        self.registered_model(name).await?;
        for (k, v) in &new.tags {
            check_tag(k, v)?;
        }
        if let Some(run) = &new.run_id {
            self.run(run).await?;
        }
        let mut attempts = 0;
        let version = loop {
            attempts += 1;
            let now = now_ms();
            let mut tx = self.db().pool().begin().await?;
            let next: i64 = sqlx::query(
                "SELECT COALESCE(MAX(v), 0) + 1 AS next FROM (SELECT version AS v FROM model_versions WHERE name = $1 UNION ALL SELECT version AS v FROM deleted_model_versions WHERE name = $1) numbers",
            )
            .bind(name)
            .fetch_one(&mut *tx)
            .await?
            .try_get("next")?;
            let inserted = sqlx::query("INSERT INTO model_versions (name, version, description, stage, source, run_id, user_id, status, lineage, created_at, updated_at) VALUES ($1, $2, $3, 'None', $4, $5, $6, 'READY', $7, $8, $9) ON CONFLICT (name, version) DO NOTHING")
                .bind(name)
                .bind(next)
                .bind(&new.description)
                .bind(&new.source)
                .bind(new.run_id.as_deref())
                .bind(&new.user_id)
                .bind(new.lineage.as_deref())
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await;
            let inserted = match inserted {
                Ok(r) => r.rows_affected(),
                Err(e) if attempts < 50 => {
                    tracing::debug!("model version race on {name}: {e}");
                    0
                }
                Err(e) => return Err(e.into()),
            };
            if inserted == 0 {
                drop(tx);
                if attempts >= 50 {
                    return Err(RegistryError::Conflict(format!(
                        "could not number a new version of {name:?}: too many registrations at once"
                    )));
                }
                tokio::time::sleep(std::time::Duration::from_millis(attempts * 3)).await;
                continue;
            }
            for (k, v) in &new.tags {
                sqlx::query("INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value")
                    .bind(name)
                    .bind(next)
                    .bind(k)
                    .bind(v)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE registered_models SET updated_at = $1 WHERE name = $2")
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            match tx.commit().await {
                Ok(()) => break next,
                Err(e) if attempts < 50 => {
                    tracing::debug!("model version commit race on {name}: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(attempts * 3)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let changed = self.model_version(name, version).await?;
        self.bump_generation().await?;
        Ok(changed)
    }

    /// Versions from their rows, with their tags and aliases (two queries: those of the model
    /// `name`, or of every model).
    async fn versions_from(
        &self,
        rows: &[AnyRow],
        name: Option<&str>,
    ) -> Result<Vec<ModelVersion>, RegistryError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let fetch = async |sql: &str| {
            let query = sqlx::query(sql);
            let query = match name {
                Some(n) => query.bind(n),
                None => query,
            };
            query.fetch_all(self.db().pool()).await
        };
        let condition = if name.is_some() { "name = $1" } else { "1 = 1" };
        let mut tags: HashMap<(String, i64), Vec<(String, String)>> = HashMap::new();
        for r in fetch(&format!("SELECT name, version, key, value FROM model_version_tags WHERE {condition} ORDER BY name, version, key")).await? {
            tags.entry((r.try_get("name")?, r.try_get("version")?))
                .or_default()
                .push((r.try_get("key")?, r.try_get("value")?));
        }
        let mut aliases: HashMap<(String, i64), Vec<String>> = HashMap::new();
        for r in fetch(&format!("SELECT name, version, alias FROM model_aliases WHERE {condition} ORDER BY name, version, alias")).await? {
            aliases
                .entry((r.try_get("name")?, r.try_get("version")?))
                .or_default()
                .push(r.try_get("alias")?);
        }
        rows.iter()
            .map(|row| {
                let key: (String, i64) = (row.try_get("name")?, row.try_get("version")?);
                Ok(ModelVersion {
                    description: row.try_get("description")?,
                    stage: row.try_get("stage")?,
                    source: row.try_get("source")?,
                    run_id: row.try_get("run_id")?,
                    user_id: row.try_get("user_id")?,
                    status: row.try_get("status")?,
                    lineage: row.try_get("lineage")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    tags: tags.remove(&key).unwrap_or_default(),
                    aliases: aliases.remove(&key).unwrap_or_default(),
                    name: key.0,
                    version: key.1,
                })
            })
            .collect()
    }

    /// One version of a registered model.
    pub async fn model_version(
        &self,
        name: &str,
        version: i64,
    ) -> Result<ModelVersion, RegistryError> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE name = $1 AND version = $2"
        ))
        .bind(name)
        .bind(version)
        .fetch_optional(self.db().pool())
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("version {version} of model {name:?}")))?;
        self.versions_from(std::slice::from_ref(&row), Some(name))
            .await?
            .pop()
            .ok_or_else(|| RegistryError::NotFound(format!("version {version} of model {name:?}")))
    }

    /// Every version of a registered model, oldest first.
    pub async fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>, RegistryError> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE name = $1 ORDER BY version"
        ))
        .bind(name)
        .fetch_all(self.db().pool())
        .await?;
        self.versions_from(&rows, Some(name)).await
    }

    /// Resolves a reference to a version: a number, `latest`, an alias, or a stage name.
    pub async fn resolve_model_version(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<ModelVersion, RegistryError> {
        self.registered_model(name).await?;
        if let Ok(v) = reference.trim_start_matches(['v', 'V']).parse::<i64>() {
            return self.model_version(name, v).await;
        }
        if reference.eq_ignore_ascii_case("latest") {
            return self
                .model_versions(name)
                .await?
                .pop()
                .ok_or_else(|| RegistryError::NotFound(format!("any version of model {name:?}")));
        }
        if let Some(row) =
            sqlx::query("SELECT version FROM model_aliases WHERE name = $1 AND alias = $2")
                .bind(name)
                .bind(reference)
                .fetch_optional(self.db().pool())
                .await?
        {
            return self.model_version(name, row.try_get("version")?).await;
        }
        if let Ok(stage) = parse_stage(reference) {
            return self
                .model_versions(name)
                .await?
                .into_iter()
                .rev()
                .find(|v| v.stage == stage)
                .ok_or_else(|| {
                    RegistryError::NotFound(format!("a version of model {name:?} in stage {stage}"))
                });
        }
        Err(RegistryError::NotFound(format!(
            "version or alias {reference:?} of model {name:?}"
        )))
    }

    /// The version a reference names, as its number and creation time (as
    /// [`Registry::resolve_model_version`], with one query for a number or an alias: the fast
    /// path of online prediction). A version deleted and a new one given its name and number
    /// (by renaming) never share the creation time, so the pair keys a cache safely.
    pub async fn resolve_version_key(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<(i64, i64), RegistryError> {
        let pool = self.db().pool();
        let row = if let Ok(v) = reference.trim_start_matches(['v', 'V']).parse::<i64>() {
            sqlx::query(
                "SELECT version, created_at FROM model_versions WHERE name = $1 AND version = $2",
            )
            .bind(name)
            .bind(v)
            .fetch_optional(pool)
            .await?
        } else {
            sqlx::query("SELECT v.version, v.created_at FROM model_aliases a JOIN model_versions v ON v.name = a.name AND v.version = a.version WHERE a.name = $1 AND a.alias = $2")
                .bind(name)
                .bind(reference)
                .fetch_optional(pool)
                .await?
        };
        match row {
            Some(r) => Ok((r.try_get("version")?, r.try_get("created_at")?)),
            None => {
                let v = self.resolve_model_version(name, reference).await?;
                Ok((v.version, v.created_at))
            }
        }
    }

    /// Every version of every registered model, by name then number.
    pub async fn all_model_versions(&self) -> Result<Vec<ModelVersion>, RegistryError> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions ORDER BY name, version"
        ))
        .fetch_all(self.db().pool())
        .await?;
        self.versions_from(&rows, None).await
    }

    /// Deletes a version, its tags and the aliases pointing at it. Its number is never given
    /// again; its lineage's files stay with the run that made them.
    pub async fn delete_model_version(
        &self,
        name: &str,
        version: i64,
    ) -> Result<(), RegistryError> {
        self.model_version(name, version).await?;
        let mut tx = self.db().pool().begin().await?;
        for sql in [
            "DELETE FROM model_aliases WHERE name = $1 AND version = $2",
            "DELETE FROM model_version_tags WHERE name = $1 AND version = $2",
            "DELETE FROM model_versions WHERE name = $1 AND version = $2",
        ] {
            sqlx::query(sql)
                .bind(name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO deleted_model_versions (name, version, deleted_at) VALUES ($1, $2, $3) ON CONFLICT (name, version) DO NOTHING")
            .bind(name)
            .bind(version)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE registered_models SET updated_at = $1 WHERE name = $2")
            .bind(now_ms())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.bump_generation().await?;
        Ok(())
    }

    /// Deletes a registered model with every version, tag and alias.
    pub async fn delete_registered_model(&self, name: &str) -> Result<(), RegistryError> {
        self.registered_model(name).await?;
        let mut tx = self.db().pool().begin().await?;
        for sql in [
            "DELETE FROM model_aliases WHERE name = $1",
            "DELETE FROM model_version_tags WHERE name = $1",
            "DELETE FROM model_versions WHERE name = $1",
            "DELETE FROM deleted_model_versions WHERE name = $1",
            "DELETE FROM registered_model_tags WHERE name = $1",
            "DELETE FROM registered_models WHERE name = $1",
        ] {
            sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.bump_generation().await?;
        Ok(())
    }

    /// Renames a registered model; its versions, tags and aliases follow it.
    pub async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel, RegistryError> {
        check_model_name(new_name)?;
        self.registered_model(name).await?;
        if name == new_name {
            return self.registered_model(name).await;
        }
        let mut tx = self.db().pool().begin().await?;
        let inserted = sqlx::query("INSERT INTO registered_models (name, description, created_at, updated_at) SELECT $1, description, created_at, $2 FROM registered_models WHERE name = $3 ON CONFLICT (name) DO NOTHING")
            .bind(new_name)
            .bind(now_ms())
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(RegistryError::Conflict(format!(
                "registered model {new_name:?} already exists"
            )));
        }
        sqlx::query("INSERT INTO model_versions (name, version, description, stage, source, run_id, user_id, status, lineage, created_at, updated_at) SELECT $1, version, description, stage, source, run_id, user_id, status, lineage, created_at, updated_at FROM model_versions WHERE name = $2")
            .bind(new_name)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        for table in [
            "model_version_tags",
            "model_aliases",
            "registered_model_tags",
            "deleted_model_versions",
        ] {
            sqlx::query(&format!("UPDATE {table} SET name = $1 WHERE name = $2"))
                .bind(new_name)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        for sql in [
            "DELETE FROM model_versions WHERE name = $1",
            "DELETE FROM registered_models WHERE name = $1",
        ] {
            sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let changed = self.registered_model(new_name).await?;
        self.bump_generation().await?;
        Ok(changed)
    }

    /// Points an alias at a version (moving it if it pointed elsewhere).
    pub async fn set_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
    ) -> Result<(), RegistryError> {
        check_alias(alias)?;
        self.model_version(name, version).await?;
        sqlx::query("INSERT INTO model_aliases (name, alias, version) VALUES ($1, $2, $3) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version")
            .bind(name)
            .bind(alias)
            .bind(version)
            .execute(self.db().pool())
            .await?;
        self.bump_generation().await?;
        Ok(())
    }

    /// Removes an alias.
    pub async fn delete_model_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError> {
        let n = sqlx::query("DELETE FROM model_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(RegistryError::NotFound(format!(
                "alias {alias:?} of model {name:?}"
            )));
        }
        self.bump_generation().await?;
        Ok(())
    }

    /// Moves a version to a stage; with `archive_existing`, the other versions in that stage
    /// move to `Archived`.
    pub async fn transition_model_stage(
        &self,
        name: &str,
        version: i64,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion, RegistryError> {
        let stage = parse_stage(stage)?;
        self.model_version(name, version).await?;
        let now = now_ms();
        let mut tx = self.db().pool().begin().await?;
        if archive_existing && (stage == "Staging" || stage == "Production") {
            sqlx::query("UPDATE model_versions SET stage = 'Archived', updated_at = $1 WHERE name = $2 AND stage = $3 AND version <> $4")
                .bind(now)
                .bind(name)
                .bind(stage)
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE model_versions SET stage = $1, updated_at = $2 WHERE name = $3 AND version = $4",
        )
        .bind(stage)
        .bind(now)
        .bind(name)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let changed = self.model_version(name, version).await?;
        self.bump_generation().await?;
        Ok(changed)
    }

    /// Gives a version without one (registered through the MLflow API) its lineage, once: a
    /// version's lineage never changes, so what an alias serves changes only by moving it.
    pub async fn set_version_lineage(
        &self,
        name: &str,
        version: i64,
        lineage: &str,
    ) -> Result<ModelVersion, RegistryError> {
        let changed = sqlx::query("UPDATE model_versions SET lineage = $1, updated_at = $2 WHERE name = $3 AND version = $4 AND lineage IS NULL")
            .bind(lineage)
            .bind(now_ms())
            .bind(name)
            .bind(version)
            .execute(self.db().pool())
            .await?
            .rows_affected();
        let v = self.model_version(name, version).await?;
        if changed == 0 {
            return Err(RegistryError::Conflict(format!(
                "version {version} of model {name:?} already has a lineage; register a new version to serve another pipeline"
            )));
        }
        self.bump_generation().await?;
        Ok(v)
    }

    /// Where a version's files are in the artifact store (`EXPERIMENT/…`), from its source: a
    /// logged model (`models:/m-…`), a run's folder (`runs:/RUN/PATH`) or an
    /// `mlflow-artifacts:/` URI.
    pub async fn version_artifact_dir(&self, v: &ModelVersion) -> Result<String, RegistryError> {
        let source = v.source.trim();
        let uri = if let Some(id) = source.strip_prefix("models:/")
            && id.starts_with("m-")
        {
            self.logged_model(id).await?.artifact_uri
        } else if let Some(rest) = source.strip_prefix("runs:/") {
            let (run, path) = rest.split_once('/').unwrap_or((rest, ""));
            let root = self.run(run).await?.info.artifact_uri;
            format!("{root}/{path}")
        } else {
            source.to_string()
        };
        match uri.strip_prefix("mlflow-artifacts:") {
            Some(path) => Ok(path.trim_matches('/').to_string()),
            None => Err(RegistryError::Invalid(format!(
                "version {} of model {:?}: its source {:?} is not in Ferry's artifact store",
                v.version, v.name, v.source
            ))),
        }
    }

    /// Changes a version's description.
    pub async fn set_version_description(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<(), RegistryError> {
        self.model_version(name, version).await?;
        sqlx::query("UPDATE model_versions SET description = $1, updated_at = $2 WHERE name = $3 AND version = $4")
            .bind(description)
            .bind(now_ms())
            .bind(name)
            .bind(version)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Sets (or replaces) a tag of a version.
    pub async fn set_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        check_tag(key, value)?;
        self.model_version(name, version).await?;
        sqlx::query("INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(version)
            .bind(key)
            .bind(value)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Removes a tag of a version.
    pub async fn delete_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<(), RegistryError> {
        self.model_version(name, version).await?;
        sqlx::query("DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3")
            .bind(name)
            .bind(version)
            .bind(key)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }
}
