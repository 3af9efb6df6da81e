//! Publishing plugins to a registry: everything is checked before anything is written,
//! including the purity check of the kinds that compute, on Ferry's sample data.

use ferry_registry::{NewVersion, Published, Registry, RegistryError};

use ferry_core::ServeError;
use ferry_core::steps::purity::{PublishCheck, check_at_publish};
use ferry_runtime::{LoadError, LoadOptions, Plugin, PluginError, Runtime};

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
    /// The plugin failed the purity check on the sample data, or misbehaved while checked.
    #[error("{0}")]
    Refused(PluginError),
    /// The plugin failed a check of the conformance kit (`ferry plugin test`).
    #[error(
        "{plugin} {version} does not conform: {}; run `ferry plugin test` on it for the whole report (an admin may publish with --skip-checks)",
        failures.join("; ")
    )]
    NotConforming {
        /// The plugin's name.
        plugin: String,
        /// Its version.
        version: String,
        /// Each failed check, with what the plugin did.
        failures: Vec<String>,
    },
    /// The registry refused or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Which checks a publish runs besides loading the plugin and the purity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// The rest of the conformance kit too.
    Conformance,
    /// Only loading and the purity check: for an admin's `--skip-checks`, and for the
    /// built-ins, which the project's tests hold to the kit.
    PurityOnly,
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

/// A publish that went through, and what the purity check found.
#[derive(Debug, Clone)]
pub struct PublishOutcome {
    /// The version created, or found unchanged.
    pub published: Published,
    /// The purity check at publish.
    pub purity: PublishCheck,
}

impl PublishOutcome {
    /// A line for the publisher about the purity check, if there is something to say.
    pub fn purity_note(&self) -> Option<String> {
        match &self.purity {
            PublishCheck::NotRun(why) => Some(format!("purity check not run at publish: {why}")),
            PublishCheck::Passed | PublishCheck::NotApplicable => None,
        }
    }
}

/// Runs the purity check at publish; a plugin that fails it, or misbehaves on the sample
/// data, is refused.
pub async fn check_purity(plugin: &Plugin) -> Result<PublishCheck, PublishError> {
    check_at_publish(plugin).await.map_err(|e| match e {
        ServeError::Plugin(p) => PublishError::Refused(p),
        other => PublishError::Refused(plugin.error(
            "purity check",
            ferry_runtime::Failure::Host(other.to_string()),
        )),
    })
}

/// Runs the conformance kit's checks other than purity; a failed one refuses the plugin.
pub async fn conform(plugin: &Plugin) -> Result<(), PublishError> {
    let report = crate::conformance::run_after_purity(plugin).await;
    if report.passed() {
        Ok(())
    } else {
        Err(PublishError::NotConforming {
            plugin: report.plugin.clone(),
            version: report.version.clone(),
            failures: report.failures(),
        })
    }
}

/// Checks `bytes` as a plugin (size, component, world, contract version, manifest, purity,
/// and with [`Checks::Conformance`] the rest of the conformance kit) and, only if all of it
/// holds, publishes it.
pub async fn publish(
    runtime: &Runtime,
    registry: &Registry,
    source_name: &str,
    bytes: &[u8],
    publisher: Option<&str>,
    checks: Checks,
) -> Result<PublishOutcome, PublishError> {
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
    let purity = check_purity(&plugin).await?;
    if checks == Checks::Conformance {
        conform(&plugin).await?;
    }
    let published = registry
        .publish(new_version(&plugin, publisher), bytes)
        .await?;
    if let (Published::Created(r), Some(owner)) = (&published, publisher) {
        registry.add_owner(&r.name, owner).await?;
    }
    Ok(PublishOutcome { published, purity })
}

/// Who publishes, for the audit log and the package's owners.
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    /// How the audit log names them (`local:USER`, `token:NAME`).
    pub actor: &'a str,
    /// The owner a new package gets.
    pub owner: Option<&'a str>,
    /// The request id the audit entry carries.
    pub request_id: &'a str,
}

/// Publishes and records the attempt, whatever its outcome, in the audit log.
pub async fn publish_audited(
    runtime: &Runtime,
    registry: &Registry,
    source_name: &str,
    bytes: &[u8],
    who: Publisher<'_>,
    checks: Checks,
) -> Result<PublishOutcome, PublishError> {
    let Publisher {
        actor,
        owner: publisher,
        request_id,
    } = who;
    let result = publish(runtime, registry, source_name, bytes, publisher, checks).await;
    let (object, outcome, detail) = match &result {
        Ok(p) => {
            let r = p.published.record();
            let what = if matches!(p.published, Published::Created(_)) {
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
    let builtins = runtime.builtins();
    for name in builtins.names() {
        if let (Some(bytes), Some(digest)) = (builtins.bytes(name), builtins.digest(name)) {
            // Loading (instantiating for the manifest) is not cheap, nor is hashing every
            // built-in at every start (it also made their pages resident): registries that
            // already hold these bytes skip them by the digest computed at build time.
            if registry.has_digest(digest).await? {
                continue;
            }
            match publish(
                runtime,
                registry,
                &format!("builtin:{name}"),
                bytes,
                Some("ferry"),
                Checks::PurityOnly,
            )
            .await
            {
                Ok(_) => {}
                // A built-in whose bytes changed without a new version: keep what the
                // registry holds (lineages pin it) rather than refuse to open the registry.
                Err(PublishError::Registry(RegistryError::Conflict(why))) => {
                    tracing::warn!(plugin = name, "built-in not added to the registry: {why}");
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
