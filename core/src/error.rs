//! Why a pipeline's steps could not be built or run.

use ferry_runtime::{LoadError, PluginError};

use crate::data::DataError;
use crate::steps::ServeError;

/// Why a pipeline's steps could not be loaded, built or run. Every variant is a domain
/// failure; what status or exit code it becomes is decided by the layer that answers.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The pipeline's description is wrong (a column that is not there, a bad reference).
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
    /// A validator found problems in the data, or a limit was reached.
    #[error("validation failed: {0}")]
    Invalid(String),
    /// What a lineage pins does not match what its source holds.
    #[error("lineage mismatch: {0}")]
    Skew(String),
    /// Anything else about the data or the plugins' outputs.
    #[error("{0}")]
    Other(String),
}

impl From<ServeError> for CoreError {
    fn from(e: ServeError) -> Self {
        match e {
            ServeError::Plugin(p) => CoreError::Plugin(p),
            ServeError::Columns(m) => CoreError::Spec(m),
            other => CoreError::Other(other.to_string()),
        }
    }
}
