//! Named deployments and their revisions. The registry keeps each revision's specification as
//! the host wrote it (JSON) and never changes one: a change writes the next revision, and a
//! rollback writes a copy of an earlier one. It also keeps the sampled log of shadow
//! disagreements.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::now_ms;
use crate::{Registry, RegistryError};

/// A deployment as it is served now: its name and current revision.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Deployment {
    /// Its unique name.
    pub name: String,
    /// The revision served.
    pub revision: i64,
    /// Its specification at that revision (JSON, as the host wrote it).
    #[schema(value_type = Object)]
    pub spec: String,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Last changed (ms since the epoch).
    pub updated_at: i64,
    /// Tells this deployment from an earlier one of the same name that was deleted: a value
    /// of the registry's generation taken when it was created, which never repeats.
    pub incarnation: i64,
}

/// One revision of a deployment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DeploymentRevision {
    /// The deployment.
    pub name: String,
    /// 1, 2, 3, ...
    pub revision: i64,
    /// Its specification (JSON, as the host wrote it).
    #[schema(value_type = Object)]
    pub spec: String,
    /// Who wrote it.
    pub actor: String,
    /// Why: `create`, `update` or `rollback to N`.
    pub reason: String,
    /// Written (ms since the epoch).
    pub created_at: i64,
}

/// A request on which a shadow target disagreed with the target that answered.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ShadowSample {
    /// The deployment.
    pub name: String,
    /// Its revision then.
    pub revision: i64,
    /// The request.
    pub request_id: String,
    /// The version that answered (`model@version`).
    pub answered: String,
    /// The shadow (`model@version`).
    pub shadow: String,
    /// The answer given (JSON).
    #[schema(value_type = Object)]
    pub answer: String,
    /// What the shadow would have answered (JSON), or its error.
    #[schema(value_type = Object)]
    pub shadow_answer: String,
    /// When (ms since the epoch).
    pub created_at: i64,
}

/// What a deployer plugin last reported for a deployment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DeploymentTarget {
    /// The deployment.
    pub name: String,
    /// The deployer plugin.
    pub target: String,
    /// Its report (JSON, as the host wrote it).
    #[schema(value_type = Object)]
    pub status: String,
    /// Who ran it.
    pub actor: String,
    /// When (ms since the epoch).
    pub updated_at: i64,
}

/// Checks a deployment's name: it appears in URLs and NATS subjects.
pub fn check_deployment_name(name: &str) -> Result<(), RegistryError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "deployment name {:?}: 1 to 128 ASCII letters, digits, _ and -",
            name.chars().take(80).collect::<String>()
        )))
    }
}

fn revision_from(row: &AnyRow) -> Result<DeploymentRevision, RegistryError> {
    Ok(DeploymentRevision {
        name: row.try_get("name")?,
        revision: row.try_get("revision")?,
        spec: row.try_get("spec")?,
        actor: row.try_get("actor")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
    })
}

fn deployment_from(row: &AnyRow) -> Result<Deployment, RegistryError> {
    Ok(Deployment {
        name: row.try_get("name")?,
        revision: row.try_get("revision")?,
        spec: row.try_get("spec")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        incarnation: row.try_get("incarnation")?,
    })
}

const CURRENT: &str = "SELECT d.name, d.revision, r.spec, d.created_at, d.updated_at, d.incarnation FROM deployments d JOIN deployment_revisions r ON r.name = d.name AND r.revision = d.revision";

impl Registry {
    /// Creates deployment `name` at revision 1. A deployment of that name is a conflict.
    pub async fn create_deployment(
        &self,
        name: &str,
        spec: &str,
        actor: &str,
    ) -> Result<DeploymentRevision, RegistryError> {
        check_deployment_name(name)?;
        let now = now_ms();
        let mut tx = self.db().pool().begin().await?;
        let incarnation: i64 =
            sqlx::query("UPDATE generation SET value = value + 1 WHERE id = 1 RETURNING value")
                .fetch_one(&mut *tx)
                .await?
                .try_get("value")?;
        let inserted = sqlx::query("INSERT INTO deployments (name, revision, created_at, updated_at, incarnation) VALUES ($1, 1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now)
            .bind(now)
            .bind(incarnation)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(RegistryError::Conflict(format!(
                "deployment {name:?} exists; change it with an update"
            )));
        }
        sqlx::query("DELETE FROM deployment_revisions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        insert_revision(&mut tx, name, 1, spec, actor, "create", now).await?;
        tx.commit().await?;
        self.bump_generation().await?;
        self.deployment_revision(name, 1).await
    }

    /// Writes the next revision of deployment `name` and serves it. With `expected`, the
    /// write happens only if the current revision is still that one (else a conflict), so two
    /// writers never overwrite each other unseen.
    pub async fn update_deployment(
        &self,
        name: &str,
        spec: &str,
        actor: &str,
        reason: &str,
        expected: Option<i64>,
    ) -> Result<DeploymentRevision, RegistryError> {
        let current = self.deployment(name).await?;
        if let Some(e) = expected
            && e != current.revision
        {
            return Err(RegistryError::Conflict(format!(
                "deployment {name:?} is at revision {}, not {e}; read it again and retry",
                current.revision
            )));
        }
        let next = current.revision + 1;
        let now = now_ms();
        let mut tx = self.db().pool().begin().await?;
        let moved = sqlx::query(
            "UPDATE deployments SET revision = $1, updated_at = $2 WHERE name = $3 AND revision = $4",
        )
        .bind(next)
        .bind(now)
        .bind(name)
        .bind(current.revision)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Err(RegistryError::Conflict(format!(
                "deployment {name:?} changed while revision {next} was being written; read it again and retry"
            )));
        }
        insert_revision(&mut tx, name, next, spec, actor, reason, now).await?;
        tx.commit().await?;
        self.bump_generation().await?;
        self.deployment_revision(name, next).await
    }

