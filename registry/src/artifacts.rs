//! Run artifacts: files a run produced, stored in the blob store and listed by path.

use sqlx::Row;

use crate::db::now_ms;
use crate::{Registry, RegistryError};

/// A file recorded with a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ArtifactInfo {
    /// Its path inside the run, e.g. `model/model.bin`.
    pub path: String,
    /// `sha256:` and the hex digest of its bytes.
    pub digest: String,
    /// Its size in bytes.
    pub size: i64,
}

/// The longest artifact path, in characters.
pub const MAX_ARTIFACT_PATH: usize = 1000;

/// An artifact path as the API's document states it: relative, `/`-separated parts without
/// backslashes or NUL, none of them empty, `.` or `..` (its length is bounded apart).
pub const ARTIFACT_PATH_PATTERN: &str =
    r"^(?!(?:[\s\S]*/)?\.{1,2}(?:/[\s\S]*)?$)[^/\\\x00]+(?:/[^/\\\x00]+)*$";

/// Checks an artifact path: relative, `/`-separated, without `.` or `..` parts.
pub fn check_artifact_path(path: &str) -> Result<(), RegistryError> {
    let n = path.chars().count();
    let ok = (1..=MAX_ARTIFACT_PATH).contains(&n)
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

    /// Records a blob already in the blob store as the artifact `path` of `run`. A run's file,
    /// once written, is never replaced, whatever the run's status and whoever wrote it: the
    /// same bytes again change nothing, other bytes are a conflict. So a lineage's pins, and
    /// anything a reader saw, stay true.
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
        sqlx::query("INSERT INTO run_artifacts (run_id, path, digest, size, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, path) DO NOTHING")
            .bind(run)
            .bind(path)
            .bind(digest)
            .bind(size)
            .bind(now_ms())
            .execute(self.db().pool())
            .await?;
        let stored = self.artifact(run, path).await?;
        if stored.digest != digest {
            return Err(RegistryError::Conflict(format!(
                "artifact {path:?} of run {run} cannot be replaced: a run's file, once written, is never replaced (it holds {}, the upload is {digest})",
                stored.digest
            )));
        }
        Ok(stored)
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

/// Where a path of the artifact store points: a run's file, a logged model's file, or a file
/// of its own.
enum Location<'a> {
    Run { run: &'a str, path: String },
    Model { model: &'a str },
    Other,
}

/// `EXPERIMENT/RUN/artifacts/PATH` names a run's file; any other path stands alone.
fn locate(path: &str) -> Location<'_> {
    let parts: Vec<&str> = path.splitn(4, '/').collect();
    if parts.len() >= 3
        && parts[0].bytes().all(|b| b.is_ascii_digit())
        && parts[1].len() == 32
        && parts[1].bytes().all(|b| b.is_ascii_hexdigit())
        && parts[2] == "artifacts"
    {
        Location::Run {
            run: parts[1],
            path: parts.get(3).copied().unwrap_or("").to_string(),
        }
    } else if parts.len() == 4
        && parts[0].bytes().all(|b| b.is_ascii_digit())
        && parts[1] == "models"
        && parts[2].starts_with("m-")
        && parts[3].starts_with("artifacts/")
    {
        Location::Model { model: parts[2] }
    } else {
        Location::Other
    }
}

/// One entry of an artifact folder listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirEntry {
    /// Its name in the listed folder (as MLflow's artifact proxy lists it).
    pub path: String,
    /// Whether it is a folder.
    pub is_dir: bool,
    /// The file's size.
    pub size: Option<i64>,
}

impl Registry {
    /// Records a blob under a path of the artifact store (`EXPERIMENT/RUN/artifacts/…` paths
    /// become the run's files, seen by `ferry runs show`).
    pub async fn put_artifact_file(
        &self,
        path: &str,
        digest: &str,
        size: i64,
    ) -> Result<ArtifactInfo, RegistryError> {
        check_artifact_path(path)?;
        match locate(path) {
            Location::Run { run, path: inner } => {
                self.record_artifact(run, &inner, digest, size).await
            }
            Location::Model { model } => {
                let m = self.logged_model(model).await?;
                if m.status == "LOGGED_MODEL_READY" {
                    let same = self
                        .artifact_file(path)
                        .await
                        .is_ok_and(|f| f.digest == digest);
                    if !same {
                        return Err(RegistryError::Conflict(format!(
                            "artifact {path:?}: logged model {model} is READY, and a READY model's files never change"
                        )));
                    }
                }
                self.put_other_file(path, digest, size, false).await
            }
            Location::Other => self.put_other_file(path, digest, size, true).await,
        }
    }

