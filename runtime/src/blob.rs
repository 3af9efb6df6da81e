//! Bytes a plugin is prepared with: a learned state, a model artifact.

use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

/// Immutable bytes a plugin is prepared with (a transform's learned state, a model's
/// artifact), shared by every clone, with their sha256 computed at most once. Finding the
/// snapshot made for them therefore costs no hashing per request, and since the bytes cannot
/// change, a snapshot found for them is always the one made from them.
#[derive(Clone, Default)]
pub struct Blob {
    bytes: Arc<[u8]>,
    digest: Arc<OnceLock<[u8; 32]>>,
}

impl Blob {
    /// The bytes.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        Self {
            bytes: bytes.into(),
            digest: Arc::default(),
        }
    }

    /// The sha256 of the bytes.
    pub fn sha256(&self) -> &[u8; 32] {
        self.digest
            .get_or_init(|| Sha256::digest(&self.bytes).into())
    }
}

impl std::ops::Deref for Blob {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl From<&[u8]> for Blob {
    fn from(bytes: &[u8]) -> Self {
        Self::new(bytes)
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Blob {}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.bytes.len())
    }
}
