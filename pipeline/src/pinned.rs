//! Plugins and blobs by digest in a store: resolving a pipeline's plugin references, and the
//! store as a source of what a lineage pins ([`Stored`], for `ferry_core`'s loading), refusing
//! anything that does not match. Every plugin a pipeline loads from a store, resolved or
//! pinned, is held to the operator's trust policy.

use std::sync::Arc;

use ferry_registry::{PluginSpec, Registry, RegistryError, TrustPolicy, VersionRecord};

use super::PipelineError;
use crate::store::{Store, StoreError};
use ferry_core::lineage::{Lineage, PinnedPlugin};
use ferry_core::{Pins, ServingPipeline};
use ferry_runtime::LoadOptions;
use ferry_runtime::{Plugin, Runtime};

/// What the operator decides for every plugin a pipeline loads: grants and limits, and the
/// trust policy (signatures) each must satisfy.
#[derive(Debug, Clone, Default)]
pub struct PluginPolicy {
    /// Grants and limits.
    pub load: LoadOptions,
    /// Instance sets one served version may hold at once, in use or built ahead (default
    /// [`DEFAULT_SETS_PER_VERSION`](ferry_core::serving::DEFAULT_SETS_PER_VERSION)). A Python or
    /// JavaScript plugin's instance holds tens of MB, so this bounds what a version can take;
    /// calls past it wait for a set.
    pub sets_per_version: Option<std::num::NonZeroUsize>,
    /// The trust policy, if there is one.
    pub trust: Option<Arc<TrustPolicy>>,
}

impl PluginPolicy {
    /// These grants and limits, with no trust policy (an edge bundle has its own).
    pub fn of(load: LoadOptions) -> Self {
        PluginPolicy {
            load,
            ..Default::default()
        }
    }
}

impl PluginPolicy {
    /// Checks `record`'s signatures in `store` against the trust policy.
    async fn check_trust(
        &self,
        store: &Store,
        record: &VersionRecord,
    ) -> Result<(), PipelineError> {
        let Some(policy) = &self.trust else {
            return Ok(());
        };
        let signatures = store.signatures(record).await?;
        policy
            .check(&record.name, &record.digest, &signatures)
            .map_err(|e| {
                PipelineError::Untrusted(format!(
                    "{}@{} ({}): {}",
                    record.name,
                    record.version,
                    record.digest,
                    match e {
                        RegistryError::Invalid(m) => m,
                        other => other.to_string(),
                    }
                ))
            })
    }
}

/// Resolves `name@REQ` against the store.
pub async fn resolve(store: &Store, reference: &str) -> Result<VersionRecord, PipelineError> {
    let spec = PluginSpec::parse(reference)
        .map_err(|e| PipelineError::Spec(format!("plugin {reference:?}: {e}")))?;
    Ok(store.resolve(&spec).await?)
}

/// Resolves `name@REQ` against the store and loads the version it resolves to.
pub async fn load_resolved(
    runtime: &Runtime,
    store: &Store,
    reference: &str,
    policy: &PluginPolicy,
) -> Result<Plugin, PipelineError> {
    let record = resolve(store, reference).await?;
    policy.check_trust(store, &record).await?;
    let bytes = store.download(&record).await?;
    let source = source_name(&record.name, &record.version.to_string());
    Ok(runtime.load(&source, &bytes, &policy.load).await?)
}

fn source_name(name: &str, version: &str) -> String {
    format!("registry:{name}@{version}")
}

