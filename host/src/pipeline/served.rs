//! The model versions a server has loaded, by name and number. A version is immutable, so a
//! loaded one never goes stale; it is loaded (and its lineage checked) on first use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ferry_registry::Registry;

use super::PipelineError;
use super::lineage::Lineage;
use super::serving::ServingPipeline;
use crate::runtime::{LoadOptions, Runtime};

/// Loaded versions, by model name and version number, with the grants and limits their
/// plugins run under.
#[derive(Default)]
pub struct Served {
    options: LoadOptions,
    loaded: RwLock<HashMap<(String, i64), Arc<ServingPipeline>>>,
    loading: tokio::sync::Mutex<()>,
}

impl Served {
    /// An empty cache whose versions' plugins run with `options` (the operator's limits).
    pub fn new(options: LoadOptions) -> Self {
        Self {
            options,
            ..Default::default()
        }
    }

    /// The grants and limits served plugins run under.
    pub fn options(&self) -> &LoadOptions {
        &self.options
    }

    fn cached(&self, key: &(String, i64)) -> Option<Arc<ServingPipeline>> {
        self.loaded.read().ok().and_then(|m| m.get(key).cloned())
    }

    /// The loaded pipeline of version `number` of `name`, loading (and checking) it on first
    /// use.
    pub async fn get(
        &self,
        runtime: &Runtime,
        registry: &Registry,
        name: &str,
        number: i64,
    ) -> Result<Arc<ServingPipeline>, PipelineError> {
        let key = (name.to_string(), number);
        if let Some(p) = self.cached(&key) {
            return Ok(p);
        }
        let _guard = self.loading.lock().await;
        if let Some(p) = self.cached(&key) {
            return Ok(p);
        }
        let version = registry.model_version(name, number).await?;
        let text = version.lineage.as_deref().ok_or_else(|| {
            PipelineError::NoLineage(format!(
                "version {} of {} has no Ferry lineage to serve from; attach a run's pipeline with PUT /v1/models/{}/versions/{}/pipeline or `ferry models attach`",
                version.version, version.name, version.name, version.version
            ))
        })?;
        let lineage = Lineage::parse(text).map_err(PipelineError::Skew)?;
        let pipeline = ServingPipeline::load(runtime, registry, lineage, &self.options)
            .await
            .inspect_err(|e| {
                tracing::warn!(model = %version.name, version = version.version, error = %e, "refused to serve");
            })?;
        let pipeline = Arc::new(pipeline);
        if let Ok(mut m) = self.loaded.write() {
            m.insert(key, pipeline.clone());
        }
        Ok(pipeline)
    }
}
