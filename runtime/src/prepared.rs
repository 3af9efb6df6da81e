//! What loading makes of a plugin's bytes before its grants and limits apply: the
//! pre-instantiated component or Extism module, and what it says it is. Both backends
//! (`plugin` for components, `extism` for Extism modules) produce a [`Prepared`].

use wasmtime::component::InstancePre;

use super::bindings::{alert_sink, deployer, model, transform, validator};
use super::cache::CacheOutcome;
use super::error::LoadError;
use super::extism::pre::ExtismPre;
use super::state::StoreState;
use crate::manifest::{CONTRACT_VERSION, PluginKind, contract_compatible};

/// A component pre-instantiated for its kind's world.
#[derive(Clone)]
pub(crate) enum KindPre {
    Validator(validator::ValidatorPluginPre<StoreState>),
    Transform(transform::TransformPluginPre<StoreState>),
    Model(model::ModelPluginPre<StoreState>),
    Deployer(deployer::DeployerPluginPre<StoreState>),
    AlertSink(alert_sink::AlertSinkPluginPre<StoreState>),
    /// An Extism module, of the kind its manifest names.
    Extism(ExtismPre),
}

impl KindPre {
    pub(crate) fn new(kind: PluginKind, pre: InstancePre<StoreState>) -> wasmtime::Result<Self> {
        Ok(match kind {
            PluginKind::Validator => KindPre::Validator(validator::ValidatorPluginPre::new(pre)?),
            PluginKind::Transform => KindPre::Transform(transform::TransformPluginPre::new(pre)?),
            PluginKind::Model => KindPre::Model(model::ModelPluginPre::new(pre)?),
            PluginKind::Deployer => KindPre::Deployer(deployer::DeployerPluginPre::new(pre)?),
            PluginKind::AlertSink => KindPre::AlertSink(alert_sink::AlertSinkPluginPre::new(pre)?),
        })
    }
}

/// What a component or an Extism module says it is, before grants and limits apply.
pub(crate) struct Prepared {
    pub pre: KindPre,
    pub kind: PluginKind,
    pub contract: semver::Version,
    pub manifest: super::bindings::types::Manifest,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub cache: CacheOutcome,
}

/// Refuses a plugin built against a contract this host cannot run. Each preparer calls it as
/// soon as it knows the version, before anything that relies on the contract's shape.
pub(crate) fn check_contract(
    source_name: &str,
    contract: &semver::Version,
) -> Result<(), LoadError> {
    if contract_compatible(contract, &CONTRACT_VERSION) {
        Ok(())
    } else {
        Err(LoadError::IncompatibleContract {
            source_name: source_name.to_string(),
            found: contract.clone(),
            host: CONTRACT_VERSION,
        })
    }
}
