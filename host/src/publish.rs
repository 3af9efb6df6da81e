//! Publishing plugins to a registry: everything is checked before anything is written.

use ferry_registry::{NewVersion, Published, Registry, RegistryError};

use crate::builtin;
use crate::runtime::{LoadError, LoadOptions, Plugin, Runtime};

/// The largest plugin a registry accepts, in bytes.
pub const MAX_PLUGIN_BYTES: usize = 64 << 20;

/// Why a publish was refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The component is larger than allowed.
    #[error("{source_name}: {size} bytes, more than the {limit} a plugin may have")]
    TooLarge {
        /// Where the bytes came from.
        source_name: String,
        /// Their size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a valid plugin (not a component, wrong world, bad manifest, ...).
    #[error(transparent)]
    Invalid(#[from] LoadError),
    /// The registry refused or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The registry description of a loaded plugin.
pub fn new_version(plugin: &Plugin, publisher: Option<&str>) -> NewVersion {
    let m = plugin.manifest();
    NewVersion {
        name: m.name.clone(),
        version: m.version.clone(),
        kind: m.kind.name().to_string(),
        contract: m.contract.to_string(),
        description: m.description.clone(),
        license: m.license.clone(),
        repository: m.repository.clone(),
        authors: m.authors.clone(),
        keywords: m.keywords.clone(),
        manifest: serde_json::to_value(m).unwrap_or(serde_json::Value::Null),
        publisher: publisher.map(str::to_string),
    }
}

/// Checks `bytes` as a plugin (size, component, world, contract version, manifest) and, only
/// if all of it holds, publishes it.
pub async fn publish(
    runtime: &Runtime,
    registry: &Registry,
    source_name: &str,
    bytes: &[u8],
    publisher: Option<&str>,
) -> Result<Published, PublishError> {
    if bytes.len() > MAX_PLUGIN_BYTES {
        return Err(PublishError::TooLarge {
            source_name: source_name.to_string(),
            size: bytes.len(),
            limit: MAX_PLUGIN_BYTES,
        });
    }
    let plugin = runtime
        .load(source_name, bytes, &LoadOptions::default())
        .await?;
    let outcome = registry
        .publish(new_version(&plugin, publisher), bytes)
        .await?;
    if let (Published::Created(r), Some(owner)) = (&outcome, publisher) {
        registry.add_owner(&r.name, owner).await?;
    }
    Ok(outcome)
}

/// Publishes and records the attempt, whatever its outcome, in the audit log.
pub async fn publish_audited(
    runtime: &Runtime,
    registry: &Registry,
    source_name: &str,
    bytes: &[u8],
    actor: &str,
    publisher: Option<&str>,
    request_id: &str,
) -> Result<Published, PublishError> {
    let result = publish(runtime, registry, source_name, bytes, publisher).await;
    let (object, outcome, detail) = match &result {
        Ok(p) => {
            let r = p.record();
            let what = if matches!(p, Published::Created(_)) {
                "created"
            } else {
                "unchanged"
            };
            (
                format!("plugin:{}@{}", r.name, r.version),
                "ok",
                what.to_string(),
            )
        }
        Err(e) => (format!("file:{source_name}"), "denied", e.to_string()),
    };
    registry
        .audit(
            actor,
            "plugin.publish",
            &object,
            outcome,
            request_id,
            &detail,
        )
        .await?;
    result
}

/// Publishes every built-in plugin whose bytes the registry does not hold yet, so a new
/// registry starts with them and a newer binary adds its newer built-ins.
pub async fn seed_builtins(runtime: &Runtime, registry: &Registry) -> Result<(), PublishError> {
    for name in builtin::names() {
        if let Some(bytes) = builtin::bytes(name) {
            // Hashing is cheap; loading (instantiating for the manifest) is not. Registries
            // that already hold these bytes skip it, so opening one stays fast.
            if registry
                .has_digest(&ferry_registry::digest_of(bytes))
                .await?
            {
                continue;
            }
            publish(
                runtime,
                registry,
                &format!("builtin:{name}"),
                bytes,
                Some("ferry"),
            )
            .await?;
        }
    }
    Ok(())
}
