//! Plugins and blobs by digest: resolving a pipeline's plugin references against a store, and
//! loading exactly what a lineage pins, refusing anything that does not match. Every plugin a
//! pipeline loads, resolved or pinned, is held to the operator's trust policy.

#[cfg(feature = "registry")]
use std::sync::Arc;

use ferry_bundle::Bundle;
#[cfg(feature = "registry")]
use ferry_registry::{PluginSpec, Registry, RegistryError, TrustPolicy, VersionRecord};

use super::PipelineError;
#[cfg(feature = "registry")]
use super::lineage::Lineage;
use super::lineage::PinnedPlugin;
#[cfg(feature = "registry")]
use crate::store::{Store, StoreError};
use ferry_runtime::{LoadOptions, Plugin, Runtime};

/// What the operator decides for every plugin a pipeline loads: grants and limits, and the
/// trust policy (signatures) each must satisfy.
#[derive(Debug, Clone, Default)]
pub struct PluginPolicy {
    /// Grants and limits.
    pub load: LoadOptions,
    /// Instance sets one served version may hold at once, in use or built ahead (default
    /// [`DEFAULT_SETS_PER_VERSION`](super::serving::DEFAULT_SETS_PER_VERSION)). A Python or
    /// JavaScript plugin's instance holds tens of MB, so this bounds what a version can take;
    /// calls past it wait for a set.
    pub sets_per_version: Option<std::num::NonZeroUsize>,
    /// The trust policy, if there is one.
    #[cfg(feature = "registry")]
    pub trust: Option<Arc<TrustPolicy>>,
}

impl PluginPolicy {
    /// These grants and limits, with no trust policy (an edge bundle has its own).
    #[allow(clippy::needless_update)]
    pub fn of(load: LoadOptions) -> Self {
        PluginPolicy {
            load,
            ..Default::default()
        }
    }
}

#[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
/// Resolves `name@REQ` against the store.
pub async fn resolve(store: &Store, reference: &str) -> Result<VersionRecord, PipelineError> {
    let spec = PluginSpec::parse(reference)
        .map_err(|e| PipelineError::Spec(format!("plugin {reference:?}: {e}")))?;
    Ok(store.resolve(&spec).await?)
}

#[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
fn source_name(name: &str, version: &str) -> String {
    format!("registry:{name}@{version}")
}

#[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
fn is_not_found(e: &StoreError) -> bool {
    match e {
        StoreError::Registry(RegistryError::NotFound(_)) => true,
        StoreError::Remote(c) => c.status() == Some(404),
        _ => false,
    }
}

/// Where the parts a lineage pins come from.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// A registry, local or remote: each plugin is checked against its record there and held
    /// to the operator's trust policy.
    #[cfg(feature = "registry")]
    Store(&'a Store),
    /// An edge bundle, already checked whole against its manifest and its own trust policy.
    Bundle(&'a Bundle),
}

#[cfg(feature = "registry")]
impl<'a> From<&'a Store> for Source<'a> {
    fn from(store: &'a Store) -> Self {
        Source::Store(store)
    }
}

impl<'a> From<&'a Bundle> for Source<'a> {
    fn from(bundle: &'a Bundle) -> Self {
        Source::Bundle(bundle)
    }
}

impl Source<'_> {
    /// How a plugin loaded from here is named in errors and logs.
    fn name_of(&self, pin: &PinnedPlugin) -> String {
        match self {
            #[cfg(feature = "registry")]
            Source::Store(_) => source_name(&pin.name, &pin.version),
            Source::Bundle(_) => format!("bundle:{}@{}", pin.name, pin.version),
        }
    }
}

/// The bytes a lineage pins by `digest` (`what` names them in errors).
pub async fn pinned_blob(
    source: Source<'_>,
    digest: &str,
    what: &str,
) -> Result<Vec<u8>, PipelineError> {
    match source {
        #[cfg(feature = "registry")]
        Source::Store(store) => blob(store, digest, what).await,
        Source::Bundle(bundle) => bundle.by_digest(digest).map(<[u8]>::to_vec).ok_or_else(|| {
            PipelineError::Skew(format!(
                "{what}: the bundle holds no file with digest {digest}"
            ))
        }),
    }
}

#[cfg(feature = "registry")]
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

/// Loads the plugin a lineage pins, after checking it against its source (and, from a
/// registry, the trust policy).
pub async fn load_pinned(
    runtime: &Runtime,
    source: Source<'_>,
    pin: &PinnedPlugin,
    policy: &PluginPolicy,
) -> Result<Plugin, PipelineError> {
    #[cfg(feature = "registry")]
    if let Source::Store(store) = source {
        let record = pinned_record(store, pin).await?;
        policy.check_trust(store, &record).await?;
    }
    let bytes = pinned_blob(
        source,
        &pin.digest,
        &format!("plugin {}@{}", pin.name, pin.version),
    )
    .await?;
    let plugin = runtime
        .load(&source.name_of(pin), &bytes, &policy.load)
        .await?;
    if plugin.digest() != pin.digest || plugin.name() != pin.name {
        return Err(PipelineError::Skew(format!(
            "plugin {pin}: the component loaded is {}@{} ({})",
            plugin.name(),
            plugin.manifest().version,
            plugin.digest()
        )));
    }
    Ok(plugin)
}

#[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
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
