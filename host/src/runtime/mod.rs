//! The sandboxed plugin runtime: one engine, cached compilation, pre-instantiated components,
//! and typed instances that run under deadlines and memory caps.

pub mod bindings;
mod cache;
mod check;
mod compute;
mod engine;
mod error;
mod extism;
mod grants;
mod kinds;
mod limits;
mod plugin;
mod random;
mod sandbox;
mod session;
mod smtp;
mod state;

use std::{path::PathBuf, sync::Arc};

use wasmtime::{Engine, component::Linker};

pub use cache::{CacheOutcome, ComponentCache};
pub use compute::{Compute, ComputeError};
pub use engine::{EngineSettings, MAX_MEMORY_BYTES};
pub use error::{Failure, GuestError, LoadError, PluginError};
pub use ferry_extism_pdk::wire::Payload as ExtismPayload;
pub use grants::{DirGrant, Grants};
pub use kinds::{
    AlertSinkInstance, AnalyzerHandle, DeployerInstance, ModelInstance, PredictorHandle,
    TransformInstance, TransformerHandle, ValidatorInstance,
};
pub use limits::{LimitOverrides, Limits};
pub use plugin::{LoadOptions, Plugin};
pub use smtp::SmtpGrant;
pub use state::StoreState;

use crate::manifest::PluginKind;

/// How to build a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Engine settings.
    pub engine: EngineSettings,
    /// The encoding of calls to Extism plugins: `None` calls a plugin in MessagePack where it
    /// reads it (every plugin built with `ferry-extism-pdk` does) and in JSON otherwise;
    /// `Some(ExtismPayload::Json)` keeps every call JSON, readable when debugging a plugin.
    pub extism_payload: Option<ExtismPayload>,
}

impl RuntimeOptions {
    /// The default options with the user's cache folder (`$XDG_CACHE_HOME/ferry/components`).
    pub fn with_default_cache() -> Self {
        Self {
            cache_dir: dirs::cache_dir().map(|d| d.join("ferry").join("components")),
            engine: EngineSettings::default(),
            extism_payload: None,
        }
    }
}

/// The runtime could not start (the engine or a linker could not be built).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the plugin runtime: {0}")]
pub struct StartError(String);

struct Inner {
    engine: Engine,
    linker: Linker<StoreState>,
    net_linker: Linker<StoreState>,
    sink_linker: Linker<StoreState>,
    extism_linker: wasmtime::Linker<StoreState>,
    extism_payload: Option<ExtismPayload>,
    cache: ComponentCache,
    compute: Compute,
}

/// The plugin runtime. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    /// A runtime with the given options.
    pub fn new(options: RuntimeOptions) -> Result<Self, StartError> {
        Self::build(options).map_err(|e| StartError(format!("{e:#}")))
    }

    fn build(options: RuntimeOptions) -> wasmtime::Result<Self> {
        let engine = engine::new_engine(&options.engine)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        random::add_to_linker(&mut linker)?;
        bindings::base::ferry::plugin::host::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;
        let mut net_linker = linker.clone();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut net_linker)?;
        #[allow(unused_mut)]
        let mut sink_linker = net_linker.clone();
        #[cfg(feature = "registry")]
        bindings::base::ferry::plugin::smtp::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut sink_linker,
            |s| s,
        )?;
        let extism_linker = extism::linker(&engine)?;
        let cache = match options.cache_dir {
            Some(dir) => ComponentCache::new(dir),
            None => ComponentCache::disabled(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                net_linker,
                sink_linker,
                extism_linker,
                extism_payload: options.extism_payload,
                cache,
                compute: Compute::default(),
            }),
        })
    }

    /// The encoding Extism calls are made in, when the plugin reads it.
    pub fn extism_payload(&self) -> Option<ExtismPayload> {
        self.inner.extism_payload
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The compiled-component cache.
    pub fn cache(&self) -> &ComponentCache {
        &self.inner.cache
    }

    /// The threads plugin calls run on in a server, apart from those that serve requests.
    pub fn compute(&self) -> &Compute {
        &self.inner.compute
    }

    fn extism_linker(&self) -> &wasmtime::Linker<StoreState> {
        &self.inner.extism_linker
    }

    fn linker_for(&self, kind: PluginKind) -> &Linker<StoreState> {
        if kind == PluginKind::AlertSink {
            &self.inner.sink_linker
        } else if kind.may_use_http() {
            &self.inner.net_linker
        } else {
            &self.inner.linker
        }
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
        plugin::load(self, source_name, bytes, options).await
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
