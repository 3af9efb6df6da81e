//! Pipelines: a file describing data, validators, transforms and a model; training it into a
//! run and a model version with lineage; and serving that version with exactly the plugins and
//! states it was trained with.

#[cfg(feature = "registry")]
pub mod card;
#[cfg(feature = "registry")]
pub mod external;
pub mod lineage;
pub mod metrics;
pub mod pinned;
#[cfg(feature = "registry")]
pub mod record;
#[cfg(feature = "registry")]
pub mod register;
#[cfg(feature = "registry")]
pub mod served;
pub mod serving;
#[cfg(feature = "registry")]
pub mod spec;
pub mod split;
pub mod steps;
#[cfg(feature = "registry")]
pub mod train;

pub use lineage::{Lineage, PinnedPlugin};
pub use pinned::PluginPolicy;
#[cfg(feature = "registry")]
pub use served::Served;
pub use serving::{DEFAULT_SETS_PER_VERSION, PoolStats, ServingPipeline};
#[cfg(feature = "registry")]
pub use spec::PipelineSpec;
pub use steps::{Prediction, ServeError};
#[cfg(feature = "registry")]
pub use train::{TrainOptions, TrainOutcome, TrainProgress, train};

#[cfg(feature = "registry")]
use crate::client::ClientError;
use crate::data::DataError;
#[cfg(feature = "registry")]
use crate::store::StoreError;
#[cfg(feature = "registry")]
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
    #[cfg(feature = "registry")]
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The remote Ferry failed or refused.
    #[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
impl From<StoreError> for PipelineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Registry(r) => PipelineError::Registry(r),
            StoreError::Remote(c) => PipelineError::Remote(c),
            StoreError::LocalOnly(m) => PipelineError::LocalOnly(m),
        }
    }
}
