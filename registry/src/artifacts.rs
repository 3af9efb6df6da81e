//! Run artifacts: files a run produced, stored in the blob store and listed by path.

use sqlx::Row;

use crate::db::now_ms;
use crate::{Registry, RegistryError};

/// A file recorded with a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArtifactInfo {
    /// Its path inside the run, e.g. `model/model.bin`.
    pub path: String,
    /// `sha256:` and the hex digest of its bytes.
    pub digest: String,
    /// Its size in bytes.
    pub size: i64,
}

/// Checks an artifact path: relative, `/`-separated, without `.` or `..` parts.
pub fn check_artifact_path(path: &str) -> Result<(), RegistryError> {
    let ok = !path.is_empty()
        && path.len() <= 1000
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..");
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "artifact path {:?}: expected a relative path like `model/model.bin`, without `.`, `..` or empty parts",
            path.chars().take(120).collect::<String>()
        )))
    }
}

impl Registry {
    /// Stores `bytes` as the artifact `path` of `run` (replacing an earlier file at that path).
    pub async fn log_artifact(
        &self,
        run: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<ArtifactInfo, RegistryError> {
        let digest = self.blobs().put(bytes).await?;
        self.record_artifact(run, path, &digest, bytes.len() as i64)
            .await
    }

    /// Records a blob already in the blob store as the artifact `path` of `run`.
    pub async fn record_artifact(
        &self,
        run: &str,
        path: &str,
        digest: &str,
        size: i64,
    ) -> Result<ArtifactInfo, RegistryError> {
        check_artifact_path(path)?;
        self.run(run).await?;
        if !self.blobs().contains(digest).await? {
            return Err(RegistryError::NotFound(format!("blob {digest}")));
        }
        sqlx::query("INSERT INTO run_artifacts (run_id, path, digest, size, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, path) DO UPDATE SET digest = excluded.digest, size = excluded.size, created_at = excluded.created_at")
            .bind(run)
            .bind(path)
            .bind(digest)
            .bind(size)
            .bind(now_ms())
            .execute(self.db().pool())
            .await?;
        Ok(ArtifactInfo {
            path: path.to_string(),
            digest: digest.to_string(),
            size,
        })
    }

    /// The artifacts of a run under `prefix` (all of them for an empty prefix), by path.
    pub async fn artifacts(
        &self,
        run: &str,
        prefix: &str,
    ) -> Result<Vec<ArtifactInfo>, RegistryError> {
        self.run(run).await?;
        let rows = sqlx::query(
            "SELECT path, digest, size FROM run_artifacts WHERE run_id = $1 ORDER BY path",
        )
        .bind(run)
        .fetch_all(self.db().pool())
        .await?;
        let prefix = prefix.trim_matches('/');
        rows.iter()
            .map(|r| {
                Ok(ArtifactInfo {
                    path: r.try_get("path")?,
                    digest: r.try_get("digest")?,
                    size: r.try_get("size")?,
                })
            })
            .filter(|a: &Result<ArtifactInfo, RegistryError>| match a {
                Ok(a) => {
                    prefix.is_empty()
                        || a.path == prefix
                        || a.path.starts_with(&format!("{prefix}/"))
                }
                Err(_) => true,
            })
            .collect()
    }

    /// One artifact of a run.
    pub async fn artifact(&self, run: &str, path: &str) -> Result<ArtifactInfo, RegistryError> {
        let row = sqlx::query(
            "SELECT path, digest, size FROM run_artifacts WHERE run_id = $1 AND path = $2",
        )
        .bind(run)
        .bind(path)
        .fetch_optional(self.db().pool())
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("artifact {path:?} of run {run}")))?;
        Ok(ArtifactInfo {
            path: row.try_get("path")?,
            digest: row.try_get("digest")?,
            size: row.try_get("size")?,
        })
    }

    /// The bytes of an artifact, checked against its digest.
    pub async fn read_artifact(&self, run: &str, path: &str) -> Result<Vec<u8>, RegistryError> {
        let info = self.artifact(run, path).await?;
        self.blobs().get(&info.digest).await
    }
}
