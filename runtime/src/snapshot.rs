//! Pre-initialized instances (contract 0.1.1). A component that exports its kind's
//! `prepared-*` interface is instantiated once per configuration (and learned state or
//! artifact), `prepare`d, and snapshotted with `wasmtime-wizer`: the snapshot is the same
//! component with its memories and globals as `prepare` left them. Every later instance starts
//! from the snapshot by copy-on-write, so each call still runs in an instance no earlier call
//! touched, without parsing its state again.
//!
//! Snapshots are kept in memory per plugin and on disk beside the compiled components, under a
//! key made of the plugin's digest, what `prepare` was given, the engine's compatibility hash
//! and this crate's version (which pins wasmtime and wizer). The file's sha256 is recorded next
//! to it; a file that does not match is rebuilt, never used.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use wasmtime::component::{
    Component, ComponentExportIndex, Instance, InstancePre, Lift, Linker, WasmList,
};
use wasmtime::{Engine, Store};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use crate::bindings::types as wit;
use crate::blob::Blob;
use crate::cache::ComponentCache;
use crate::error::{Failure, PluginError};
use crate::manifest::PluginKind;
use crate::sandbox::Sandbox;
use crate::session::{Session, timed};
use crate::state::StoreState;

/// Snapshots kept in memory per plugin; the oldest is dropped past this.
const KEPT: usize = 64;
/// Changes when what a snapshot file holds changes.
const FORMAT: u32 = 1;

/// What `prepare` is given, by kind.
#[derive(Clone, Copy)]
pub(crate) enum PrepareArgs<'a> {
    /// A validator's configuration.
    Validator { config: &'a str },
    /// A transform's configuration and learned state.
    Transform { config: &'a str, state: &'a Blob },
    /// A model's artifact and configuration.
    Model { artifact: &'a Blob, config: &'a str },
}

impl PrepareArgs<'_> {
    fn kind(self) -> PluginKind {
        match self {
            PrepareArgs::Validator { .. } => PluginKind::Validator,
            PrepareArgs::Transform { .. } => PluginKind::Transform,
            PrepareArgs::Model { .. } => PluginKind::Model,
        }
    }

    /// A digest of the arguments, each part length-prefixed; a state or artifact enters by
    /// its own digest, computed once per [`Blob`].
    fn digest(self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.kind().name().as_bytes());
        let mut part = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        match self {
            PrepareArgs::Validator { config } => part(config.as_bytes()),
            PrepareArgs::Transform { config, state } => {
                part(config.as_bytes());
                part(state.sha256());
            }
            PrepareArgs::Model { artifact, config } => {
                part(artifact.sha256());
                part(config.as_bytes());
            }
        }
        h.finalize().into()
    }
}

/// The export names of one kind's prepared interface.
struct Names {
    interface: &'static str,
    call: &'static str,
}

fn names(kind: PluginKind) -> Option<Names> {
    let (interface, call) = match kind {
        PluginKind::Validator => ("prepared-validator", "validate"),
        PluginKind::Transform => ("prepared-transform", "apply"),
        PluginKind::Model => ("prepared-model", "predict"),
        PluginKind::Deployer | PluginKind::AlertSink => return None,
    };
    Some(Names { interface, call })
}

/// The full name (`ferry:plugin/prepared-transform@0.1.1`) of the prepared interface a
/// component of `kind` exports, if it exports one.
pub(crate) fn exported_interface(kind: PluginKind, exports: &[String]) -> Option<String> {
    let names = names(kind)?;
    let prefix = format!("ferry:plugin/{}@", names.interface);
    exports.iter().find(|e| e.starts_with(&prefix)).cloned()
}

/// A prepared instance's image: pre-instantiated, with the function each call makes.
pub(crate) struct Snapshot {
    pub pre: InstancePre<StoreState>,
    pub call: ComponentExportIndex,
}

