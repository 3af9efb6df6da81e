//! Registry errors: each says what was wrong and with which object.

use std::path::Path;

/// What went wrong in the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The write conflicts with what is stored (e.g. a published version with other bytes).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is invalid.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The request is well formed but the stored object's state refuses it (a deleted run, a
    /// parameter logged with another value).
    #[error("{0}")]
    State(String),
    /// Stored bytes no longer match their digest.
    #[error("blob {digest} is corrupt: its bytes hash to {actual}")]
    Corrupt {
        /// The digest it is stored under.
        digest: String,
        /// What its bytes hash to now.
        actual: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A file operation failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: String,
        /// The error.
        message: String,
    },
}

impl RegistryError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> Self {
        RegistryError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        RegistryError::Database(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for RegistryError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => RegistryError::Database(format!(
                "the database has schema version {v}, written by a newer Ferry than this one ({}); upgrade ferry to use it (nothing was changed)",
                env!("CARGO_PKG_VERSION")
            )),
            e => RegistryError::Database(format!("migration failed: {e}")),
        }
    }
}
