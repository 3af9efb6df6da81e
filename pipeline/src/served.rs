//! The model versions a server has loaded, by name, number and creation time. A version is
//! immutable, so a loaded one never goes stale; a version deleted and another given its name
//! and number (by renaming a model) has another creation time, so it is never mistaken for the
//! one loaded. A version is loaded (and its lineage checked) on first use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ferry_registry::Registry;

use super::PipelineError;
use super::pinned::{PluginPolicy, load_serving};
use crate::store::Store;
use ferry_core::lineage::Lineage;
use ferry_core::serving::ServingPipeline;
use ferry_runtime::Runtime;

/// A resolved version (number, creation time) with the registry generation it was read at.
type Stamped = (i64, (i64, i64));

/// Loaded versions, by model name and version number, with the grants, limits and trust
/// policy their plugins are held to.
#[derive(Default)]
pub struct Served {
    options: PluginPolicy,
    loaded: RwLock<HashMap<(String, i64, i64), Arc<ServingPipeline>>>,
    keys: RwLock<HashMap<(String, String), Stamped>>,
    loading: tokio::sync::Mutex<()>,
}

impl Served {
    /// An empty cache whose versions' plugins are held to `options` (the operator's limits
    /// and trust policy).
    pub fn new(options: PluginPolicy) -> Self {
        Self {
            options,
            ..Default::default()
        }
    }

    /// The grants, limits and trust policy served plugins are held to.
    pub fn options(&self) -> &PluginPolicy {
        &self.options
    }

    /// The version a reference names (number and creation time), from memory while the
    /// registry's generation has not moved.
    pub async fn resolve(
        &self,
        registry: &Registry,
        name: &str,
        reference: &str,
    ) -> Result<(i64, i64), PipelineError> {
        let generation = registry.generation();
        let key = (name.to_string(), reference.to_string());
        if generation >= 0
            && let Some((g, v)) = self.keys.read().ok().and_then(|m| m.get(&key).copied())
            && g == generation
        {
            return Ok(v);
        }
        let v = registry.resolve_version_key(name, reference).await?;
        if let Ok(mut m) = self.keys.write() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(key, (generation, v));
        }
        Ok(v)
    }

    fn cached(&self, key: &(String, i64, i64)) -> Option<Arc<ServingPipeline>> {
        self.loaded.read().ok().and_then(|m| m.get(key).cloned())
    }

    /// The loaded pipeline of version `number` of `name` (created at `created_at`), loading
    /// (and checking) it on first use.
    pub async fn get(
        &self,
        runtime: &Runtime,
        registry: &Registry,
        name: &str,
        (number, created_at): (i64, i64),
    ) -> Result<Arc<ServingPipeline>, PipelineError> {
        let key = (name.to_string(), number, created_at);
        if let Some(p) = self.cached(&key) {
            return Ok(p);
        }
        let _guard = self.loading.lock().await;
        if let Some(p) = self.cached(&key) {
            return Ok(p);
        }
        let version = registry.model_version(name, number).await?;
        if version.created_at != created_at {
            return Err(PipelineError::Registry(
                ferry_registry::RegistryError::NotFound(format!(
                    "version {number} of model {name:?} (it was replaced while being loaded)"
                )),
            ));
        }
        let text = version.lineage.as_deref().ok_or_else(|| {
            PipelineError::NoLineage(format!(
                "version {} of {} has no Ferry lineage to serve from; attach a run's pipeline with PUT /v1/models/{}/versions/{}/pipeline or `ferry models attach`",
                version.version, version.name, version.name, version.version
            ))
        })?;
        let lineage = Lineage::parse(text).map_err(PipelineError::Skew)?;
        let store = Store::Local(registry.clone());
        let pipeline = load_serving(runtime, &store, lineage, &self.options)
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
