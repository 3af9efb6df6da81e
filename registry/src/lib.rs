//! Storage for Ferry: plugin packages, experiments and runs with their artifacts, and the model
//! registry and named deployments.
//!
//! One schema on two backends through sqlx: SQLite (the default, one file in the data folder,
//! in WAL mode) and PostgreSQL (for more than one machine). Large bytes live in a
//! content-addressed [`BlobStore`]; the database holds what refers to them.

mod access;
mod alerts;
mod artifacts;
mod blob;
mod db;
pub mod deployment_spec;
mod deployments;
mod error;
mod logged_models;
mod migrations;
mod models;
mod plugins;
mod predictions;
mod rules;
mod search;
mod signature;
mod spec;
mod tracking;

pub use access::{AuditEntry, Principal, Role, TokenInfo};
pub use alerts::{AlertRecord, StoredRule};
pub use artifacts::{
    ARTIFACT_PATH_PATTERN, ArtifactInfo, DirEntry, MAX_ARTIFACT_PATH, check_artifact_path,
};
pub use blob::{BlobStore, BoxFuture, FsBlobStore, check_digest, digest_of};
pub use db::{Backend, Db, now_ms};
pub use deployment_spec::{DeploymentSpec, SpecError};
pub use deployments::{
    Deployment, DeploymentRevision, DeploymentTarget, ShadowSample, check_deployment_name,
};
pub use error::RegistryError;
pub use logged_models::LoggedModel;
pub use models::{ModelVersion, NewModelVersion, RegisteredModel, STAGES, parse_stage};
pub use plugins::{NewVersion, PackageSummary, Published, SearchQuery, VersionRecord};
pub use predictions::{Feedback, PredictionSegment};
pub use rules::{
    ALIAS_PATTERN, DEPLOYMENT_NAME_PATTERN, DIGEST_PATTERN, EXPERIMENT_NAME_PATTERN, KEY_PATTERN,
    MAX_ALIAS, MAX_EXPERIMENT_NAME, MAX_KEY, MAX_MODEL_NAME, MAX_VALUE, MODEL_NAME_PATTERN,
    OWNER_PATTERN, SEMVER_PATTERN, STAGE_PATTERN, check_alias, check_experiment_name, check_key,
    check_model_name, check_owner, check_value, visible,
};
pub use search::{RunFilter, RunOrder, Searchable, Value as FilterValue, pair};
pub use signature::{
    PluginSignature, TrustPolicy, TrustRule, generate_key, key_id, parse_key, parse_signing_key,
    sign,
};
pub use spec::{PluginSpec, Requirement};
pub use tracking::{
    Experiment, FERRY_TAGS, Metric, MetricValue, RECORDED_BY_FERRY, Run, RunInfo, RunStatus,
    RunView,
};

use std::{path::Path, sync::Arc};

/// The registry: a database and a blob store.
#[derive(Clone)]
pub struct Registry {
    db: Db,
    blobs: Arc<dyn BlobStore>,
    generation: Arc<std::sync::atomic::AtomicI64>,
    tokens: Arc<access::TokenMemory>,
}

impl Registry {
    /// Opens (creating if needed) the registry of `data_dir`: its blobs in `data_dir/blobs` and
    /// its database at `database_url`, or `data_dir/ferry.db` (SQLite) when none is given.
    pub async fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(data_dir).map_err(|e| RegistryError::io(data_dir, e))?;
        let url = match database_url {
            Some(u) => u.to_string(),
            None => format!("sqlite://{}", data_dir.join("ferry.db").display()),
        };
        let db = Db::connect(&url).await?;
        let blobs = Arc::new(FsBlobStore::new(data_dir.join("blobs"))?);
        Ok(Self::new(db, blobs))
    }

    /// A registry over an existing database and blob store.
    pub fn new(db: Db, blobs: Arc<dyn BlobStore>) -> Self {
        Self {
            db,
            blobs,
            generation: Arc::new(std::sync::atomic::AtomicI64::new(-1)),
            tokens: Default::default(),
        }
    }

    /// The newest generation this registry has seen: it moves forward with every change to
    /// what serving resolves (versions, aliases, stages, deployments, revoked tokens), at once for changes
    /// made through this registry and on [`Registry::refresh_generation`] for the others.
    pub fn generation(&self) -> i64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Reads the generation from the database (changes made by other processes).
    pub async fn refresh_generation(&self) -> Result<i64, RegistryError> {
        use sqlx::Row;
        let v: i64 = sqlx::query("SELECT value FROM generation WHERE id = 1")
            .fetch_one(self.db.pool())
            .await?
            .try_get("value")?;
        self.generation
            .fetch_max(v, std::sync::atomic::Ordering::AcqRel);
        Ok(self.generation())
    }

    /// Moves the generation forward after a change to what serving resolves.
    pub(crate) async fn bump_generation(&self) -> Result<(), RegistryError> {
        use sqlx::Row;
        let v: i64 =
            sqlx::query("UPDATE generation SET value = value + 1 WHERE id = 1 RETURNING value")
                .fetch_one(self.db.pool())
                .await?
                .try_get("value")?;
        self.generation
            .fetch_max(v, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The blob store.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }
}