/// The outcome of preparing once, kept so that it is not tried again.
#[derive(Clone)]
enum Outcome {
    Ready(Arc<Snapshot>),
    /// The plugin runs without a snapshot, for the reason given (logged once).
    Plain,
    Failed(PluginError),
}

/// Everything a plugin needs to snapshot itself: its bytes, its linker and cache, and the
/// snapshots made so far.
pub(crate) struct Snapshots {
    bytes: Arc<[u8]>,
    digest: String,
    interface: String,
    call: &'static str,
    engine: Engine,
    linker: Linker<StoreState>,
    cache: ComponentCache,
    instrumented: OnceCell<Result<Component, String>>,
    memo: Mutex<Memo>,
}

#[derive(Default)]
struct Memo {
    cells: HashMap<[u8; 32], Arc<OnceCell<Outcome>>>,
    order: VecDeque<[u8; 32]>,
}

impl Snapshots {
    /// The snapshot maker of a component with `digest` that exports `interface`.
    pub(crate) fn new(
        bytes: &[u8],
        digest: &str,
        kind: PluginKind,
        interface: String,
        engine: Engine,
        linker: Linker<StoreState>,
        cache: ComponentCache,
    ) -> Option<Self> {
        Some(Self {
            bytes: Arc::from(bytes),
            digest: digest.to_string(),
            interface,
            call: names(kind)?.call,
            engine,
            linker,
            cache,
            instrumented: OnceCell::new(),
            memo: Mutex::new(Memo::default()),
        })
    }

    /// The snapshot for `args`, made on first use; `None` when this plugin runs without one
    /// (wizer cannot rewrite it, or `prepare` kept a host resource).
    pub(crate) async fn get(
        &self,
        sandbox: &Arc<Sandbox>,
        args: PrepareArgs<'_>,
    ) -> Result<Option<Arc<Snapshot>>, PluginError> {
        let key = args.digest();
        let cell = {
            let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
            match memo.cells.get(&key) {
                Some(cell) => cell.clone(),
                None => {
                    if memo.order.len() >= KEPT
                        && let Some(old) = memo.order.pop_front()
                    {
                        memo.cells.remove(&old);
                    }
                    let cell = Arc::new(OnceCell::new());
                    memo.cells.insert(key, cell.clone());
                    memo.order.push_back(key);
                    cell
                }
            }
        };
        let outcome = cell
            .get_or_init(|| async {
                match self.make(sandbox, args, &key).await {
                    Ok(Some(s)) => Outcome::Ready(Arc::new(s)),
                    Ok(None) => Outcome::Plain,
                    Err(e) => Outcome::Failed(e),
                }
            })
            .await;
        match outcome {
            Outcome::Ready(s) => Ok(Some(s.clone())),
            Outcome::Plain => Ok(None),
            Outcome::Failed(e) => Err(e.clone()),
        }
    }

    /// Where the snapshot for `key` is kept on disk, if there is a cache.
    fn paths(&self, key: &[u8; 32]) -> Option<(PathBuf, PathBuf)> {
        let dir = self.cache.dir()?.join("snapshots");
        let mut engine = DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine);
        let mut h = Sha256::new();
        h.update(FORMAT.to_le_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(engine.finish().to_le_bytes());
        h.update(self.digest.as_bytes());
        h.update(key);
        let name = hex::encode(h.finalize());
        Some((
            dir.join(format!("{name}.wasm")),
            dir.join(format!("{name}.sha256")),
        ))
    }

    /// A snapshot file whose bytes match the digest recorded beside it, with that digest.
    fn read_kept(&self, key: &[u8; 32]) -> Option<(Vec<u8>, String)> {
        let (wasm, recorded) = self.paths(key)?;
        let bytes = fs::read(&wasm).ok()?;
        let expected = fs::read_to_string(&recorded).unwrap_or_default();
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest == expected.trim() {
            return Some((bytes, digest));
        }
        tracing::warn!(path = %wasm.display(), "a kept snapshot does not match its recorded digest; making it again");
        let _ = fs::remove_file(&wasm);
        let _ = fs::remove_file(&recorded);
        None
    }

