//! Loading a plugin: from bytes to a checked, compiled, pre-instantiated component.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::cache::CacheOutcome;
use super::error::{Failure, LoadError, PluginError};
use super::extism;
use super::grants::Grants;
use super::limits::{LimitOverrides, Limits};
use super::linked::Linked;
use super::prepared::{KindPre, Prepared, check_contract};
use super::sandbox::Sandbox;
use super::session::{Session, timed};
use super::snapshot::{PrepareArgs, Snapshot, Snapshots, exported_interface};
use super::state::StoreState;
use crate::manifest::{Manifest, PluginKind};

/// What an operator decides when loading a plugin.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Capabilities granted (only those the manifest asks for take effect).
    pub grants: Grants,
    /// Limits that override the manifest's defaults.
    pub limits: LimitOverrides,
}

#[derive(Clone)]
struct Inner {
    manifest: Manifest,
    digest: String,
    size: usize,
    source: String,
    sandbox: Arc<Sandbox>,
    pre: KindPre,
    cache: CacheOutcome,
    imports: Vec<String>,
    exports: Vec<String>,
    /// Present when instances start from snapshots made after `prepare` (contract 0.1.1).
    snapshots: Option<Arc<Snapshots>>,
}

/// A loaded plugin: cheap to clone, shared across threads; each call site creates its own
/// instances from it.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.manifest.name)
            .field("version", &self.inner.manifest.version.to_string())
            .field("kind", &self.inner.manifest.kind)
            .field("digest", &self.inner.digest)
            .finish()
    }
}

