//! Serving a model version: the validators, transforms (built from their stored states) and
//! model its lineage pins, nothing else, run by the step engine with a fresh set of instances
//! for every call. A couple of sets are built ahead, in the background, so that a request
//! rarely waits for its own. A version holds at most its pool limit of sets, in use or built
//! ahead: a call past it waits for one, so a version's memory is bounded by the limit times
//! what one set takes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::CoreError;
use crate::lineage::Lineage;
use crate::pinned::{Pins, load_pinned};
use crate::steps::{
    InstanceSet, LearnedTransform, ModelStep, Prediction, ServeError, Steps, TransformStep,
    Validation, ValidatorStep,
};
use ferry_runtime::bindings::types::{Batch, Field};
use ferry_runtime::{LoadOptions, Runtime, RuntimeMetrics};

/// Instance sets built ahead and kept per served version.
const READY_SETS: usize = 2;

/// Instance sets one served version may hold at once when the operator sets no limit.
pub const DEFAULT_SETS_PER_VERSION: usize = 8;

/// A set of instances with the pool permit it holds while it exists.
struct Held {
    set: InstanceSet,
    permit: OwnedSemaphorePermit,
}

/// Instance sets built and never used, whether a task is building more, and the version's
/// pool: one permit per set that may exist.
struct Ready {
    sets: Mutex<Vec<Held>>,
    refilling: AtomicBool,
    pushed: Notify,
    permits: Arc<Semaphore>,
    limit: usize,
    peak: AtomicUsize,
    metrics: RuntimeMetrics,
}

impl Ready {
    fn pop(&self) -> Option<Held> {
        self.sets.lock().ok().and_then(|mut r| r.pop())
    }

    /// Records how many sets exist now, for the high-water mark.
    fn note_in_use(&self) {
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let in_use = self.limit - self.permits.available_permits();
        self.peak.fetch_max(in_use, Ordering::Relaxed);
        if PEAK.fetch_max(in_use, Ordering::Relaxed) < in_use {
            self.metrics.instance_sets_peak.set(in_use as i64);
        }
    }
}

/// A served version's pool: its limit, the sets that exist now (in use or built ahead), and
/// the most that ever existed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// The most sets the version may hold.
    pub limit: usize,
    /// Sets that exist now.
    pub in_use: usize,
    /// The most that existed at once.
    pub peak: usize,
}

/// A model version ready to serve.
pub struct ServingPipeline {
    lineage: Lineage,
    steps: Arc<Steps>,
    ready: Arc<Ready>,
}

