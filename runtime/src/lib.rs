//! Ferry's plugin runtime: the sandbox every plugin runs in.
//!
//! It holds the one wasmtime engine (pooled instances, epoch deadlines, deterministic floats),
//! the compiled-component cache, the operator's grants and limits, the plugin manifest and the
//! typed callers of the five plugin kinds (validators, feature transforms, model adapters,
//! deployers and alert sinks), for components and for Extism modules alike: each kind's
//! calls are one trait that both backends implement (`kinds/component.rs` through the WIT
//! bindings, `kinds/extism.rs` through JSON exports), so no instance method branches on the
//! backend.
//!
//! It may depend on wasmtime, the WIT contract in `wit/` and `ferry-extism-pdk`'s wire types.
//! It must not depend on axum, sqlx, the registry or any other Ferry crate above it, and it
//! keeps no global metrics: it counts into the [`RuntimeMetrics`] handle it is given. The
//! `net` feature adds the outbound network that granted plugins may use (Extism
//! `http_request`, alert sinks' SMTP); the edge build leaves it out.
//!
//! Start reading at [`Runtime`]: [`Runtime::load`] turns bytes into a [`Plugin`], and each
//! kind's instance type ([`TransformInstance::new`], [`ModelInstance::new`], ...) calls it.

pub mod bindings;
mod blob;
mod builtins;
mod cache;
mod check;
mod compute;
mod denials;
mod engine;
mod error;
mod extism;
mod grants;
mod kinds;
mod limits;
mod linked;
#[cfg(feature = "net")]
mod mail;
pub mod manifest;
pub mod metrics;
#[cfg_attr(not(feature = "net"), path = "offline.rs")]
mod net;
mod plugin;
mod prepared;
mod random;
mod sandbox;
mod session;
mod smtp;
mod snapshot;
mod state;

use std::sync::Arc;

use wasmtime::Engine;

use linked::Linked;

pub use blob::Blob;
pub use builtins::{Builtins, Embedded};
pub use cache::{CacheOutcome, ComponentCache};
pub use compute::{Compute, ComputeError};
pub use engine::{EngineSettings, MAX_MEMORY_BYTES};
pub use error::{Failure, GuestError, LoadError, PluginError};
pub use ferry_extism_pdk::wire::Payload as ExtismPayload;
pub use grants::{DirGrant, Grants};
pub use kinds::{
    AlertSinkInstance, AnalyzerHandle, DeployerInstance, ModelInstance, PredictorHandle,
    ReadyModel, ReadyTransform, ReadyValidator, TransformInstance, TransformerHandle,
    ValidatorInstance,
};
pub use limits::{LimitOverrides, Limits};
pub use linked::{RuntimeOptions, StartError};
pub use manifest::{CONTRACT_VERSION, Manifest, PluginKind};
pub use metrics::RuntimeMetrics;
pub use plugin::{LoadOptions, Plugin};
pub use smtp::SmtpGrant;
pub use state::StoreState;

/// The plugin runtime. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Linked>,
}

impl Runtime {
    /// A runtime with the given options.
    pub fn new(options: RuntimeOptions) -> Result<Self, StartError> {
        Ok(Self {
            inner: Arc::new(Linked::build(options).map_err(|e| StartError(format!("{e:#}")))?),
        })
    }

    /// The encoding Extism calls are made in, when the plugin reads it.
    pub fn extism_payload(&self) -> Option<ExtismPayload> {
        self.inner.extism_payload()
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        self.inner.engine()
    }

    /// Where plugin calls, failures and instances are counted.
    pub fn metrics(&self) -> &RuntimeMetrics {
        self.inner.metrics()
    }

    /// The compiled-component cache.
    pub fn cache(&self) -> &ComponentCache {
        self.inner.cache()
    }

    /// The threads plugin calls run on in a server, apart from those that serve requests.
    pub fn compute(&self) -> &Compute {
        self.inner.compute()
    }

    /// Loads a plugin from its bytes: checks they are a component of a `ferry:plugin` world
    /// (or an Extism module answering `ferry_manifest`) at a compatible version, compiles (or
    /// takes from the cache), reads and checks the manifest, and applies the operator's grants
    /// and limits.
    pub async fn load(
        &self,
        source_name: &str,
        bytes: &[u8],
        options: &LoadOptions,
    ) -> Result<Plugin, LoadError> {
        plugin::load(&self.inner, source_name, bytes, options).await
    }

    /// The plugins embedded in the binary that built this runtime.
    pub fn builtins(&self) -> &Builtins {
        self.inner.builtins()
    }

    /// Loads a plugin given either as a built-in name (see [`Runtime::builtins`]) or as a path
    /// to a `.wasm` file.
    pub async fn resolve(
        &self,
        reference: &str,
        options: &LoadOptions,
    ) -> Result<Plugin, LoadError> {
        if self.builtins().is_file(reference) {
            self.load_file(std::path::Path::new(reference), options)
                .await
        } else {
            self.load_builtin(reference, options).await
        }
    }

    /// Loads the built-in plugin `name`; a name this build left out, or one it never had, is
    /// refused with the names there are.
    pub async fn load_builtin(
        &self,
        name: &str,
        options: &LoadOptions,
    ) -> Result<Plugin, LoadError> {
        let bytes = self.builtins().find(name)?;
        self.load(&format!("builtin:{name}"), bytes, options).await
    }

    /// Loads a plugin from a file.
    pub async fn load_file(
        &self,
        path: &std::path::Path,
        options: &LoadOptions,
    ) -> Result<Plugin, LoadError> {
        let bytes = tokio::fs::read(path).await.map_err(|error| LoadError::Io {
            source_name: path.display().to_string(),
            error,
        })?;
        self.load(&path.display().to_string(), &bytes, options)
            .await
    }
}