    /// Writes a snapshot and its digest (`digest`, hex) where [`Self::read_kept`] finds them.
    fn keep(&self, key: &[u8; 32], bytes: &[u8], digest: &str) {
        let Some((wasm, recorded)) = self.paths(key) else {
            return;
        };
        let written = crate::cache::write_atomically(&wasm, bytes)
            .and_then(|()| crate::cache::write_atomically(&recorded, digest.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(path = %wasm.display(), error = %e, "could not keep a snapshot");
        }
    }

    async fn make(
        &self,
        sandbox: &Arc<Sandbox>,
        args: PrepareArgs<'_>,
        key: &[u8; 32],
    ) -> Result<Option<Snapshot>, PluginError> {
        let host =
            |what: &str, e: String| sandbox.error("prepare", Failure::Host(format!("{what}: {e}")));
        let (bytes, digest) = match self.read_kept(key) {
            Some(kept) => kept,
            None => match self.snapshot(sandbox, args).await? {
                Some(bytes) => {
                    let digest = hex::encode(Sha256::digest(&bytes));
                    self.keep(key, &bytes, &digest);
                    (bytes, digest)
                }
                None => return Ok(None),
            },
        };
        let component = self
            .compile(bytes, digest)
            .await
            .map_err(|e| host("compiling the snapshot", e))?;
        let call = export_func(&component, &self.interface, self.call)
            .ok_or_else(|| host("the snapshot", format!("exports no `{}`", self.call)))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| host("linking the snapshot", format!("{e:#}")))?;
        Ok(Some(Snapshot { pre, call }))
    }

    /// Compiles `bytes` (whose sha256 is `digest`, hex) through the component cache, off the
    /// async threads.
    async fn compile(&self, bytes: Vec<u8>, digest: String) -> Result<Component, String> {
        let engine = self.engine.clone();
        let cache = self.cache.clone();
        tokio::task::spawn_blocking(move || cache.load(&engine, &bytes, &digest).map(|(c, _)| c))
            .await
            .map_err(|e| format!("the compiler task failed: {e}"))?
            .map_err(|e| format!("{e:#}"))
    }

    /// Instantiates the instrumented component, calls `prepare` and takes the snapshot.
    /// `None` when the plugin cannot be snapshotted and runs as before.
    async fn snapshot(
        &self,
        sandbox: &Arc<Sandbox>,
        args: PrepareArgs<'_>,
    ) -> Result<Option<Vec<u8>>, PluginError> {
        let plain = |why: String| {
            tracing::warn!(plugin = %sandbox.label, "runs without a snapshot: {why}");
            Ok(None)
        };
        let wizer = Wizer::new();
        let (cx, instrumented) = match wizer.instrument_component(&self.bytes) {
            Ok(done) => done,
            Err(e) => return plain(format!("wasmtime-wizer cannot instrument it: {e:#}")),
        };
        let component = match self
            .instrumented
            .get_or_init(|| {
                let digest = hex::encode(Sha256::digest(&instrumented));
                self.compile(instrumented, digest)
            })
            .await
        {
            Ok(c) => c.clone(),
            Err(e) => return plain(format!("its instrumented form does not compile: {e}")),
        };
        let pre = match self.linker.instantiate_pre(&component) {
            Ok(pre) => pre,
            Err(e) => return plain(format!("its instrumented form does not link: {e:#}")),
        };
        let Some(prepare) = export_func(&component, &self.interface, "prepare") else {
            return plain(format!("`{}` has no `prepare`", self.interface));
        };

        let mut session = Session::new(sandbox)?;
        let limit = session.arm("instantiate")?;
        let out = timed(limit, pre.instantiate_async(&mut session.store)).await;
        let instance = session.settle_plain("instantiate", out)?;
        call_prepare(&mut session, instance, prepare, args).await?;
        if session.store.data().holds_resources() {
            return plain(
                "`prepare` kept a resource from the host (a stream it wrote to?), which a snapshot cannot carry".into(),
            );
        }

        let limit = session.arm("snapshot")?;
        let mut reader = Reader {
            store: &mut session.store,
            instance,
            failed: None,
        };
        let taken = timed(limit, wizer.snapshot_component(&cx, &mut reader)).await;
        let failed = reader.failed.take();
        let bytes = session.settle_plain("snapshot", taken)?;
        if let Some(e) = failed {
            return Err(sandbox.error(
                "snapshot",
                Failure::Host(format!("reading the prepared instance: {e}")),
            ));
        }
        sandbox.metrics.snapshots_taken.inc();
        Ok(Some(bytes))
    }
}

