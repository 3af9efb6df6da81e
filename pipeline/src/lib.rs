//! Pipelines on a store: a file describing data, validators, transforms and a model
//! ([`spec::PipelineSpec`]); training it into a run and a model version with lineage
//! ([`train()`]); the model card; models trained elsewhere; loading a stored version to serve
//! with exactly the plugins and states it was trained with ([`Served`]); and a version's drift
//! reference ([`drift`]). The store is the local registry or a remote Ferry over HTTP
//! ([`store::Store`], [`client`]).
//!
//! It depends on `ferry-core` (the step engine, lineage and serving, which it drives),
//! `ferry-runtime` and `ferry-registry`. It must not depend on axum or on anything above it
//! (deployments, monitoring, the server). Its failures are [`PipelineError`]s, never HTTP
//! answers. Start reading from [`train()`].

pub mod card;
pub mod client;
pub mod config;
pub mod drift;
pub mod external;
pub mod pinned;
pub mod record;
pub mod register;
pub mod served;
pub mod spec;
pub mod store;
pub mod train;

pub use ferry_core::lineage::{Lineage, PinnedPlugin};
pub use ferry_core::serving::{DEFAULT_SETS_PER_VERSION, PoolStats, ServingPipeline};
pub use ferry_core::steps::{Prediction, ServeError};
pub use pinned::PluginPolicy;
pub use served::Served;
pub use spec::PipelineSpec;
pub use train::{TrainOptions, TrainOutcome, TrainProgress, train};

use crate::client::ClientError;
use crate::store::StoreError;
use ferry_core::CoreError;
use ferry_core::data::DataError;
use ferry_registry::RegistryError;
use ferry_runtime::{LoadError, PluginError};

/// Why a pipeline could not be trained, registered or served.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline file is wrong.
    #[error("{0}")]
    Spec(String),
    /// The data could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A plugin could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A plugin failed or reported an error.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The registry failed or refused.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The remote Ferry failed or refused.
    #[error(transparent)]
    Remote(#[from] ClientError),
    /// The operation cannot be done against a remote Ferry.
    #[error("{0}")]
    LocalOnly(String),
    /// A plugin is not signed as the trust policy requires.
    #[error("untrusted plugin {0}")]
    Untrusted(String),
    /// A validator found problems in the data; the summary names them.
    #[error("validation failed: {0}")]
    Invalid(String),
    /// What a lineage pins does not match what is stored: serving or registering it would
    /// pair the model with other features than it was trained on.
    #[error("lineage mismatch: {0}")]
    Skew(String),
    /// A model version has no Ferry lineage to serve from.
    #[error("{0}")]
    NoLineage(String),
    /// Anything else about the data or the plugins' outputs.
    #[error("{0}")]
    Other(String),
}

impl From<CoreError> for PipelineError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Spec(m) => PipelineError::Spec(m),
            CoreError::Data(d) => PipelineError::Data(d),
            CoreError::Load(l) => PipelineError::Load(l),
            CoreError::Plugin(p) => PipelineError::Plugin(p),
            CoreError::Invalid(m) => PipelineError::Invalid(m),
            CoreError::Skew(m) => PipelineError::Skew(m),
            CoreError::Other(m) => PipelineError::Other(m),
        }
    }
}

impl From<ServeError> for PipelineError {
    fn from(e: ServeError) -> Self {
        CoreError::from(e).into()
    }
}

impl From<StoreError> for PipelineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Registry(r) => PipelineError::Registry(r),
            StoreError::Remote(c) => PipelineError::Remote(c),
            StoreError::LocalOnly(m) => PipelineError::LocalOnly(m),
            StoreError::Unreadable(m) => PipelineError::Other(m),
        }
    }
}
