//! Serving a model version: the validators, transforms (built from their stored states) and
//! model its lineage pins, nothing else, run by the step engine with a fresh set of instances
//! for every call. A couple of sets are built ahead, in the background, so that a request
//! rarely waits for its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::PipelineError;
use super::lineage::Lineage;
use super::pinned::{PluginPolicy, Source, load_pinned, pinned_blob};
use super::steps::{
    InstanceSet, LearnedTransform, ModelStep, Prediction, ServeError, Steps, TransformStep,
    ValidatorStep,
};
use crate::runtime::Runtime;
use crate::runtime::bindings::types::{Batch, Field};

/// Instance sets built ahead and kept per served version.
const READY_SETS: usize = 2;

/// Instance sets built and never used, and whether a task is building more.
#[derive(Default)]
struct Ready {
    sets: Mutex<Vec<InstanceSet>>,
    refilling: AtomicBool,
}

/// A model version ready to serve.
pub struct ServingPipeline {
    lineage: Lineage,
    steps: Arc<Steps>,
    ready: Arc<Ready>,
}

impl ServingPipeline {
    /// Loads everything `lineage` pins from the store, refusing any plugin, state or artifact
    /// whose digest does not match and any plugin the trust policy does not trust, and builds
    /// one set of instances so that a version that cannot start fails here and not on a
    /// request.
    pub async fn load<'a>(
        runtime: &Runtime,
        source: impl Into<Source<'a>>,
        lineage: Lineage,
        options: &PluginPolicy,
    ) -> Result<Self, PipelineError> {
        let registry = source.into();
        let input = lineage.input_fields().map_err(PipelineError::Skew)?;
        let mut validators = Vec::new();
        for v in &lineage.validators {
            validators.push(ValidatorStep {
                plugin: load_pinned(runtime, registry, &v.plugin, options).await?,
                config: v.config.clone(),
                reads: v.reads.clone(),
            });
        }
        let mut transforms = Vec::new();
        for (i, t) in lineage.transforms.iter().enumerate() {
            let plugin = load_pinned(runtime, registry, &t.plugin, options).await?;
            let state = pinned_blob(
                registry,
                &t.state_digest,
                &format!("the state of transform {} ({})", i + 1, t.plugin.name),
            )
            .await?;
            transforms.push(LearnedTransform {
                step: TransformStep {
                    plugin,
                    config: t.config.clone(),
                    reads: t.reads.clone(),
                },
                state,
            });
        }
        let model = match &lineage.model {
            Some(m) => Some(ModelStep {
                plugin: load_pinned(runtime, registry, &m.plugin, options).await?,
                artifact: pinned_blob(registry, &m.artifact_digest, "the model artifact").await?,
                load_config: m.load_config.clone(),
                features: m.features.clone(),
            }),
            None => None,
        };
        let steps = Steps {
            label: lineage.label.clone(),
            input,
            validators,
            transforms,
            model,
        };
        let first = steps.prepare().await?;
        let ready = Ready {
            sets: Mutex::new(vec![first]),
            refilling: AtomicBool::new(false),
        };
        Ok(Self {
            lineage,
            steps: Arc::new(steps),
            ready: Arc::new(ready),
        })
    }

    /// The lineage it serves.
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// The steps it runs.
    pub fn steps(&self) -> &Steps {
        &self.steps
    }

    /// The columns a request must provide.
    pub fn input_schema(&self) -> &[Field] {
        &self.steps.input
    }

    /// A set of instances never used before: one built ahead if there is one (and more are
    /// built in the background), else one built now.
    async fn instances(&self) -> Result<InstanceSet, ServeError> {
        let ready = self.ready.sets.lock().ok().and_then(|mut r| r.pop());
        self.refill();
        match ready {
            Some(set) => Ok(set),
            None => self.steps.prepare().await,
        }
    }

    /// Builds sets in the background until [`READY_SETS`] wait (one task at a time).
    fn refill(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.ready.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let (steps, ready) = (self.steps.clone(), self.ready.clone());
        runtime.spawn(async move {
            while ready.sets.lock().is_ok_and(|s| s.len() < READY_SETS) {
                match steps.prepare().await {
                    Ok(set) => {
                        if let Ok(mut sets) = ready.sets.lock() {
                            sets.push(set);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not build instances ahead");
                        break;
                    }
                }
            }
            ready.refilling.store(false, Ordering::Release);
        });
    }

    /// Checks and transforms raw rows into the full transformed batch.
    pub async fn transform(&self, raw: &Batch) -> Result<Batch, ServeError> {
        let set = self.instances().await?;
        self.steps.transform(set, raw).await
    }

    /// Transforms raw rows without the validators (for drift checks of data as it comes).
    pub async fn transform_unchecked(&self, raw: &Batch) -> Result<Batch, ServeError> {
        let set = self.instances().await?;
        self.steps.transform_unchecked(set, raw).await
    }

    /// The model's inputs and outputs for raw rows.
    pub async fn predict(&self, raw: &Batch) -> Result<Prediction, ServeError> {
        if self.steps.model.is_none() {
            return Err(ServeError::NoModel);
        }
        let set = self.instances().await?;
        self.steps.predict(set, raw).await
    }
}
