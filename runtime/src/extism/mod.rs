//! Extism plugins: core modules built with an Extism PDK, run on Ferry's engine with Ferry's
//! sandbox. Each operation of a kind is one export taking JSON and answering JSON
//! (`ferry_extism_pdk::wire`); the module imports Extism's host ABI (`extism:host/env`),
//! which the host implements in [`kernel`] against the same store a component gets: the
//! same deadlines, the same memory cap, the same grants and the same typed errors. A module
//! built for WASI preview 1 (as Extism's `wasi: true` plugins are) may import
//! `wasi_snapshot_preview1` too, served from the WASI context a component would get: the
//! operator's directory grants are its allowed paths, its granted variables its environment,
//! and a plugin that computes reads the same fixed clocks and seeded random source.
//!
//! The `extism` crate is not used to run them: it builds a wasmtime `Engine` of its own for
//! every plugin, with its own timeouts and memory accounting, which would give Extism plugins
//! a second sandbox beside Ferry's. Implementing the ABI on the shared engine keeps one engine,
//! one compilation cache and one set of limits for every plugin.

mod access;
mod call;
pub(crate) mod convert;
mod http;
pub(crate) mod kernel;
pub(crate) mod link;
pub(crate) mod memory;
pub(crate) mod pre;

use std::sync::Arc;

use ferry_extism_pdk::wire::{self, Payload};
use wasmtime::InstancePre;

pub(crate) use call::ExtismInstance;

use super::bindings::types as wit;
use super::error::{Failure, LoadError};
use super::grants::Grants;
use super::limits::Limits;
use super::linked::Linked;
use super::prepared::{KindPre, Prepared, check_contract};
use super::sandbox::Sandbox;
use super::session::Session;
use super::state::StoreState;
use crate::manifest::PluginKind;
use convert::FromWire;
use link::WASI_MODULE;
use pre::ExtismPre;

/// The export that answers the plugin's manifest.
pub const MANIFEST_EXPORT: &str = "ferry_manifest";

/// The encoding to call a plugin in: the runtime's preference (MessagePack unless set) when the
/// plugin reads it, else JSON when it reads that, else the first it names.
fn payload_for(preferred: Option<Payload>, offered: &[Payload]) -> Payload {
    let preferred = preferred.unwrap_or(Payload::MessagePack);
    if offered.contains(&preferred) {
        preferred
    } else if offered.contains(&Payload::Json) {
        Payload::Json
    } else {
        offered.first().copied().unwrap_or(Payload::Json)
    }
}

fn refused(source_name: &str, message: impl Into<String>) -> LoadError {
    LoadError::Extism {
        source_name: source_name.to_string(),
        message: message.into(),
    }
}