/// Checks that the store holds `pin` with the same digest; returns its record.
async fn pinned_record(store: &Store, pin: &PinnedPlugin) -> Result<VersionRecord, PipelineError> {
    let version = semver::Version::parse(&pin.version)
        .map_err(|e| PipelineError::Skew(format!("plugin {pin}: bad version: {e}")))?;
    let record = match store.version(&pin.name, &version).await {
        Ok(r) => r,
        Err(e) if is_not_found(&e) => {
            return Err(PipelineError::Skew(format!(
                "plugin {}@{} is not in {}",
                pin.name,
                pin.version,
                store.describe()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if record.digest != pin.digest {
        return Err(PipelineError::Skew(format!(
            "plugin {}@{}: the lineage pins {} but {} holds {}",
            pin.name,
            pin.version,
            pin.digest,
            store.describe(),
            record.digest
        )));
    }
    Ok(record)
}

fn is_not_found(e: &StoreError) -> bool {
    match e {
        StoreError::Registry(RegistryError::NotFound(_)) => true,
        StoreError::Remote(c) => c.status() == Some(404),
        _ => false,
    }
}

/// A registry, local or remote, as the source of what a lineage pins: each plugin is checked
/// against its record there and held to the operator's trust policy.
#[derive(Clone, Copy)]
pub struct Stored<'a> {
    store: &'a Store,
    policy: &'a PluginPolicy,
}

impl<'a> Stored<'a> {
    /// `store` under `policy`'s trust policy.
    pub fn new(store: &'a Store, policy: &'a PluginPolicy) -> Self {
        Stored { store, policy }
    }
}

impl Pins for Stored<'_> {
    type Error = PipelineError;

    fn name_of(&self, pin: &PinnedPlugin) -> String {
        source_name(&pin.name, &pin.version)
    }

    async fn admit(&self, pin: &PinnedPlugin) -> Result<(), PipelineError> {
        check_pinned(self.store, pin, self.policy).await
    }

    async fn blob(&self, digest: &str, what: &str) -> Result<Vec<u8>, PipelineError> {
        blob(self.store, digest, what).await
    }
}

/// Loads the serving pipeline of the version `lineage` describes from `store`, under
/// `policy`'s grants, limits and trust policy.
pub async fn load_serving(
    runtime: &Runtime,
    store: &Store,
    lineage: Lineage,
    policy: &PluginPolicy,
) -> Result<ServingPipeline, PipelineError> {
    ServingPipeline::load(
        runtime,
        &Stored::new(store, policy),
        lineage,
        &policy.load,
        policy.sets_per_version,
    )
    .await
}

/// Checks that the store holds `pin` as pinned and that it satisfies the trust policy: what
/// serving checks before it loads a version's plugin, for paths that hand the plugin on
/// instead (a deployer packaging a version).
pub async fn check_pinned(
    store: &Store,
    pin: &PinnedPlugin,
    policy: &PluginPolicy,
) -> Result<(), PipelineError> {
    let record = pinned_record(store, pin).await?;
    policy.check_trust(store, &record).await
}

/// A blob, checked against its digest; a missing or damaged blob is a lineage mismatch.
pub async fn blob(store: &Store, digest: &str, what: &str) -> Result<Vec<u8>, PipelineError> {
    match store.blob(digest).await {
        Ok(b) => Ok(b),
        Err(e) if is_not_found(&e) => Err(PipelineError::Skew(format!(
            "{what}: no stored bytes with digest {digest}"
        ))),
        Err(StoreError::Registry(RegistryError::Io { .. })) => Err(PipelineError::Skew(format!(
            "{what}: no stored bytes with digest {digest}"
        ))),
        Err(StoreError::Registry(RegistryError::Corrupt { actual, .. })) => {
            Err(PipelineError::Skew(format!(
                "{what}: the lineage pins {digest} but the stored bytes hash to {actual}"
            )))
        }
        Err(StoreError::Remote(crate::client::ClientError::Digest { actual, .. })) => {
            Err(PipelineError::Skew(format!(
                "{what}: the lineage pins {digest} but the bytes received hash to {actual}"
            )))
        }
        Err(StoreError::Registry(RegistryError::Invalid(m))) => {
            Err(PipelineError::Skew(format!("{what}: {m}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks everything a lineage pins against the local registry: every plugin by digest, every
/// transform state and the model artifact by the digest of their bytes.
pub async fn check_lineage(registry: &Registry, lineage: &Lineage) -> Result<(), PipelineError> {
    let store = Store::Local(registry.clone());
    for pin in lineage.plugins() {
        pinned_record(&store, pin).await?;
        blob(
            &store,
            &pin.digest,
            &format!("plugin {}@{}", pin.name, pin.version),
        )
        .await?;
    }
    for (i, t) in lineage.transforms.iter().enumerate() {
        blob(
            &store,
            &t.state_digest,
            &format!("the state of transform {} ({})", i + 1, t.plugin.name),
        )
        .await?;
    }
    if let Some(m) = &lineage.model {
        blob(&store, &m.artifact_digest, "the model artifact").await?;
    }
    lineage.input_fields().map_err(PipelineError::Skew)?;
    Ok(())
}

/// Where a stored pipeline's lineage is read from.
#[derive(Debug, Clone, Copy)]
pub enum LineageOf<'a> {
    /// A model version: `NAME@VERSION`, `NAME@ALIAS` or `NAME` (the latest).
    Model(&'a str),
    /// A `ferry train` run, which records its pipeline as `lineage.json`.
    Run(&'a str),
}

/// The lineage of a model version or a training run, with words naming it ("churn version
/// 3", "run 0f3…"). A version registered without one, or a run that recorded none, is
/// refused with how to get one.
pub async fn stored_lineage(
    store: &Store,
    of: LineageOf<'_>,
) -> Result<(String, Lineage), PipelineError> {
    let (what, text) =
        match of {
            LineageOf::Model(model) => {
                let (name, reference) = model.split_once('@').unwrap_or((model, "latest"));
                let version = store.model_version(name, reference).await?;
                let what = format!("{name} version {}", version.version);
                let text = version.lineage.ok_or_else(|| {
                    PipelineError::NoLineage(format!(
                        "{what} has no Ferry lineage (attach one with `ferry models attach`)"
                    ))
                })?;
                (what, text)
            }
            LineageOf::Run(run) => {
                let text = store.read_artifact(run, "lineage.json").await.map_err(|e| {
                PipelineError::NoLineage(format!(
                    "run {run}: no recorded pipeline (only `ferry train` runs have one): {e}"
                ))
            })?;
                (
                    format!("run {run}"),
                    String::from_utf8_lossy(&text).into_owned(),
                )
            }
        };
    let lineage = Lineage::parse(&text).map_err(PipelineError::Other)?;
    Ok((what, lineage))
}
