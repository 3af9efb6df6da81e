//! MLflow's artifact proxy: uploads stream to disk while they are hashed, then move into the
//! blob store; downloads stream from it after their digest is checked.

use crate::error::MlflowErrorBody;
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
use utoipa::IntoParams;

use super::{MlflowError, reader, write};
use crate::AppState;

/// Query of the listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The folder (the root when left out).
    path: Option<String>,
}

/// An artifact's path, in the URL.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ArtifactPath {
    /// The artifact's path.
    #[param(schema_with = crate::schema::artifact_path)]
    path: String,
}

#[utoipa::path(get, path = "/api/2.0/mlflow-artifacts/artifacts", tag = "mlflow", params(ListQuery), responses((status = 200, description = "The folder's entries, named relative to it", body = Object), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
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

#[utoipa::path(get, path = "/api/2.0/mlflow-artifacts/artifacts/{path}", tag = "mlflow", params(ArtifactPath), responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)))]
/// `GET mlflow-artifacts/artifacts/{path}`: the file's bytes.
pub async fn download(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(ArtifactPath { path }): Path<ArtifactPath>,
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
    match s.registry.blobs().open_file(&info.digest) {
        Some(file) => {
            // Check the bytes against their digest first, reading in chunks, then stream the
            // same open file from its start.
            let checked =
                tokio::task::spawn_blocking(move || -> std::io::Result<(String, std::fs::File)> {
                    use std::io::Seek;
                    let mut f = file;
                    let mut h = Sha256::new();
                    std::io::copy(&mut f, &mut h)?;
                    f.rewind()?;
                    Ok((format!("sha256:{}", hex::encode(h.finalize())), f))
                })
                .await
                .map_err(|e| MlflowError::invalid(e.to_string()))?
                .map_err(|e| MlflowError::missing(format!("artifact {path}: {e}")))?;
            let (digest, file) = checked;
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
            let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
            Ok((headers, Body::from_stream(stream)).into_response())
        }
        None => {
            let bytes = s.registry.blobs().get(&info.digest).await?;
            Ok((headers, bytes).into_response())
        }
    }
}

/// Writes a request body to a staged file while hashing it; returns its digest and size.
async fn stream_to(mut file: std::fs::File, body: Body) -> Result<(String, i64), MlflowError> {
    let staging = |e: std::io::Error| MlflowError::invalid(format!("cannot stage the upload: {e}"));
    let mut hasher = Sha256::new();
    let mut size: i64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| MlflowError::invalid(format!("the upload was cut short: {e}")))?;
        hasher.update(&chunk);
        size += chunk.len() as i64;
        tokio::task::block_in_place(|| file.write_all(&chunk)).map_err(staging)?;
    }
    tokio::task::block_in_place(|| file.sync_all()).map_err(staging)?;
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

#[utoipa::path(put, path = "/api/2.0/mlflow-artifacts/artifacts/{path}", tag = "mlflow", params(ArtifactPath), request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream", description = "The file's bytes (none for an empty file)"), responses((status = 200, description = "Stored", body = Object), (status = 409, description = "The file may not be replaced", body = MlflowErrorBody), (status = "4XX", description = "MLflow's error", body = MlflowErrorBody)), security(("token" = [])))]
/// `PUT mlflow-artifacts/artifacts/{path}`: stores the body, streamed to disk (publisher).
pub async fn upload(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(ArtifactPath { path }): Path<ArtifactPath>,
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
            let blobs = s.registry.blobs();
            let (digest, size) = match blobs.stage() {
                Some(staged) => {
                    let (file, name) = staged?;
                    match stream_to(file, body).await {
                        Ok((digest, size)) => {
                            blobs.adopt(name, &digest).await?;
                            (digest, size)
                        }
                        Err(e) => {
                            blobs.discard(&name);
                            return Err(e);
                        }
                    }
                }
                None => {
                    let bytes = axum::body::to_bytes(body, super::MAX_ARTIFACT_BYTES)
                        .await
                        .map_err(|e| MlflowError::invalid(format!("the upload failed: {e}")))?;
                    (blobs.put(&bytes).await?, bytes.len() as i64)
                }
            };
            match s.registry.put_artifact_file(&path, &digest, size).await {
                Ok(_) => Ok(json!({})),
                Err(ferry_registry::RegistryError::Conflict(m)) => Err(MlflowError::conflict(m)),
                Err(e) => Err(e.into()),
            }
        },
    )
    .await?;
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/3.0/mlflow/server-info", tag = "mlflow", responses((status = 200, description = "What this server offers", body = Object)))]
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