/// Compiles (or takes from the cache) an Extism module, checks its imports and exports, and
/// asks it for its manifest in a sandbox with nothing granted.
pub(crate) async fn prepare(
    runtime: &Linked,
    source_name: &str,
    bytes: &[u8],
    digest_hex: &str,
) -> Result<Prepared, LoadError> {
    let (module, cache) = {
        let engine = runtime.engine().clone();
        let cache = runtime.cache().clone();
        let owned = bytes.to_vec();
        let digest = digest_hex.to_string();
        tokio::task::spawn_blocking(move || cache.load_module(&engine, &owned, &digest))
            .await
            .map_err(|e| refused(source_name, format!("the compiler task failed: {e}")))?
            .map_err(|e| LoadError::Invalid {
                source_name: source_name.to_string(),
                message: format!("{e:#}"),
            })?
    };
    let imports: Vec<String> = module
        .imports()
        .map(|i| format!("{}::{}", i.module(), i.name()))
        .collect();
    let exports: Vec<String> = module.exports().map(|e| e.name().to_string()).collect();
    if !exports.iter().any(|e| e == MANIFEST_EXPORT) {
        return Err(LoadError::CoreModule {
            source_name: source_name.to_string(),
            exports: exports.join(", "),
        });
    }
    let from = |module: &str, import: &str| {
        import
            .strip_prefix(module)
            .is_some_and(|rest| rest.starts_with("::"))
    };
    let foreign: Vec<&String> = imports
        .iter()
        .filter(|i| !from(kernel::MODULE, i) && !from(WASI_MODULE, i))
        .collect();
    if !foreign.is_empty() {
        return Err(refused(
            source_name,
            format!(
                "it imports {}; an Extism plugin is given Extism's host functions (`{}`) and \
                 WASI preview 1 (`{WASI_MODULE}`), nothing else",
                foreign
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                kernel::MODULE
            ),
        ));
    }
    let uses_wasi = imports.iter().any(|i| from(WASI_MODULE, i));
    let pre = runtime
        .extism_linker()
        .instantiate_pre(&module)
        .map_err(|e| refused(source_name, format!("{e:#}")))?;
    let wire::Described {
        contract,
        payloads,
        manifest,
    } = describe(runtime, source_name, &pre, digest_hex).await?;
    let contract = semver::Version::parse(&contract).map_err(|e| {
        refused(
            source_name,
            format!("its manifest's `contract` `{contract}` is not a version: {e}"),
        )
    })?;
    check_contract(source_name, &contract)?;
    let kind = PluginKind::from(wit::PluginKind::from_wire(manifest.kind));
    let missing: Vec<&str> = wire::exports_of(manifest.kind)
        .iter()
        .copied()
        .filter(|name| !exports.iter().any(|e| e == name))
        .collect();
    if !missing.is_empty() {
        return Err(LoadError::WrongWorld {
            source_name: source_name.to_string(),
            world: format!("Extism {kind}"),
            message: format!(
                "it lacks the export{} {} (a {kind} exports {})",
                if missing.len() == 1 { "" } else { "s" },
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                wire::exports_of(manifest.kind).join(", ")
            ),
        });
    }
    if let Some(d) = manifest.capabilities.directories.first()
        && !uses_wasi
    {
        return Err(refused(
            source_name,
            format!(
                "it asks for the directory {}, but it does not import WASI, so it could never \
                 open a file there; build it for WASI preview 1 (Rust: `--target wasm32-wasip1`)",
                d.guest_path
            ),
        ));
    }
    Ok(Prepared {
        pre: KindPre::Extism(ExtismPre {
            pre,
            payload: payload_for(runtime.extism_payload(), &payloads),
        }),
        kind,
        contract,
        manifest: wit::Manifest::from_wire(manifest),
        imports,
        exports,
        cache,
    })
}

async fn describe(
    runtime: &Linked,
    source_name: &str,
    pre: &InstancePre<StoreState>,
    digest_hex: &str,
) -> Result<wire::Described, LoadError> {
    let probe = Arc::new(Sandbox::new(
        runtime.engine().clone(),
        runtime.metrics().clone(),
        source_name.to_string(),
        "0.0.0".to_string(),
        PluginKind::Validator,
        Arc::from(source_name),
        &format!("sha256:{digest_hex}"),
        Grants::default(),
        Limits::DEFAULT,
    ));
    let describe_error = |error| LoadError::Describe {
        source_name: source_name.to_string(),
        error,
    };
    let mut session = Session::new(&probe).map_err(describe_error)?;
    let instance = ExtismInstance::with_payload(&mut session, pre, Payload::Json)
        .await
        .map_err(describe_error)?;
    let raw = instance
        .call_raw(&mut session, "get-manifest", MANIFEST_EXPORT)
        .await
        .map_err(describe_error)?;
    wire::decode_manifest(&raw).map_err(|why| {
        describe_error(probe.error(
            "get-manifest",
            Failure::InvalidOutput(format!(
                "`{MANIFEST_EXPORT}` did not answer a manifest: {why}; its {} bytes began: {:?}",
                raw.len(),
                call::quote(&raw)
            )),
        ))
    })
}
