//! The prediction log's index: each Parquet segment of served predictions is a blob, listed
//! here by model version and the time span of the requests it holds.

use sqlx::Row;

use crate::db::now_ms;
use crate::{Registry, RegistryError};

/// One segment of the prediction log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PredictionSegment {
    /// `sha256:` and the hex digest of the Parquet file (a blob).
    pub digest: String,
    /// The registered model.
    pub model: String,
    /// The version that answered.
    pub version: i64,
    /// Rows in it.
    pub rows: i64,
    /// Its size in bytes.
    pub bytes: i64,
    /// When its first request was answered (ms since the epoch).
    pub first_at: i64,
    /// When its last request was answered.
    pub last_at: i64,
    /// When it was written.
    pub created_at: i64,
}

impl Registry {
    /// Stores a segment's bytes in the blob store and lists it.
    pub async fn add_prediction_segment(
        &self,
        model: &str,
        version: i64,
        parquet: &[u8],
        rows: i64,
        (first_at, last_at): (i64, i64),
    ) -> Result<PredictionSegment, RegistryError> {
        let digest = self.blobs().put(parquet).await?;
        let segment = PredictionSegment {
            digest,
            model: model.into(),
            version,
            rows,
            bytes: parquet.len() as i64,
            first_at,
            last_at,
            created_at: now_ms(),
        };
        sqlx::query("INSERT INTO prediction_segments (digest, model, version, rows, bytes, first_at, last_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (digest) DO NOTHING")
            .bind(&segment.digest)
            .bind(&segment.model)
            .bind(segment.version)
            .bind(segment.rows)
            .bind(segment.bytes)
            .bind(segment.first_at)
            .bind(segment.last_at)
            .bind(segment.created_at)
            .execute(self.db().pool())
            .await?;
        Ok(segment)
    }

    /// The segments of `model` (one version, or all), whose requests overlap `[since, until]`
    /// (ms since the epoch), oldest first.
    pub async fn prediction_segments(
        &self,
        model: &str,
        version: Option<i64>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<PredictionSegment>, RegistryError> {
        let rows = sqlx::query("SELECT digest, model, version, rows, bytes, first_at, last_at, created_at FROM prediction_segments WHERE model = $1 AND ($2 < 0 OR version = $2) AND last_at >= $3 AND first_at <= $4 ORDER BY first_at, digest")
            .bind(model)
            .bind(version.unwrap_or(-1))
            .bind(since.unwrap_or(i64::MIN))
            .bind(until.unwrap_or(i64::MAX))
            .fetch_all(self.db().pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(PredictionSegment {
                    digest: row.try_get("digest")?,
                    model: row.try_get("model")?,
                    version: row.try_get("version")?,
                    rows: row.try_get("rows")?,
                    bytes: row.try_get("bytes")?,
                    first_at: row.try_get("first_at")?,
                    last_at: row.try_get("last_at")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}

/// A label that arrived after its prediction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Feedback {
    /// Its id.
    pub id: String,
    /// The registered model.
    pub model: String,
    /// The version it was sent for (-1: any version, as through a deployment).
    pub version: i64,
    /// The deployment it came through (empty when sent for a model version).
    pub deployment: String,
    /// The request it labels (empty when keyed by a business key).
    pub request_id: String,
    /// The row within that request.
    pub row_index: i64,
    /// The business key's column (empty when keyed by request id).
    pub key_column: String,
    /// The business key's value.
    pub key_value: String,
    /// The label, as JSON.
    pub label: String,
    /// When it arrived (ms since the epoch).
    pub received_at: i64,
}

impl Registry {
    /// Stores labels, all or none.
    pub async fn add_feedback(&self, labels: &[Feedback]) -> Result<(), RegistryError> {
        let mut tx = self.db().pool().begin().await?;
        for f in labels {
            sqlx::query("INSERT INTO feedback (id, model, version, deployment, request_id, row_index, key_column, key_value, label, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(&f.id)
                .bind(&f.model)
                .bind(f.version)
                .bind(&f.deployment)
                .bind(&f.request_id)
                .bind(f.row_index)
                .bind(&f.key_column)
                .bind(&f.key_value)
                .bind(&f.label)
                .bind(f.received_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Each model and version labels arrived for at or after `since` (ms); version −1 stands
    /// for labels sent to a deployment, which join whichever version answered.
    pub async fn feedback_versions_since(
        &self,
        since: i64,
    ) -> Result<Vec<(String, i64)>, RegistryError> {
        let rows = sqlx::query(
            "SELECT DISTINCT model, version FROM feedback WHERE received_at >= $1 ORDER BY model, version",
        )
        .bind(since)
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("model")?, row.try_get("version")?)))
            .collect()
    }

    /// The labels for `model` that arrived at or after `since` (ms), oldest first.
    pub async fn feedback_since(
        &self,
        model: &str,
        since: i64,
    ) -> Result<Vec<Feedback>, RegistryError> {
        let rows = sqlx::query("SELECT id, model, version, deployment, request_id, row_index, key_column, key_value, label, received_at FROM feedback WHERE model = $1 AND received_at >= $2 ORDER BY received_at, id")
            .bind(model)
            .bind(since)
            .fetch_all(self.db().pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Feedback {
                    id: row.try_get("id")?,
                    model: row.try_get("model")?,
                    version: row.try_get("version")?,
                    deployment: row.try_get("deployment")?,
                    request_id: row.try_get("request_id")?,
                    row_index: row.try_get("row_index")?,
                    key_column: row.try_get("key_column")?,
                    key_value: row.try_get("key_value")?,
                    label: row.try_get("label")?,
                    received_at: row.try_get("received_at")?,
                })
            })
            .collect()
    }
}
