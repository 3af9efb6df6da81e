//! Plugins and blobs by digest: resolving a pipeline's plugin references against the
//! registry, and loading exactly what a lineage pins, refusing anything that does not match.

use ferry_registry::{PluginSpec, Registry, RegistryError, VersionRecord};

use super::PipelineError;
use super::lineage::{Lineage, PinnedPlugin};
use crate::runtime::{LoadOptions, Plugin, Runtime};

/// Resolves `name@REQ` against the registry.
pub async fn resolve(registry: &Registry, reference: &str) -> Result<VersionRecord, PipelineError> {
    let spec = PluginSpec::parse(reference)
        .map_err(|e| PipelineError::Spec(format!("plugin {reference:?}: {e}")))?;
    Ok(registry.resolve(&spec).await?)
}

/// Resolves `name@REQ` against the registry and loads the version it resolves to.
pub async fn load_resolved(
    runtime: &Runtime,
    registry: &Registry,
    reference: &str,
    options: &LoadOptions,
) -> Result<Plugin, PipelineError> {
    let record = resolve(registry, reference).await?;
    let bytes = registry.download(&record).await?;
    let source = source_name(&record.name, &record.version.to_string());
    Ok(runtime.load(&source, &bytes, options).await?)
}

fn source_name(name: &str, version: &str) -> String {
    format!("registry:{name}@{version}")
}

/// Checks that the registry holds `pin` with the same digest, and returns its bytes (read
/// from the blob store, which checks them against the digest).
pub async fn pinned_bytes(
    registry: &Registry,
    pin: &PinnedPlugin,
) -> Result<Vec<u8>, PipelineError> {
    let version = semver::Version::parse(&pin.version)
        .map_err(|e| PipelineError::Skew(format!("plugin {pin}: bad version: {e}")))?;
    let record = match registry.version(&pin.name, &version).await {
        Ok(r) => r,
        Err(RegistryError::NotFound(_)) => {
            return Err(PipelineError::Skew(format!(
                "plugin {}@{} is not in the registry",
                pin.name, pin.version
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if record.digest != pin.digest {
        return Err(PipelineError::Skew(format!(
            "plugin {}@{}: the lineage pins {} but the registry holds {}",
            pin.name, pin.version, pin.digest, record.digest
        )));
    }
    blob(
        registry,
        &pin.digest,
        &format!("plugin {}@{}", pin.name, pin.version),
    )
    .await
}

/// Loads the plugin a lineage pins.
pub async fn load_pinned(
    runtime: &Runtime,
    registry: &Registry,
    pin: &PinnedPlugin,
    options: &LoadOptions,
) -> Result<Plugin, PipelineError> {
    let bytes = pinned_bytes(registry, pin).await?;
    let plugin = runtime
        .load(&source_name(&pin.name, &pin.version), &bytes, options)
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

/// A blob, checked against its digest; a missing or damaged blob is a lineage mismatch.
pub async fn blob(registry: &Registry, digest: &str, what: &str) -> Result<Vec<u8>, PipelineError> {
    match registry.blobs().get(digest).await {
        Ok(b) => Ok(b),
        Err(RegistryError::NotFound(_)) | Err(RegistryError::Io { .. }) => Err(
            PipelineError::Skew(format!("{what}: no stored bytes with digest {digest}")),
        ),
        Err(RegistryError::Corrupt { actual, .. }) => Err(PipelineError::Skew(format!(
            "{what}: the lineage pins {digest} but the stored bytes hash to {actual}"
        ))),
        Err(RegistryError::Invalid(m)) => Err(PipelineError::Skew(format!("{what}: {m}"))),
        Err(e) => Err(e.into()),
    }
}

/// Checks everything a lineage pins: every plugin by digest, every transform state and the
/// model artifact by the digest of their bytes.
pub async fn check_lineage(registry: &Registry, lineage: &Lineage) -> Result<(), PipelineError> {
    for pin in lineage.plugins() {
        pinned_bytes(registry, pin).await?;
    }
    for (i, t) in lineage.transforms.iter().enumerate() {
        blob(
            registry,
            &t.state_digest,
            &format!("the state of transform {} ({})", i + 1, t.plugin.name),
        )
        .await?;
    }
    if let Some(m) = &lineage.model {
        blob(registry, &m.artifact_digest, "the model artifact").await?;
    }
    lineage.input_fields().map_err(PipelineError::Skew)?;
    Ok(())
}
