//! What drift is measured against: a stored version's reference profile, and its model
//! features computed from current data by exactly the pipeline the version pins.

use ferry_core::data::{concat, schema_of, select, slice_rows};
use ferry_core::lineage::Lineage;
use ferry_core::stats::Profile;
use std::sync::Arc;

use ferry_core::batch::{BatchError, default_sets, default_workers, in_order};
use ferry_core::steps::BATCH_ROWS;
use ferry_runtime::Runtime;
use ferry_runtime::bindings::types::Batch;

use crate::pinned::load_serving;
use crate::store::Store;
use crate::{PipelineError, PluginPolicy};

/// A version's reference profile, with the lineage it came from.
pub struct Reference {
    /// The version as `NAME@VERSION`.
    pub name: String,
    /// The profile of its training data (and of its features, where it was trained by Ferry).
    pub profile: Profile,
    /// Its lineage.
    pub lineage: Lineage,
}

/// The reference profile of `model` (`NAME@VERSION`, `NAME@ALIAS` or `NAME`, the latest).
/// A version with no Ferry lineage or no profile is refused with what to do instead.
pub async fn reference_of(store: &Store, model: &str) -> Result<Reference, PipelineError> {
    let (name, reference) = model.split_once('@').unwrap_or((model, "latest"));
    let version = store.model_version(name, reference).await?;
    let what = format!("{name} version {}", version.version);
    let text = version.lineage.ok_or_else(|| {
        PipelineError::NoLineage(format!(
            "{what} has no Ferry lineage, so no reference profile; use --reference FILE"
        ))
    })?;
    let lineage = Lineage::parse(&text).map_err(PipelineError::Other)?;
    let digest = lineage.reference_profile.clone().ok_or_else(|| {
        PipelineError::NoLineage(format!(
            "{what} has no reference profile (it was trained before Ferry kept one, or registered from outside); use --reference FILE"
        ))
    })?;
    let bytes = store.blob(&digest).await?;
    let profile =
        Profile::parse(&bytes).map_err(|e| PipelineError::Other(format!("{what}: {e}")))?;
    Ok(Reference {
        name: format!("{name}@{}", version.version),
        profile,
        lineage,
    })
}

/// Why the features of current data could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    /// The pinned pipeline could not be loaded, or the features not assembled.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The pipeline failed on some rows ([`BatchError::Rows`]).
    #[error(transparent)]
    Rows(BatchError),
}

/// The model's features of `current` (at least one row), computed by the version's pinned
/// pipeline in batches of [`BATCH_ROWS`] rows on every core, every plugin held to `policy`.
pub async fn features_of(
    runtime: &Runtime,
    store: &Store,
    lineage: Lineage,
    policy: &PluginPolicy,
    current: &Batch,
) -> Result<Batch, FeaturesError> {
    let names: Arc<[String]> = lineage.feature_names().into();
    let workers = default_workers();
    let mut policy = policy.clone();
    policy.sets_per_version.get_or_insert(default_sets());
    let pipeline = Arc::new(load_serving(runtime, store, lineage, &policy).await?);
    let n = current.num_rows as usize;
    let mut batches = Vec::new();
    let mut start = 0;
    in_order(
        workers,
        || {
            if start >= n {
                return Ok::<_, FeaturesError>(None);
            }
            let end = (start + BATCH_ROWS).min(n);
            let chunk = slice_rows(current, start, end);
            start = end;
            Ok(Some(chunk))
        },
        |offset, chunk| {
            let (pipeline, names) = (pipeline.clone(), names.clone());
            async move {
                let rows = chunk.num_rows as usize;
                let out = pipeline
                    .transform_unchecked(&chunk)
                    .await
                    .map_err(|e| FeaturesError::Rows(BatchError::rows(offset, rows, e)))?;
                Ok(select(&out, &names)
                    .map_err(|e| PipelineError::Other(format!("the features: {e}")))?)
            }
        },
        |features| {
            batches.push(features);
            Ok(())
        },
    )
    .await?;
    let Some(first) = batches.first() else {
        return Err(PipelineError::Other("no rows".into()).into());
    };
    let schema = schema_of(first);
    Ok(concat(&schema, batches).map_err(|e| PipelineError::Other(format!("the features: {e}")))?)
}