impl ServingPipeline {
    /// Loads everything `lineage` pins from `source`, refusing any plugin, state or artifact
    /// whose digest does not match and anything the source's policy refuses, and builds one
    /// set of instances so that a version that cannot start fails here and not on a request.
    /// Every plugin is loaded with the operator's grants and limits, `load`; the version holds
    /// at most `sets_per_version` instance sets (default [`DEFAULT_SETS_PER_VERSION`]).
    pub async fn load<S: Pins>(
        runtime: &Runtime,
        source: &S,
        lineage: Lineage,
        load: &LoadOptions,
        sets_per_version: Option<std::num::NonZeroUsize>,
    ) -> Result<Self, S::Error> {
        let registry = source;
        let input = lineage.input_fields().map_err(CoreError::Skew)?;
        let mut validators = Vec::new();
        for v in &lineage.validators {
            validators.push(ValidatorStep {
                plugin: load_pinned(runtime, registry, &v.plugin, load).await?,
                config: v.config.clone(),
                reads: v.reads.clone(),
            });
        }
        let mut transforms = Vec::new();
        for (i, t) in lineage.transforms.iter().enumerate() {
            let plugin = load_pinned(runtime, registry, &t.plugin, load).await?;
            let state = registry
                .blob(
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
                state: state.into(),
            });
        }
        let model = match &lineage.model {
            Some(m) => Some(ModelStep {
                plugin: load_pinned(runtime, registry, &m.plugin, load).await?,
                artifact: registry
                    .blob(&m.artifact_digest, "the model artifact")
                    .await?
                    .into(),
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
        let limit = sets_per_version.map_or(DEFAULT_SETS_PER_VERSION, |n| n.get());
        let metrics = runtime.metrics().clone();
        metrics.instance_sets_per_version.set(limit as i64);
        let permits = Arc::new(Semaphore::new(limit));
        let permit = permits
            .clone()
            .try_acquire_owned()
            .map_err(|e| CoreError::Invalid(format!("the version's pool has no room: {e}")))?;
        let first = Held {
            set: steps.prepare().await.map_err(CoreError::from)?,
            permit,
        };
        let ready = Ready {
            sets: Mutex::new(vec![first]),
            refilling: AtomicBool::new(false),
            pushed: Notify::new(),
            permits,
            limit,
            peak: AtomicUsize::new(0),
            metrics,
        };
        ready.note_in_use();
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

    /// The version's pool: its limit, the sets that exist now and the most there ever were.
    pub fn pool(&self) -> PoolStats {
        let r = &self.ready;
        PoolStats {
            limit: r.limit,
            in_use: r.limit - r.permits.available_permits(),
            peak: r.peak.load(Ordering::Relaxed),
        }
    }

    /// A set of instances never used before, with its pool permit: one built ahead if there
    /// is one (and more are built in the background), else one built now once the pool has
    /// room. A set built ahead while this call waits is taken as soon as it is there.
    async fn instances(&self) -> Result<(InstanceSet, OwnedSemaphorePermit), ServeError> {
        let ready = &self.ready;
        let mut waited = false;
        let held = loop {
            if let Some(held) = ready.pop() {
                break held;
            }
            let pushed = ready.pushed.notified();
            tokio::pin!(pushed);
            pushed.as_mut().enable();
            if let Some(held) = ready.pop() {
                break held;
            }
            if ready.permits.available_permits() == 0 && !waited {
                waited = true;
                ready.metrics.instance_set_waits.inc();
            }
            tokio::select! {
                permit = ready.permits.clone().acquire_owned() => {
                    let permit = permit.map_err(|e| ServeError::Other(format!("the version's pool is closed: {e}")))?;
                    ready.note_in_use();
                    let set = self.steps.prepare().await?;
                    break Held { set, permit };
                }
                _ = &mut pushed => continue,
            }
        };
        self.refill();
        Ok((held.set, held.permit))
    }

    /// Builds sets in the background until [`READY_SETS`] wait (one task at a time), while
    /// the pool has room and no call is waiting for it.
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
                let Ok(permit) = ready.permits.clone().try_acquire_owned() else {
                    break;
                };
                ready.note_in_use();
                match steps.prepare().await {
                    Ok(set) => {
                        if let Ok(mut sets) = ready.sets.lock() {
                            sets.push(Held { set, permit });
                        }
                        ready.pushed.notify_waiters();
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
        let (set, _permit) = self.instances().await?;
        self.steps.transform(set, raw).await
    }

    /// Transforms raw rows without the validators (for drift checks of data as it comes).
    pub async fn transform_unchecked(&self, raw: &Batch) -> Result<Batch, ServeError> {
        let (set, _permit) = self.instances().await?;
        self.steps.transform_unchecked(set, raw).await
    }

    /// The model's inputs and outputs for raw rows, the validators judging them as one batch
    /// (batch scoring).
    pub async fn predict(&self, raw: &Batch) -> Result<Prediction, ServeError> {
        self.predict_judged(raw, Validation::Batch).await
    }

    /// The model's inputs and outputs for the rows of an online request, which the
    /// validators judge row by row.
    pub async fn predict_online(&self, raw: &Batch) -> Result<Prediction, ServeError> {
        self.predict_judged(raw, Validation::RowByRow).await
    }

    async fn predict_judged(
        &self,
        raw: &Batch,
        validation: Validation,
    ) -> Result<Prediction, ServeError> {
        if self.steps.model.is_none() {
            return Err(ServeError::NoModel);
        }
        let (set, _permit) = self.instances().await?;
        self.steps.predict(set, raw, validation).await
    }
}