/// Calls `prepare` with the arguments of its kind, under the plugin's deadline.
async fn call_prepare(
    session: &mut Session,
    instance: Instance,
    prepare: ComponentExportIndex,
    args: PrepareArgs<'_>,
) -> Result<(), PluginError> {
    const OP: &str = "prepare";
    type Ret = (Result<(), wit::PluginError>,);
    macro_rules! go {
        ($params:ty, $values:expr) => {{
            let func = instance
                .get_typed_func::<$params, Ret>(&mut session.store, prepare)
                .map_err(|e| {
                    session.plugin.error(
                        OP,
                        Failure::Host(format!("`prepare` has the wrong type: {e:#}")),
                    )
                })?;
            let limit = session.arm(OP)?;
            let out = timed(limit, async {
                Ok(func.call_async(&mut session.store, $values).await?.0)
            })
            .await;
            session.settle(OP, out)
        }};
    }
    match args {
        PrepareArgs::Validator { config } => go!((&str,), (config,)),
        PrepareArgs::Transform { config, state } => go!((&str, &[u8]), (config, &state[..])),
        PrepareArgs::Model { artifact, config } => go!((&[u8], &str), (&artifact[..], config)),
    }
}

/// The index of function `func` in the exported instance `interface`.
fn export_func(component: &Component, interface: &str, func: &str) -> Option<ComponentExportIndex> {
    let instance = component.get_export_index(None, interface)?;
    component.get_export_index(Some(&instance), func)
}

/// Reads a prepared instance's globals and memories for wizer through the accessors its
/// instrumentation exported. The trait gives no way to fail, so the first failure is kept and
/// reported after the snapshot.
struct Reader<'a> {
    store: &'a mut Store<StoreState>,
    instance: Instance,
    failed: Option<String>,
}

impl Reader<'_> {
    async fn call<R>(&mut self, interface: &str, func: &str) -> Option<R>
    where
        R: Lift + Send + Sync + 'static,
    {
        if self.failed.is_some() {
            return None;
        }
        let found = self
            .instance
            .get_export(&mut *self.store, None, interface)
            .and_then(|(_, i)| self.instance.get_export(&mut *self.store, Some(&i), func));
        let result = match found {
            None => Err(format!("no accessor `{interface}#{func}`")),
            Some((_, index)) => {
                match self
                    .instance
                    .get_typed_func::<(), (R,)>(&mut *self.store, index)
                {
                    Ok(f) => f
                        .call_async(&mut *self.store, ())
                        .await
                        .map(|r| r.0)
                        .map_err(|e| format!("{e:#}")),
                    Err(e) => Err(format!("{e:#}")),
                }
            }
        };
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.failed = Some(e);
                None
            }
        }
    }
}

impl ComponentInstanceState for Reader<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        match self.call::<WasmList<u8>>(instance, func).await {
            Some(list) => contents(list.as_le_slice(&*self.store)),
            None => contents(&[]),
        }
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func).await.unwrap_or_default()
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func).await.unwrap_or_default()
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call::<f32>(instance, func)
            .await
            .map(f32::to_bits)
            .unwrap_or_default()
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call::<f64>(instance, func)
            .await
            .map(f64::to_bits)
            .unwrap_or_default()
    }
}
