//! What every instance of one plugin is given: its identity for error reports, its grants and
//! limits, and for the kinds that compute, the seed of its deterministic world.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::Engine;

use super::error::{Failure, PluginError};
use super::grants::Grants;
use super::limits::Limits;
use super::metrics::{FailureLabels, RuntimeMetrics};
use crate::manifest::PluginKind;

/// The sandbox one plugin's instances run in. Shared by every instance of the plugin.
pub(crate) struct Sandbox {
    pub engine: Engine,
    /// Where its calls, failures and instances are counted.
    pub metrics: RuntimeMetrics,
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    /// `name@version`, as logs attribute lines.
    pub label: Arc<str>,
    pub grants: Arc<Grants>,
    pub limits: Limits,
    /// For the kinds that compute: the seed of their random bytes, derived from the
    /// component's digest, so every instance of the same bytes draws the same values.
    pub seed: Option<[u8; 32]>,
}

impl Sandbox {
    /// The sandbox of a component with digest `digest` (`sha256:…`) of kind `kind`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: Engine,
        metrics: RuntimeMetrics,
        name: String,
        version: String,
        kind: PluginKind,
        label: Arc<str>,
        digest: &str,
        grants: Grants,
        limits: Limits,
    ) -> Self {
        let seed = kind.is_pure().then(|| random_seed(digest));
        Self {
            engine,
            metrics,
            name,
            version,
            kind,
            label,
            grants: Arc::new(grants),
            limits,
            seed,
        }
    }

    /// A typed error naming the plugin and the call.
    pub fn error(&self, operation: &'static str, failure: Failure) -> PluginError {
        let kind = match &failure {
            Failure::Timeout { .. } => Some("deadline"),
            Failure::OutOfMemory { .. } => Some("memory"),
            Failure::StackOverflow | Failure::Panic { .. } | Failure::Trap { .. } => Some("trap"),
            Failure::CapabilityDenied { .. } | Failure::RandomDrawn => Some("denied"),
            Failure::InvalidOutput(_) | Failure::OutputTooLarge { .. } | Failure::Impure { .. } => {
                Some("invalid_output")
            }
            Failure::Guest(_) | Failure::Host(_) => Some("error"),
            Failure::Discarded | Failure::NotKind { .. } => None,
        };
        if matches!(kind, Some("deadline" | "memory" | "trap")) {
            self.metrics.misbehaviour.inc();
        }
        if let Some(failure) = kind {
            self.metrics
                .plugin_failures
                .get_or_create(&FailureLabels {
                    plugin: self.label.to_string(),
                    failure,
                })
                .inc();
        }
        PluginError {
            plugin: self.name.clone(),
            version: self.version.clone(),
            kind: self.kind,
            operation,
            failure: Box::new(failure),
        }
    }
}

/// The seed of a plugin's random bytes: a hash of its digest under a fixed label.
pub fn random_seed(digest: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"ferry:plugin random seed\0");
    h.update(digest.as_bytes());
    h.finalize().into()
}
