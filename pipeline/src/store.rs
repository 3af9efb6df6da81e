//! Where commands and pipelines read and write: the local registry (a data folder), or a remote
//! Ferry over HTTP, as MLflow users work against `MLFLOW_TRACKING_URI`. Training computes
//! locally either way; what it records, and what batch scoring and the CLI read, go to the one
//! store. An operation a remote Ferry does not offer is refused, never done locally instead.

use ferry_registry::{
    ArtifactInfo, DeploymentSpec, Experiment, ModelVersion, PackageSummary, PluginSignature,
    PluginSpec, RegisteredModel, Registry, RegistryError, Run, RunFilter, RunOrder, RunStatus,
    RunView, SearchQuery, VersionRecord,
};

use crate::client::{ClientError, RemoteRegistry};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The local registry failed or refused.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The remote Ferry failed or refused.
    #[error(transparent)]
    Remote(#[from] ClientError),
    /// The operation cannot be done against a remote Ferry.
    #[error("{0}")]
    LocalOnly(String),
    /// What the store holds cannot be read.
    #[error("{0}")]
    Unreadable(String),
}

/// The actor a local command is recorded as: `local:` and the user's name.
pub fn local_actor() -> String {
    format!(
        "local:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

/// Records a successful local change in `registry`'s audit log, as [`local_actor`].
pub async fn audit_local(
    registry: &Registry,
    action: &str,
    object: &str,
    detail: &str,
) -> Result<(), RegistryError> {
    registry
        .audit(&local_actor(), action, object, "ok", "", detail)
        .await
}

/// A registry to work with.
pub enum Store {
    /// The local data folder.
    Local(Registry),
    /// Another Ferry over HTTP.
    Remote(RemoteRegistry),
}

impl Store {
    /// The local registry, or a refusal naming `what` cannot be done remotely and why.
    pub fn local(&self, what: &str, why: &str) -> Result<&Registry, StoreError> {
        match self {
            Store::Local(r) => Ok(r),
            Store::Remote(c) => Err(StoreError::LocalOnly(format!(
                "{what} cannot work against a remote Ferry ({}): {why}",
                c.url()
            ))),
        }
    }

    /// Records a successful change in the audit log when the store is local; a remote Ferry
    /// audits what it is asked to do itself.
    pub async fn audit(&self, action: &str, object: &str, detail: &str) -> Result<(), StoreError> {
        if let Store::Local(r) = self {
            audit_local(r, action, object, detail).await?;
        }
        Ok(())
    }

    /// Records what deployer plugin `target` reported for deployment `name`: locally with an
    /// audit entry naming the action; a remote Ferry audits it itself.
    pub async fn record_deployment_target(
        &self,
        name: &str,
        target: &str,
        action: &str,
        status: &serde_json::Value,
    ) -> Result<(), StoreError> {
        match self {
            Store::Local(r) => {
                r.record_deployment_target(name, target, &status.to_string(), &local_actor())
                    .await?;
                audit_local(
                    r,
                    "deployment.target",
                    &format!("deployment:{name}"),
                    &format!("{target}: {action}"),
                )
                .await?;
            }
            Store::Remote(c) => {
                c.record_target(name, target, status).await?;
            }
        }
        Ok(())
    }

    /// The current specification of deployment `name`.
    pub async fn deployment_spec(&self, name: &str) -> Result<DeploymentSpec, StoreError> {
        let spec = match self {
            Store::Local(r) => serde_json::from_str(&r.deployment(name).await?.spec),
            Store::Remote(c) => serde_json::from_value(c.deployment(name).await?["spec"].take()),
        };
        spec.map_err(|e| {
            StoreError::Unreadable(format!(
                "deployment {name:?}: its specification cannot be read: {e}"
            ))
        })
    }

    /// Where the store is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Local(_) => "the registry".into(),
            Store::Remote(c) => format!("the registry at {}", c.url()),
        }
    }

    // Plugins.

    /// Searches packages.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<PackageSummary>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.search(query).await?,
            Store::Remote(c) => {
                c.search(
                    query.text.as_deref(),
                    query.kind.as_deref(),
                    query.keyword.as_deref(),
                )
                .await?
            }
        })
    }

    /// Every version of a package.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.versions(name).await?,
            Store::Remote(c) => c.versions(name).await?,
        })
    }

    /// One version of a package.
    pub async fn version(
        &self,
        name: &str,
        version: &semver::Version,
    ) -> Result<VersionRecord, StoreError> {
        Ok(match self {
            Store::Local(r) => r.version(name, version).await?,
            Store::Remote(c) => c.version(name, version).await?,
        })
    }

    /// Resolves a specification.
    pub async fn resolve(&self, spec: &PluginSpec) -> Result<VersionRecord, StoreError> {
        Ok(match self {
            Store::Local(r) => r.resolve(spec).await?,
            Store::Remote(c) => c.resolve(&spec.to_string()).await?,
        })
    }

    /// The signatures of a version.
    pub async fn signatures(
        &self,
        record: &VersionRecord,
    ) -> Result<Vec<PluginSignature>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.signatures(&record.digest).await?,
            Store::Remote(c) => c.signatures(record).await?,
        })
    }

    /// The bytes of a version, checked against its digest.
    pub async fn download(&self, record: &VersionRecord) -> Result<Vec<u8>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.download(record).await?,
            Store::Remote(c) => c.download(record).await?,
        })
    }

    /// A stored blob by digest, checked against it.
    pub async fn blob(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.blobs().get(digest).await?,
            Store::Remote(c) => c.blob(digest).await?,
        })
    }

    // Experiments and runs.

    /// Every experiment.
    pub async fn experiments(&self) -> Result<Vec<Experiment>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.experiments().await?,
            Store::Remote(c) => c.experiments().await?,
        })
    }

    /// The experiment with this name, or else this id.
    pub async fn experiment_named(&self, which: &str) -> Result<Experiment, StoreError> {
        match self {
            Store::Local(r) => match r.experiment_by_name(which).await {
                Ok(e) => Ok(e),
                Err(_) => Ok(r.experiment(which).await?),
            },
            Store::Remote(c) => {
                match c.experiments().await?.into_iter().find(|e| e.name == which) {
                    Some(e) => Ok(e),
                    None => Ok(c.experiment(which).await?),
                }
            }
        }
    }

    /// The id of the experiment `name`, created if there is none.
    pub async fn experiment_id(&self, name: &str) -> Result<String, StoreError> {
        match self {
            Store::Local(r) => match r.experiment_by_name(name).await {
                Ok(e) => Ok(e.id),
                Err(RegistryError::NotFound(_)) => match r.create_experiment(name, None).await {
                    Ok(e) => Ok(e.id),
                    Err(RegistryError::Conflict(_)) => Ok(r.experiment_by_name(name).await?.id),
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e.into()),
            },
            Store::Remote(c) => Ok(c.experiment_id(name).await?),
        }
    }

    /// Starts a run; returns its id. A remote run's user is the token's holder when `user` is
    /// empty.
    pub async fn create_run(
        &self,
        experiment: &str,
        run_name: Option<&str>,
        user: &str,
    ) -> Result<String, StoreError> {
        Ok(match self {
            Store::Local(r) => r.create_run(experiment, run_name, user, None).await?.id,
            Store::Remote(c) => c.create_run(experiment, run_name, user).await?,
        })
    }

    /// Logs parameters, tags and step-0 metrics (metrics all at one timestamp).
    pub async fn log(
        &self,
        run: &str,
        params: &[(String, String)],
        tags: &[(String, String)],
        metrics: &[(&str, f64)],
    ) -> Result<(), StoreError> {
        match self {
            Store::Local(r) => {
                for (k, v) in params {
                    r.log_param(run, k, v).await?;
                }
                for (k, v) in tags {
                    r.set_run_tag(run, k, v).await?;
                }
                let ts = ferry_registry::now_ms();
                let metrics: Vec<ferry_registry::Metric<'_>> = metrics
                    .iter()
                    .map(|(key, value)| ferry_registry::Metric {
                        key,
                        value: *value,
                        step: 0,
                        timestamp: ts,
                    })
                    .collect();
                if !metrics.is_empty() {
                    r.log_metrics(run, &metrics).await?;
                }
            }
            Store::Remote(c) => c.log_batch(run, params, tags, metrics).await?,
        }
        Ok(())
    }

    /// Stores a file with a run of `experiment`; returns its digest.
    pub async fn log_artifact(
        &self,
        experiment: &str,
        run: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<String, StoreError> {
        Ok(match self {
            Store::Local(r) => r.log_artifact(run, path, bytes).await?.digest,
            Store::Remote(c) => c.log_artifact(experiment, run, path, bytes).await?,
        })
    }

    /// Ends a run with `status`.
    pub async fn end_run(&self, run: &str, status: RunStatus) -> Result<(), StoreError> {
        match self {
            Store::Local(r) => {
                r.update_run(run, Some(status), Some(ferry_registry::now_ms()), None)
                    .await?;
            }
            Store::Remote(c) => c.end_run(run, status).await?,
        }
        Ok(())
    }

    /// A run with its parameters, latest metrics and tags.
    pub async fn run(&self, id: &str) -> Result<Run, StoreError> {
        Ok(match self {
            Store::Local(r) => r.run(id).await?,
            Store::Remote(c) => c.run(id).await?,
        })
    }

    /// Runs of the experiments `experiment` names (all when `None`), filtered and ordered.
    pub async fn search_runs(
        &self,
        experiment: Option<&str>,
        view: RunView,
        filter: &str,
        order_by: &[String],
        max: usize,
    ) -> Result<Vec<Run>, StoreError> {
        match self {
            Store::Local(r) => {
                let ids = match experiment {
                    None => r.experiments().await?.into_iter().map(|e| e.id).collect(),
                    Some(w) => vec![self.experiment_named(w).await?.id],
                };
                let filter = RunFilter::parse(filter)?;
                let order = order_by
                    .iter()
                    .map(|o| RunOrder::parse(o))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(r.search_runs(&ids, view, &filter, &order, max).await?)
            }
            Store::Remote(c) => {
                let id = match experiment {
                    Some(w) => Some(self.experiment_named(w).await?.id),
                    None => None,
                };
                let view = match view {
                    RunView::ActiveOnly => "ACTIVE_ONLY",
                    RunView::DeletedOnly => "DELETED_ONLY",
                    RunView::All => "ALL",
                };
                Ok(c.search_runs(id.as_deref(), view, filter, order_by, max)
                    .await?)
            }
        }
    }

    /// A run's files.
    pub async fn artifacts(&self, run: &str) -> Result<Vec<ArtifactInfo>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.artifacts(run, "").await?,
            Store::Remote(c) => c.artifacts(run).await?,
        })
    }

    /// One of a run's files.
    pub async fn read_artifact(&self, run: &str, path: &str) -> Result<Vec<u8>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.read_artifact(run, path).await?,
            Store::Remote(c) => c.read_artifact(run, path).await?,
        })
    }

    /// Deletes (`true`) or restores a run.
    pub async fn set_run_deleted(&self, run: &str, deleted: bool) -> Result<(), StoreError> {
        match self {
            Store::Local(r) if deleted => r.delete_run(run).await?,
            Store::Local(r) => r.restore_run(run).await?,
            Store::Remote(c) => c.set_run_deleted(run, deleted).await?,
        }
        Ok(())
    }

    // The model registry.

    /// Registered models whose name contains `q`.
    pub async fn registered_models(&self, q: &str) -> Result<Vec<RegisteredModel>, StoreError> {
        Ok(match self {
            Store::Local(r) => r.registered_models(q).await?,
            Store::Remote(c) => c.registered_models(q).await?,
        })
    }

    /// A registered model and its versions.
    pub async fn registered_model(
        &self,
        name: &str,
    ) -> Result<(RegisteredModel, Vec<ModelVersion>), StoreError> {
        Ok(match self {
            Store::Local(r) => (
                r.registered_model(name).await?,
                r.model_versions(name).await?,
            ),
            Store::Remote(c) => c.registered_model(name).await?,
        })
    }

    /// A version by number, alias, stage or `latest`.
    pub async fn model_version(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<ModelVersion, StoreError> {
        Ok(match self {
            Store::Local(r) => r.resolve_model_version(name, reference).await?,
            Store::Remote(c) => c.model_version(name, reference).await?,
        })
    }

    /// Points `alias` at `version`.
    pub async fn set_alias(&self, name: &str, alias: &str, version: i64) -> Result<(), StoreError> {
        match self {
            Store::Local(r) => r.set_model_alias(name, alias, version).await?,
            Store::Remote(c) => c.set_alias(name, alias, version).await?,
        }
        Ok(())
    }

    /// Removes `alias`.
    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), StoreError> {
        match self {
            Store::Local(r) => r.delete_model_alias(name, alias).await?,
            Store::Remote(c) => c.delete_alias(name, alias).await?,
        }
        Ok(())
    }

    /// Sets a registered model's description and tags.
    pub async fn describe_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        match self {
            Store::Local(r) => {
                if let Some(d) = description {
                    r.set_model_description(name, d).await?;
                }
                for (k, v) in tags {
                    r.set_model_tag(name, k, v).await?;
                }
            }
            Store::Remote(c) => c.patch_model(name, description, tags).await?,
        }
        Ok(())
    }

    /// Sets a version's description and tags.
    pub async fn describe_version(
        &self,
        name: &str,
        version: i64,
        description: Option<&str>,
        tags: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        match self {
            Store::Local(r) => {
                if let Some(d) = description {
                    r.set_version_description(name, version, d).await?;
                }
                for (k, v) in tags {
                    r.set_version_tag(name, version, k, v).await?;
                }
            }
            Store::Remote(c) => c.patch_version(name, version, description, tags).await?,
        }
        Ok(())
    }

    /// Moves a version to a stage.
    pub async fn transition_stage(
        &self,
        name: &str,
        version: i64,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion, StoreError> {
        Ok(match self {
            Store::Local(r) => {
                r.transition_model_stage(name, version, stage, archive_existing)
                    .await?
            }
            Store::Remote(c) => {
                c.transition_stage(name, version, stage, archive_existing)
                    .await?
            }
        })
    }
}