    /// The deployment `name` as served now.
    pub async fn deployment(&self, name: &str) -> Result<Deployment, RegistryError> {
        let row = sqlx::query(&format!("{CURRENT} WHERE d.name = $1"))
            .bind(name)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("deployment {name:?}")))?;
        deployment_from(&row)
    }

    /// Every deployment, by name.
    pub async fn deployments(&self) -> Result<Vec<Deployment>, RegistryError> {
        sqlx::query(&format!("{CURRENT} ORDER BY d.name"))
            .fetch_all(self.db().pool())
            .await?
            .iter()
            .map(deployment_from)
            .collect()
    }

    /// Revision `revision` of deployment `name`.
    pub async fn deployment_revision(
        &self,
        name: &str,
        revision: i64,
    ) -> Result<DeploymentRevision, RegistryError> {
        let row = sqlx::query("SELECT name, revision, spec, actor, reason, created_at FROM deployment_revisions WHERE name = $1 AND revision = $2")
            .bind(name)
            .bind(revision)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| {
                RegistryError::NotFound(format!("revision {revision} of deployment {name:?}"))
            })?;
        revision_from(&row)
    }

    /// Every revision of deployment `name`, oldest first.
    pub async fn deployment_revisions(
        &self,
        name: &str,
    ) -> Result<Vec<DeploymentRevision>, RegistryError> {
        self.deployment(name).await?;
        sqlx::query("SELECT name, revision, spec, actor, reason, created_at FROM deployment_revisions WHERE name = $1 ORDER BY revision")
            .bind(name)
            .fetch_all(self.db().pool())
            .await?
            .iter()
            .map(revision_from)
            .collect()
    }

    /// Deletes deployment `name`, its history and its shadow log.
    pub async fn delete_deployment(&self, name: &str) -> Result<(), RegistryError> {
        let mut tx = self.db().pool().begin().await?;
        let n = sqlx::query("DELETE FROM deployments WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(RegistryError::NotFound(format!("deployment {name:?}")));
        }
        for table in [
            "deployment_revisions",
            "shadow_samples",
            "deployment_targets",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE name = $1"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.bump_generation().await?;
        Ok(())
    }

    /// Records what deployer `target` reported for deployment `name`.
    pub async fn record_deployment_target(
        &self,
        name: &str,
        target: &str,
        status: &str,
        actor: &str,
    ) -> Result<DeploymentTarget, RegistryError> {
        self.deployment(name).await?;
        let now = now_ms();
        sqlx::query("INSERT INTO deployment_targets (name, target, status, actor, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, target) DO UPDATE SET status = excluded.status, actor = excluded.actor, updated_at = excluded.updated_at")
            .bind(name)
            .bind(target)
            .bind(status)
            .bind(actor)
            .bind(now)
            .execute(self.db().pool())
            .await?;
        Ok(DeploymentTarget {
            name: name.into(),
            target: target.into(),
            status: status.into(),
            actor: actor.into(),
            updated_at: now,
        })
    }

    /// What each deployer last reported for deployment `name`, by target.
    pub async fn deployment_targets(
        &self,
        name: &str,
    ) -> Result<Vec<DeploymentTarget>, RegistryError> {
        self.deployment(name).await?;
        let rows = sqlx::query("SELECT name, target, status, actor, updated_at FROM deployment_targets WHERE name = $1 ORDER BY target")
            .bind(name)
            .fetch_all(self.db().pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DeploymentTarget {
                    name: row.try_get("name")?,
                    target: row.try_get("target")?,
                    status: row.try_get("status")?,
                    actor: row.try_get("actor")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Adds a disagreement to the shadow log.
    pub async fn add_shadow_sample(&self, s: &ShadowSample) -> Result<(), RegistryError> {
        sqlx::query("INSERT INTO shadow_samples (name, revision, request_id, answered, shadow, answer, shadow_answer, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&s.name)
            .bind(s.revision)
            .bind(&s.request_id)
            .bind(&s.answered)
            .bind(&s.shadow)
            .bind(&s.answer)
            .bind(&s.shadow_answer)
            .bind(s.created_at)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// The newest `limit` disagreements in deployment `name`'s shadow log, newest first.
    pub async fn shadow_samples(
        &self,
        name: &str,
        limit: i64,
    ) -> Result<Vec<ShadowSample>, RegistryError> {
        self.deployment(name).await?;
        let rows = sqlx::query("SELECT name, revision, request_id, answered, shadow, answer, shadow_answer, created_at FROM shadow_samples WHERE name = $1 ORDER BY created_at DESC LIMIT $2")
            .bind(name)
            .bind(limit)
            .fetch_all(self.db().pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ShadowSample {
                    name: row.try_get("name")?,
                    revision: row.try_get("revision")?,
                    request_id: row.try_get("request_id")?,
                    answered: row.try_get("answered")?,
                    shadow: row.try_get("shadow")?,
                    answer: row.try_get("answer")?,
                    shadow_answer: row.try_get("shadow_answer")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}

async fn insert_revision(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    revision: i64,
    spec: &str,
    actor: &str,
    reason: &str,
    now: i64,
) -> Result<(), RegistryError> {
    sqlx::query("INSERT INTO deployment_revisions (name, revision, spec, actor, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(name)
        .bind(revision)
        .bind(spec)
        .bind(actor)
        .bind(reason)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
