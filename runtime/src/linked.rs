//! What a [`Runtime`](crate::Runtime) is made of, built from its options: the engine, the
//! linkers (plain, with the network, with SMTP, Extism's), the compiled-component cache, the
//! compute pool and the metrics handle. Loading takes this, so nothing below the crate root
//! depends on the `Runtime` type.

use std::path::PathBuf;

use wasmtime::{Engine, component::Linker};

use crate::builtins::Builtins;
use crate::cache::ComponentCache;
use crate::compute::Compute;
use crate::engine::{self, EngineSettings};
use crate::manifest::PluginKind;
use crate::metrics::RuntimeMetrics;
use crate::state::StoreState;
use crate::{bindings, net, random};
use ferry_extism_pdk::wire::Payload as ExtismPayload;

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
    /// Where plugin calls, failures and instances are counted.
    pub metrics: RuntimeMetrics,
    /// The plugins embedded in the binary, which bare names resolve to (none by default).
    pub builtins: Builtins,
    /// Run every plugin without snapshots: instances are built with `new-transformer`,
    /// `load` or a plain `validate` each time even when a plugin exports its kind's
    /// `prepared-*` interface (contract 0.1.1). For comparisons; results are the same.
    pub no_snapshots: bool,
}

impl RuntimeOptions {
    /// The default options with the user's cache folder (`$XDG_CACHE_HOME/ferry/components`).
    pub fn with_default_cache() -> Self {
        Self {
            cache_dir: dirs::cache_dir().map(|d| d.join("ferry").join("components")),
            engine: EngineSettings::default(),
            extism_payload: None,
            metrics: RuntimeMetrics::default(),
            builtins: Builtins::default(),
            no_snapshots: false,
        }
    }
}

/// The runtime could not start (the engine or a linker could not be built).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the plugin runtime: {0}")]
pub struct StartError(pub(crate) String);

/// What every plugin is loaded against: the engine, the linker of each kind, the cache and
/// the metrics handle. [`Runtime`](crate::Runtime) holds one.
pub(crate) struct Linked {
    engine: Engine,
    linker: Linker<StoreState>,
    net_linker: Linker<StoreState>,
    sink_linker: Linker<StoreState>,
    extism_linker: wasmtime::Linker<StoreState>,
    extism_payload: Option<ExtismPayload>,
    metrics: RuntimeMetrics,
    cache: ComponentCache,
    compute: Compute,
    builtins: Builtins,
    snapshots: bool,
}

impl Linked {
    /// Builds the engine, the linkers of every kind and the cache.
    pub(crate) fn build(options: RuntimeOptions) -> wasmtime::Result<Self> {
        let engine = engine::new_engine(&options.engine, &options.metrics)?;
        let mut linker: Linker<StoreState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        random::add_to_linker(&mut linker, |s| &mut s.random)?;
        bindings::base::ferry::plugin::host::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;
        let mut net_linker = linker.clone();
        net::add_to_linker(&mut net_linker)?;
        #[allow(unused_mut)]
        let mut sink_linker = net_linker.clone();
        #[cfg(feature = "net")]
        bindings::base::ferry::plugin::smtp::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut sink_linker,
            |s| s,
        )?;
        let extism_linker = crate::extism::link::linker(&engine)?;
        let cache = match options.cache_dir {
            Some(dir) => ComponentCache::new(dir),
            None => ComponentCache::disabled(),
        };
        Ok(Self {
            engine,
            linker,
            net_linker,
            sink_linker,
            extism_linker,
            extism_payload: options.extism_payload,
            metrics: options.metrics,
            cache,
            compute: Compute::default(),
            builtins: options.builtins,
            snapshots: !options.no_snapshots,
        })
    }

    /// Whether plugins that can be prepared start their instances from snapshots.
    pub(crate) fn snapshots(&self) -> bool {
        self.snapshots
    }

    /// The encoding Extism calls are made in, when the plugin reads it.
    pub(crate) fn extism_payload(&self) -> Option<ExtismPayload> {
        self.extism_payload
    }

    /// The shared engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Where plugin calls, failures and instances are counted.
    pub(crate) fn metrics(&self) -> &RuntimeMetrics {
        &self.metrics
    }

    /// The plugins embedded in the binary.
    pub(crate) fn builtins(&self) -> &Builtins {
        &self.builtins
    }

    /// The compiled-component cache.
    pub(crate) fn cache(&self) -> &ComponentCache {
        &self.cache
    }

    /// The compute pool.
    pub(crate) fn compute(&self) -> &Compute {
        &self.compute
    }

    pub(crate) fn extism_linker(&self) -> &wasmtime::Linker<StoreState> {
        &self.extism_linker
    }

    pub(crate) fn linker_for(&self, kind: PluginKind) -> &Linker<StoreState> {
        if kind == PluginKind::AlertSink {
            &self.sink_linker
        } else if kind.may_use_http() {
            &self.net_linker
        } else {
            &self.linker
        }
    }
}