impl Plugin {
    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.inner.manifest.name
    }

    /// The plugin's kind.
    pub fn kind(&self) -> PluginKind {
        self.inner.manifest.kind
    }

    /// `sha256:` and the hex digest of the component's bytes.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// The component's size in bytes.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// Where the bytes came from (a path, or `builtin:NAME`).
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The limits instances run under.
    pub fn limits(&self) -> Limits {
        self.inner.sandbox.limits
    }

    /// The capabilities instances get.
    pub fn grants(&self) -> Arc<Grants> {
        self.inner.sandbox.grants.clone()
    }

    /// Whether this is an Extism module rather than a component.
    pub fn is_extism(&self) -> bool {
        matches!(self.inner.pre, KindPre::Extism(_))
    }

    /// The encoding an Extism module is called in; `None` for a component.
    pub fn extism_payload(&self) -> Option<ferry_extism_pdk::wire::Payload> {
        match &self.inner.pre {
            KindPre::Extism(x) => Some(x.payload),
            _ => None,
        }
    }

    /// The names of the component's imports.
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// The names of the component's exports.
    pub fn exports(&self) -> &[String] {
        &self.inner.exports
    }

    /// Whether the compiled code came from the on-disk cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.inner.cache
    }

    /// The same compiled plugin under other grants, with the same limits. As at load, only
    /// what the manifest asks for takes effect; a granted directory that cannot be opened is
    /// reported now.
    pub fn with_grants(&self, grants: &Grants) -> Result<Plugin, LoadError> {
        let inner = &self.inner;
        let sandbox = granted_sandbox(
            inner.sandbox.engine.clone(),
            inner.sandbox.metrics.clone(),
            &inner.manifest,
            &inner.digest,
            &inner.imports,
            grants,
            inner.sandbox.limits,
        )?;
        Ok(Plugin {
            inner: Arc::new(Inner {
                sandbox,
                ..(**inner).clone()
            }),
        })
    }

    /// Whether this plugin's instances start from snapshots taken after `prepare` (it exports
    /// its kind's `prepared-*` interface and the runtime has snapshots on).
    pub fn uses_snapshots(&self) -> bool {
        self.inner.snapshots.is_some()
    }

    /// The snapshot for `args`, made on first use; `None` when instances are built as before.
    pub(crate) async fn snapshot(
        &self,
        args: PrepareArgs<'_>,
    ) -> Result<Option<Arc<Snapshot>>, PluginError> {
        match &self.inner.snapshots {
            Some(s) => s.get(&self.inner.sandbox, args).await,
            None => Ok(None),
        }
    }

    pub(crate) fn pre(&self) -> &KindPre {
        &self.inner.pre
    }

    pub(crate) fn sandbox(&self) -> &Arc<Sandbox> {
        &self.inner.sandbox
    }

    /// A typed error naming this plugin and `operation`, counted in the runtime's metrics as
    /// the runtime counts its own (for a failure found outside a call, such as an impure
    /// output).
    pub fn error(&self, operation: &'static str, failure: Failure) -> PluginError {
        self.inner.sandbox.error(operation, failure)
    }

    pub(crate) fn expect_kind(&self, kind: PluginKind) -> Result<(), PluginError> {
        if self.kind() == kind {
            Ok(())
        } else {
            Err(self.error(
                "instantiate",
                Failure::NotKind {
                    expected: kind,
                    found: self.kind(),
                },
            ))
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The kind and contract version read off a component's exports.
fn exported_kind(
    runtime: &Linked,
    component: &Component,
    source_name: &str,
) -> Result<(PluginKind, semver::Version), LoadError> {
    let ty = component.component_type();
    let mut names = Vec::new();
    let mut found: Vec<(PluginKind, semver::Version)> = Vec::new();
    for (name, _) in ty.exports(runtime.engine()) {
        names.push(name.to_string());
        let Some(rest) = name.strip_prefix("ferry:plugin/") else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if let Some(kind) = PluginKind::ALL.into_iter().find(|k| k.interface() == iface) {
            let version = semver::Version::parse(version).map_err(|_| LoadError::WrongWorld {
                source_name: source_name.to_string(),
                world: kind.world(),
                message: format!("export `{name}` carries no valid contract version"),
            })?;
            found.push((kind, version));
        }
    }
    match found.len() {
        0 => Err(LoadError::NotAPlugin {
            source_name: source_name.to_string(),
            exports: names.join(", "),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(LoadError::WrongWorld {
            source_name: source_name.to_string(),
            world: found[0].0.world(),
            message: format!(
                "it exports the interfaces of several kinds ({}); a plugin is of one kind",
                found
                    .iter()
                    .map(|(k, _)| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

pub(crate) async fn load(
    runtime: &Linked,
    source_name: &str,
    bytes: &[u8],
    options: &LoadOptions,
) -> Result<Plugin, LoadError> {
    let source = || source_name.to_string();
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm {
            source_name: source(),
        });
    }
    let digest_hex = sha256_hex(bytes);
    let prepared = if wasmparser::Parser::is_core_wasm(bytes) {
        extism::prepare(runtime, source_name, bytes, &digest_hex).await?
    } else if wasmparser::Parser::is_component(bytes) {
        prepare_component(runtime, source_name, bytes, &digest_hex).await?
    } else {
        return Err(LoadError::Invalid {
            source_name: source(),
            message: "unknown WebAssembly encoding version".into(),
        });
    };
    let Prepared {
        pre,
        kind,
        contract,
        manifest,
        imports,
        exports,
        cache,
    } = prepared;
    let manifest = Manifest::from_wit(manifest, contract).map_err(|error| LoadError::Manifest {
        source_name: source(),
        error,
    })?;
    if manifest.kind != kind {
        return Err(LoadError::KindMismatch {
            source_name: source(),
            declared: manifest.kind,
            exported: kind,
        });
    }
    let digest = format!("sha256:{digest_hex}");
    let snapshots = match (&pre, runtime.snapshots()) {
        (KindPre::Extism(_), _) | (_, false) => None,
        _ => exported_interface(kind, &exports).and_then(|interface| {
            Snapshots::new(
                bytes,
                &digest,
                kind,
                interface,
                runtime.engine().clone(),
                runtime.linker_for(kind).clone(),
                runtime.cache().clone(),
            )
        }),
    };
    let sandbox = granted_sandbox(
        runtime.engine().clone(),
        runtime.metrics().clone(),
        &manifest,
        &digest,
        &imports,
        &options.grants,
        options.limits.resolve(&manifest.limits),
    )?;
    Ok(Plugin {
        inner: Arc::new(Inner {
            manifest,
            digest,
            size: bytes.len(),
            source: source(),
            sandbox,
            pre,
            cache,
            imports,
            exports,
            snapshots: snapshots.map(Arc::new),
        }),
    })
}

/// Compiles (or takes from the cache) a component, checks its world and contract, and asks it
/// for its manifest in a sandbox with nothing granted and default limits.
async fn prepare_component(
    runtime: &Linked,
    source_name: &str,
    bytes: &[u8],
    digest_hex: &str,
) -> Result<Prepared, LoadError> {
    let source = || source_name.to_string();
    let (component, cache) = {
        let engine = runtime.engine().clone();
        let cache = runtime.cache().clone();
        let owned = bytes.to_vec();
        let digest = digest_hex.to_string();
        tokio::task::spawn_blocking(move || cache.load(&engine, &owned, &digest))
            .await
            .map_err(|e| LoadError::Invalid {
                source_name: source(),
                message: format!("the compiler task failed: {e}"),
            })?
            .map_err(|e| LoadError::Invalid {
                source_name: source(),
                message: format!("{e:#}"),
            })?
    };

    let (kind, contract) = exported_kind(runtime, &component, source_name)?;
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(runtime.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(runtime.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    check_contract(source_name, &contract)?;
    let linker = runtime.linker_for(kind);
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::Imports {
            source_name: source(),
            kind,
            message: format!("{e:#}"),
        })?;
    let pre = KindPre::new(kind, pre).map_err(|e| LoadError::WrongWorld {
        source_name: source(),
        world: kind.world(),
        message: format!("{e:#}"),
    })?;

    let placeholder = Manifest::placeholder(source_name, kind, contract.clone());
    let probe = Arc::new(Sandbox::new(
        runtime.engine().clone(),
        runtime.metrics().clone(),
        placeholder.name,
        placeholder.version.to_string(),
        kind,
        Arc::from(source_name),
        &format!("sha256:{digest_hex}"),
        Grants::default(),
        Limits::DEFAULT,
    ));
    let manifest = describe(&probe, &pre)
        .await
        .map_err(|error| LoadError::Describe {
            source_name: source(),
            error,
        })?;
    Ok(Prepared {
        pre,
        kind,
        contract,
        manifest,
        imports,
        exports,
        cache,
    })
}

/// The sandbox of a plugin with `manifest` under the operator's `grants` and `limits`: only
/// what the manifest asks for (and, for SMTP, what the component imports) takes effect, with a
/// warning for each grant dropped. A granted directory that cannot be opened is an operator
/// error, reported now rather than at the first call.
fn granted_sandbox(
    engine: wasmtime::Engine,
    metrics: crate::metrics::RuntimeMetrics,
    manifest: &Manifest,
    digest: &str,
    imports: &[String],
    grants: &Grants,
    limits: Limits,
) -> Result<Arc<Sandbox>, LoadError> {
    let (mut grants, mut dropped) = grants.restrict_to(&manifest.capabilities);
    dropped.extend(grants.restrict_smtp(imports));
    for note in dropped {
        tracing::warn!(plugin = %manifest.name, "{note}");
    }
    let sandbox = Arc::new(Sandbox::new(
        engine,
        metrics,
        manifest.name.clone(),
        manifest.version.to_string(),
        manifest.kind,
        Arc::from(format!("{}@{}", manifest.name, manifest.version)),
        digest,
        grants,
        limits,
    ));
    StoreState::new(&sandbox)?;
    Ok(sandbox)
}

async fn describe(
    sandbox: &Arc<Sandbox>,
    pre: &KindPre,
) -> Result<super::bindings::types::Manifest, PluginError> {
    let mut session = Session::new(sandbox)?;
    let limit = session.arm("get-manifest")?;
    macro_rules! get {
        ($pre:expr) => {{
            let out = timed(limit, async {
                let inst = $pre.instantiate_async(&mut session.store).await?;
                inst.ferry_plugin_plugin()
                    .call_get_manifest(&mut session.store)
                    .await
            })
            .await;
            session.settle_plain("get-manifest", out)
        }};
    }
    match pre {
        KindPre::Validator(p) => get!(p),
        KindPre::Transform(p) => get!(p),
        KindPre::Model(p) => get!(p),
        KindPre::Deployer(p) => get!(p),
        KindPre::AlertSink(p) => get!(p),
        KindPre::Extism(_) => {
            unreachable!("an Extism module describes itself in `extism::prepare`")
        }
    }
}