    /// Records a file outside runs; `replace` lets other bytes replace an earlier file.
    async fn put_other_file(
        &self,
        path: &str,
        digest: &str,
        size: i64,
        replace: bool,
    ) -> Result<ArtifactInfo, RegistryError> {
        if !self.blobs().contains(digest).await? {
            return Err(RegistryError::NotFound(format!("blob {digest}")));
        }
        let conflict = if replace {
            "DO UPDATE SET digest = excluded.digest, size = excluded.size, created_at = excluded.created_at"
        } else {
            "DO NOTHING"
        };
        sqlx::query(&format!("INSERT INTO artifact_files (path, digest, size, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (path) {conflict}"))
            .bind(path)
            .bind(digest)
            .bind(size)
            .bind(now_ms())
            .execute(self.db().pool())
            .await?;
        let stored = self.artifact_file(path).await?;
        if stored.digest != digest {
            return Err(RegistryError::Conflict(format!(
                "artifact {path:?} cannot be replaced: a logged model's file, once written, is never replaced (it holds {}, the upload is {digest})",
                stored.digest
            )));
        }
        Ok(stored)
    }

    /// The file stored under a path of the artifact store.
    pub async fn artifact_file(&self, path: &str) -> Result<ArtifactInfo, RegistryError> {
        check_artifact_path(path)?;
        match locate(path) {
            Location::Run { run, path: inner } => self.artifact(run, &inner).await,
            Location::Model { .. } | Location::Other => {
                let row =
                    sqlx::query("SELECT path, digest, size FROM artifact_files WHERE path = $1")
                        .bind(path)
                        .fetch_optional(self.db().pool())
                        .await?
                        .ok_or_else(|| RegistryError::NotFound(format!("artifact {path:?}")))?;
                Ok(ArtifactInfo {
                    path: row.try_get("path")?,
                    digest: row.try_get("digest")?,
                    size: row.try_get("size")?,
                })
            }
        }
    }

    /// The files and folders directly inside a folder of the artifact store, by name.
    pub async fn list_artifact_dir(&self, dir: &str) -> Result<Vec<DirEntry>, RegistryError> {
        let dir = dir.trim_matches('/');
        let (all, base): (Vec<(String, i64)>, String) = match locate(dir) {
            Location::Run { run, path } => {
                if self.run(run).await.is_err() {
                    return Ok(Vec::new());
                }
                let files = self
                    .artifacts(run, "")
                    .await?
                    .into_iter()
                    .map(|a| (a.path, a.size))
                    .collect();
                (files, path)
            }
            Location::Model { .. } | Location::Other => {
                // Narrowed to the paths under `dir/` in the database (LIKE with the pattern
                // characters escaped; SQLite's LIKE ignores ASCII case, so the prefix is checked
                // exactly below).
                let escaped: String = dir
                    .chars()
                    .flat_map(|c| match c {
                        '%' | '_' | '\\' => vec!['\\', c],
                        c => vec![c],
                    })
                    .collect();
                let pattern = if dir.is_empty() {
                    "%".to_string()
                } else {
                    format!("{escaped}/%")
                };
                let rows = sqlx::query("SELECT path, size FROM artifact_files WHERE path LIKE $1 ESCAPE '\\' ORDER BY path")
                    .bind(pattern)
                    .fetch_all(self.db().pool())
                    .await?;
                let files = rows
                    .iter()
                    .map(|r| Ok((r.try_get("path")?, r.try_get("size")?)))
                    .collect::<Result<Vec<(String, i64)>, RegistryError>>()?;
                (files, dir.to_string())
            }
        };
        // Listed names are relative to the listed folder, as MLflow's artifact proxy lists
        // them (the client joins them to the folder it asked for).
        let strip = match locate(dir) {
            Location::Run { .. } => base,
            Location::Model { .. } | Location::Other => dir.to_string(),
        };
        let mut out: Vec<DirEntry> = Vec::new();
        for (p, size) in all {
            let rest = if strip.is_empty() {
                Some(p.as_str())
            } else {
                p.strip_prefix(&format!("{strip}/"))
            };
            let Some(rest) = rest else { continue };
            match rest.split_once('/') {
                Some((folder, _)) => {
                    let path = folder.to_string();
                    if !out.iter().any(|e| e.path == path) {
                        out.push(DirEntry {
                            path,
                            is_dir: true,
                            size: None,
                        });
                    }
                }
                None => out.push(DirEntry {
                    path: rest.to_string(),
                    is_dir: false,
                    size: Some(size),
                }),
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}
