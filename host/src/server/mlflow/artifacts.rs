//! MLflow's artifact proxy: uploads stream to disk while they are hashed, then move into the
//! blob store; downloads stream from it after their digest is checked.

use std::io::Write;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use ferry_registry::{Role, check_artifact_path};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{MlflowError, reader, write};
use crate::server::AppState;

/// Query of the listing.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    path: Option<String>,
}

/// `GET mlflow-artifacts/artifacts?path=DIR`.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, MlflowError> {
    reader(&s, &headers).await?;
    let dir = q.path.unwrap_or_default();
    let entries = s.registry.list_artifact_dir(&dir).await?;
    let files: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = json!({"path": e.path, "is_dir": e.is_dir});
            if let Some(size) = e.size {
                v["file_size"] = json!(size);
            }
            v
        })
        .collect();
    Ok(Json(if files.is_empty() {
        json!({})
    } else {
        json!({"files": files})
    }))
}

/// `GET mlflow-artifacts/artifacts/{path}`: the file's bytes.
pub async fn download(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(path): Path<String>,
) -> Result<Response, MlflowError> {
    reader(&s, &headers).await?;
    let info = s.registry.artifact_file(&path).await?;
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        (
            header::HeaderName::from_static("x-ferry-digest"),
            info.digest.clone(),
        ),
    ];
    match s.registry.blobs().file_of(&info.digest) {
        Some(file) => {
            // Check the bytes against their digest first, reading in chunks, then stream them.
            let check = file.clone();
            let digest = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
                let mut f = std::fs::File::open(&check)?;
                let mut h = Sha256::new();
                std::io::copy(&mut f, &mut h)?;
                Ok(format!("sha256:{}", hex::encode(h.finalize())))
            })
            .await
            .map_err(|e| MlflowError::invalid(e.to_string()))?
            .map_err(|e| MlflowError::missing(format!("artifact {path}: {e}")))?;
            if digest != info.digest {
                tracing::error!(
                    path,
                    expected = info.digest,
                    actual = digest,
                    "artifact blob is corrupt"
                );
                return Err(ferry_registry::RegistryError::Corrupt {
                    digest: info.digest,
                    actual: digest,
                }
                .into());
            }
            let f = tokio::fs::File::open(&file)
                .await
                .map_err(|e| MlflowError::missing(format!("artifact {path}: {e}")))?;
            let stream = tokio_util::io::ReaderStream::new(f);
            Ok((headers, Body::from_stream(stream)).into_response())
        }
        None => {
            let bytes = s.registry.blobs().get(&info.digest).await?;
            Ok((headers, bytes).into_response())
        }
    }
}

/// `PUT mlflow-artifacts/artifacts/{path}`: stores the body, streamed to disk (publisher).
pub async fn upload(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(path): Path<String>,
    body: Body,
) -> Result<Json<Value>, MlflowError> {
    let v = write(
        &s,
        &headers,
        Role::Publisher,
        "artifacts.upload",
        &format!("artifact:{path}"),
        async |_| {
            check_artifact_path(&path)?;
            let staging = s
                .registry
                .blobs()
                .staging_dir()
                .unwrap_or_else(std::env::temp_dir);
            let mut tmp = tempfile::NamedTempFile::new_in(&staging)
                .map_err(|e| MlflowError::invalid(format!("cannot stage the upload: {e}")))?;
            let mut hasher = Sha256::new();
            let mut size: i64 = 0;
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk
                    .map_err(|e| MlflowError::invalid(format!("the upload was cut short: {e}")))?;
                hasher.update(&chunk);
                size += chunk.len() as i64;
                let file = tmp.as_file_mut();
                tokio::task::block_in_place(|| file.write_all(&chunk))
                    .map_err(|e| MlflowError::invalid(format!("cannot stage the upload: {e}")))?;
            }
            tokio::task::block_in_place(|| tmp.as_file().sync_all())
                .map_err(|e| MlflowError::invalid(format!("cannot stage the upload: {e}")))?;
            let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
            let kept = tmp
                .into_temp_path()
                .keep()
                .map_err(|e| MlflowError::invalid(format!("cannot stage the upload: {e}")))?;
            s.registry.blobs().adopt(kept, &digest).await?;
            s.registry.put_artifact_file(&path, &digest, size).await?;
            Ok(json!({}))
        },
    )
    .await?;
    Ok(Json(v))
}

/// `GET /api/3.0/mlflow/server-info`.
pub async fn server_info() -> Json<Value> {
    Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {},
    }))
}
