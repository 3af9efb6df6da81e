//! Content-addressed blobs: bytes stored under their sha256.

use std::{
    future::Future,
    io::Write,
    path::{Path, PathBuf},
    pin::Pin,
};

use sha2::{Digest, Sha256};

use crate::RegistryError;

/// A boxed future, so blob stores can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// `sha256:` and the hex digest of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Checks that `digest` is a well-formed `sha256:` digest.
pub fn check_digest(digest: &str) -> Result<(), RegistryError> {
    hex_part(digest).map(|_| ())
}

fn hex_part(digest: &str) -> Result<&str, RegistryError> {
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| {
        RegistryError::Invalid(format!("digest {digest:?} must start with sha256:"))
    })?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(RegistryError::Invalid(format!(
            "digest {digest:?} must be 64 lowercase hex digits after sha256:"
        )));
    }
    Ok(hex)
}

/// Where blobs are kept. Identical bytes are stored once; a blob is never visible under its
/// digest until all of it is durably written.
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` and returns their digest.
    fn put<'a>(&'a self, bytes: &'a [u8]) -> BoxFuture<'a, Result<String, RegistryError>>;
    /// The bytes stored under `digest`, checked against it.
    fn get<'a>(&'a self, digest: &'a str) -> BoxFuture<'a, Result<Vec<u8>, RegistryError>>;
    /// Whether a blob is stored under `digest`.
    fn contains<'a>(&'a self, digest: &'a str) -> BoxFuture<'a, Result<bool, RegistryError>>;
    /// A folder for writing large uploads to disk before [`BlobStore::adopt`] takes them, if
    /// the store has one (on the same file system, so adopting is a rename).
    fn staging_dir(&self) -> Option<PathBuf> {
        None
    }
    /// Takes a complete, synced file whose bytes hash to `digest` and stores it under that
    /// digest (the file is moved, or removed when the blob is already there).
    fn adopt<'a>(
        &'a self,
        file: PathBuf,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async move {
            let bytes = tokio::fs::read(&file)
                .await
                .map_err(|e| RegistryError::io(&file, e))?;
            let _ = tokio::fs::remove_file(&file).await;
            let actual = self.put(&bytes).await?;
            if actual != digest {
                return Err(RegistryError::Corrupt {
                    digest: digest.to_string(),
                    actual,
                });
            }
            Ok(())
        })
    }
    /// The file holding a blob, for streaming it out, if the store keeps blobs in files.
    fn file_of(&self, digest: &str) -> Option<PathBuf> {
        let _ = digest;
        None
    }
}

/// Blobs in a folder: `sha256/ab/abcdef…`, written to a temporary file in the same folder
/// tree, synced, then renamed into place.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// A blob store in `root` (created if needed).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, RegistryError> {
        let root = root.into();
        for dir in [root.join("sha256"), root.join("tmp")] {
            std::fs::create_dir_all(&dir).map_err(|e| RegistryError::io(&dir, e))?;
        }
        Ok(Self { root })
    }

    /// The file a digest is stored in.
    pub fn path_of(&self, digest: &str) -> Result<PathBuf, RegistryError> {
        let hex = hex_part(digest)?;
        Ok(self.root.join("sha256").join(&hex[..2]).join(hex))
    }

    fn put_blocking(&self, bytes: &[u8]) -> Result<String, RegistryError> {
        let digest = digest_of(bytes);
        let path = self.path_of(&digest)?;
        if path.exists() {
            return Ok(digest);
        }
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| RegistryError::io(&dir, e))?;
        let tmp_dir = self.root.join("tmp");
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir)
            .map_err(|e| RegistryError::io(&tmp_dir, e))?;
        tmp.write_all(bytes)
            .map_err(|e| RegistryError::io(tmp.path(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| RegistryError::io(tmp.path(), e))?;
        tmp.persist(&path)
            .map_err(|e| RegistryError::io(&path, e.error))?;
        sync_dir(&dir);
        Ok(digest)
    }

    fn get_blocking(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let path = self.path_of(digest)?;
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RegistryError::NotFound(format!("blob {digest}")),
            _ => RegistryError::io(&path, e),
        })?;
        let actual = digest_of(&bytes);
        if actual != digest {
            return Err(RegistryError::Corrupt {
                digest: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

impl BlobStore for FsBlobStore {
    fn put<'a>(&'a self, bytes: &'a [u8]) -> BoxFuture<'a, Result<String, RegistryError>> {
        Box::pin(async move {
            let this = self.clone();
            let owned = bytes.to_vec();
            tokio::task::spawn_blocking(move || this.put_blocking(&owned))
                .await
                .map_err(|e| RegistryError::Database(format!("blob writer task failed: {e}")))?
        })
    }

    fn get<'a>(&'a self, digest: &'a str) -> BoxFuture<'a, Result<Vec<u8>, RegistryError>> {
        Box::pin(async move {
            let this = self.clone();
            let digest = digest.to_string();
            tokio::task::spawn_blocking(move || this.get_blocking(&digest))
                .await
                .map_err(|e| RegistryError::Database(format!("blob reader task failed: {e}")))?
        })
    }

    fn contains<'a>(&'a self, digest: &'a str) -> BoxFuture<'a, Result<bool, RegistryError>> {
        Box::pin(async move { Ok(self.path_of(digest)?.exists()) })
    }

    fn staging_dir(&self) -> Option<PathBuf> {
        Some(self.root.join("tmp"))
    }

    fn adopt<'a>(
        &'a self,
        file: PathBuf,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async move {
            let path = self.path_of(digest)?;
            let this = self.clone();
            tokio::task::spawn_blocking(move || {
                if path.exists() {
                    let _ = std::fs::remove_file(&file);
                    return Ok(());
                }
                let dir = path.parent().unwrap_or(&this.root).to_path_buf();
                std::fs::create_dir_all(&dir).map_err(|e| RegistryError::io(&dir, e))?;
                std::fs::rename(&file, &path).map_err(|e| RegistryError::io(&path, e))?;
                sync_dir(&dir);
                Ok(())
            })
            .await
            .map_err(|e| RegistryError::Database(format!("blob task failed: {e}")))?
        })
    }

    fn file_of(&self, digest: &str) -> Option<PathBuf> {
        self.path_of(digest).ok().filter(|p| p.exists())
    }
}
