//! Content-addressed blobs: bytes stored under their sha256.

use std::{
    future::Future,
    io::Write,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};

use crate::RegistryError;

/// A boxed future, so blob stores can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub use ferry_bundle::digest_of;

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
    /// A new, empty file for writing a large upload to disk before [`BlobStore::adopt`] takes
    /// it, if the store has somewhere to stage it (on the same file system, so adopting is a
    /// rename). Returns the file and the name to hand to `adopt`.
    fn stage(&self) -> Option<Result<(std::fs::File, String), RegistryError>> {
        None
    }
    /// Takes a staged file (by the name [`BlobStore::stage`] gave), complete and synced, whose
    /// bytes hash to `digest`, and stores it under that digest (the file is moved, or removed
    /// when the blob is already there).
    fn adopt<'a>(
        &'a self,
        staged: String,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<(), RegistryError>> {
        let _ = (staged, digest);
        Box::pin(async {
            Err(RegistryError::Invalid(
                "this blob store does not stage uploads".into(),
            ))
        })
    }
    /// Removes a staged file that will not be adopted (an upload cut short).
    fn discard(&self, staged: &str) {
        let _ = staged;
    }
    /// The file holding a blob, opened for reading, for streaming it out, if the store keeps
    /// blobs in files.
    fn open_file(&self, digest: &str) -> Option<std::fs::File> {
        let _ = digest;
        None
    }
}

/// Blobs in a folder: `sha256/ab/abcdef…`, written to a temporary file in `tmp/`, synced, then
/// renamed into place. Every access goes through a [`cap_std::fs::Dir`] opened on the folder,
/// so no name, `..` or symlink planted in the folder can reach a file outside it.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    dir: Arc<Dir>,
}

/// A path of the blob store, for error messages.
fn shown(root: &Path, rel: &Path) -> PathBuf {
    root.join(rel)
}

impl FsBlobStore {
    /// A blob store in `root` (created if needed).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, RegistryError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| RegistryError::io(&root, e))?;
        let dir = Dir::open_ambient_dir(&root, ambient_authority())
            .map_err(|e| RegistryError::io(&root, e))?;
        for sub in ["sha256", "tmp"] {
            dir.create_dir_all(sub)
                .map_err(|e| RegistryError::io(&root.join(sub), e))?;
        }
        Ok(Self {
            root,
            dir: Arc::new(dir),
        })
    }

    /// Where a digest is stored, relative to the store's folder.
    pub fn path_of(&self, digest: &str) -> Result<PathBuf, RegistryError> {
        let hex = hex_part(digest)?;
        Ok(Path::new("sha256").join(&hex[..2]).join(hex))
    }

    fn io(&self, rel: &Path, e: std::io::Error) -> RegistryError {
        RegistryError::io(&shown(&self.root, rel), e)
    }

    fn sync_dir(&self, rel: &Path) {
        if let Ok(d) = self.dir.open_dir(rel) {
            let _ = d.into_std_file().sync_all();
        }
    }

    /// A new file in `tmp/` with a random name.
    fn temp_file(&self) -> Result<(std::fs::File, PathBuf), RegistryError> {
        loop {
            let mut name = [0u8; 12];
            getrandom::fill(&mut name)
                .map_err(|e| RegistryError::Database(format!("no randomness: {e}")))?;
            let rel = Path::new("tmp").join(format!(".upload-{}", hex::encode(name)));
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            match self.dir.open_with(&rel, &options) {
                Ok(f) => return Ok((f.into_std(), rel)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.io(&rel, e)),
            }
        }
    }

    /// Moves the file at `from` (relative, in `tmp/`) into place as `digest`.
    fn place(&self, from: &Path, digest: &str) -> Result<(), RegistryError> {
        let to = self.path_of(digest)?;
        if self.dir.exists(&to) {
            let _ = self.dir.remove_file(from);
            return Ok(());
        }
        let parent = to.parent().unwrap_or(Path::new("sha256"));
        let moved = self
            .dir
            .create_dir_all(parent)
            .map_err(|e| self.io(parent, e))
            .and_then(|()| {
                self.dir
                    .rename(from, &self.dir, &to)
                    .map_err(|e| self.io(&to, e))
            });
        if moved.is_err() {
            let _ = self.dir.remove_file(from);
        }
        moved?;
        self.sync_dir(parent);
        Ok(())
    }

    fn put_blocking(&self, bytes: &[u8]) -> Result<String, RegistryError> {
        let digest = digest_of(bytes);
        if self.dir.exists(self.path_of(&digest)?) {
            return Ok(digest);
        }
        let (mut file, rel) = self.temp_file()?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = self.dir.remove_file(&rel);
            return Err(self.io(&rel, e));
        }
        self.place(&rel, &digest)?;
        Ok(digest)
    }

    fn get_blocking(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let rel = self.path_of(digest)?;
        let bytes = self.dir.read(&rel).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RegistryError::NotFound(format!("blob {digest}")),
            _ => self.io(&rel, e),
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

/// The path of a staged upload, if `staged` names one (`tmp/.upload-…`, nothing else).
fn staged_path(staged: &str) -> Option<PathBuf> {
    let from = PathBuf::from(staged);
    let in_tmp = from.parent() == Some(Path::new("tmp"))
        && from
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".upload-") && !n.contains('/'));
    in_tmp.then_some(from)
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
        Box::pin(async move { Ok(self.dir.exists(self.path_of(digest)?)) })
    }

    fn stage(&self) -> Option<Result<(std::fs::File, String), RegistryError>> {
        Some(
            self.temp_file()
                .map(|(f, rel)| (f, rel.display().to_string())),
        )
    }

    fn adopt<'a>(
        &'a self,
        staged: String,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async move {
            let Some(from) = staged_path(&staged) else {
                return Err(RegistryError::Invalid(format!(
                    "{staged:?} is not a staged upload"
                )));
            };
            let this = self.clone();
            let digest = digest.to_string();
            tokio::task::spawn_blocking(move || this.place(&from, &digest))
                .await
                .map_err(|e| RegistryError::Database(format!("blob task failed: {e}")))?
        })
    }

    fn discard(&self, staged: &str) {
        if let Some(rel) = staged_path(staged) {
            let _ = self.dir.remove_file(rel);
        }
    }

    fn open_file(&self, digest: &str) -> Option<std::fs::File> {
        let rel = self.path_of(digest).ok()?;
        self.dir.open(rel).ok().map(cap_std::fs::File::into_std)
    }
}
