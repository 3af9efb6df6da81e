//! Adaptive batching, opted into per deployment: requests that arrive together for one of its
//! versions share one set of fresh instances and one call per step.
//!
//! A version's queue hands its requests to a call as soon as one can start (at most one call
//! per core runs at once) and either the queued rows reach `max_rows`, the oldest request has
//! waited `max_wait_us`, or no other call of the version is running, so a lone request never
//! waits. Each answer is the matching rows of the shared call's output. When the shared call
//! fails in any way (a row a validator rejects, a trap, a deadline) or gives back another
//! number of rows, each of its requests is scored again alone, so one request's bad row fails
//! only that request, and every answer is the one that request would have had alone.
//!
//! Rows of different requests meet inside one plugin call, so a version is batched only when
//! every plugin it runs is built in or signed by a key the trust policy lists for it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_core::ServingPipeline;
use ferry_core::attempt::{Attempt, attempt_typed};
use ferry_core::data::{concat, slice_rows};
use ferry_core::lineage::Lineage;
use ferry_core::steps::Prediction;
use ferry_registry::deployment_spec::{BatchSettings, DeploymentSpec, Resolved, SpecError};
use ferry_registry::{Registry, RegistryError, TrustPolicy, digest_of};
use ferry_runtime::Runtime;
use ferry_runtime::bindings::types::Batch;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::monitor::metrics::{METRICS, TargetLabels};

/// What a revision's batching is checked against: the built-in plugins and the operator's
/// trust policy.
#[derive(Clone, Copy)]
pub struct Gate<'a> {
    /// The runtime whose built-in plugins may always be batched.
    pub runtime: &'a Runtime,
    /// The trust policy whose keys vouch for other plugins (none: only built-ins).
    pub trust: Option<&'a TrustPolicy>,
}

impl Gate<'_> {
    /// Why the version `lineage` describes may not be batched (the first plugin that is
    /// neither built in nor signed by a key the trust policy lists for it), or `None`.
    pub async fn refuses(
        &self,
        registry: &Registry,
        lineage: &Lineage,
    ) -> Result<Option<String>, RegistryError> {
        let builtins = self.runtime.builtins();
        for pin in lineage.plugins() {
            let built_in = builtins
                .bytes(&pin.name)
                .is_some_and(|b| digest_of(b) == pin.digest);
            if built_in {
                continue;
            }
            let vouched = match self.trust {
                Some(policy) => {
                    let signatures = registry.signatures(&pin.digest).await?;
                    policy.vouches(&pin.name, &pin.digest, &signatures)
                }
                None => false,
            };
            if !vouched {
                return Ok(Some(format!(
                    "plugin {}@{} ({}) is neither built in nor signed by a key the trust policy lists for it{}",
                    pin.name,
                    pin.version,
                    pin.digest,
                    if self.trust.is_none() {
                        " (there is no trust policy)"
                    } else {
                        ""
                    }
                )));
            }
        }
        Ok(None)
    }

    /// Checks a resolved specification that batches: every version it may answer with (the
    /// targets and the fallback) runs only plugins that are built in or vouched for.
    pub async fn check(&self, registry: &Registry, spec: &DeploymentSpec) -> Result<(), SpecError> {
        if spec.batch.is_none() {
            return Ok(());
        }
        let answering = spec
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("targets[{i}] ({})", t.label()), t.key()))
            .chain(
                spec.fallback
                    .iter()
                    .map(|f| (format!("fallback ({})", f.label()), f.key())),
            );
        for (at, key) in answering {
            let Some((model, r)) = key else {
                return Err(SpecError::Invalid(format!("{at}: never resolved")));
            };
            let version = registry.model_version(&model, r.number).await?;
            let lineage = version
                .lineage
                .as_deref()
                .map(Lineage::parse)
                .transpose()
                .map_err(|e| SpecError::Invalid(format!("{at}: its lineage: {e}")))?;
            let Some(lineage) = lineage else {
                continue;
            };
            if let Some(why) = self.refuses(registry, &lineage).await? {
                return Err(SpecError::Invalid(format!(
                    "batch: {at}: {why}. Batching lets rows of concurrent requests meet inside one plugin call, so it is allowed only for built-in plugins and plugins signed by a trusted key"
                )));
            }
        }
        Ok(())
    }
}

/// One request waiting for a batched call: its typed rows and where its answer goes.
struct Job {
    pipeline: Arc<ServingPipeline>,
    batch: Batch,
    at: Instant,
    reply: oneshot::Sender<Attempt>,
}

impl Job {
    fn rows(&self) -> usize {
        self.batch.num_rows as usize
    }
}

/// A version's batching queue. Dropping it lets the queued requests finish and stops its
/// task.
pub struct Batcher {
    queue: mpsc::UnboundedSender<Job>,
}

impl Batcher {
    /// Starts the queue of deployment target `labels` on the current Tokio runtime; its calls
    /// run on `runtime`'s plugin threads and are stopped after `timeout`.
    pub fn start(
        settings: BatchSettings,
        runtime: &Runtime,
        timeout: Duration,
        labels: TargetLabels,
    ) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::spawn(dispatch(
            rx,
            Queue {
                max_rows: settings.max_rows as usize,
                wait: Duration::from_micros(settings.max_wait_us),
                slots,
                timeout,
                runtime: runtime.clone(),
                labels,
            },
        ));
        Self { queue }
    }

    /// Predicts rows already typed against `pipeline`'s input schema, in a call shared with
    /// whatever else is queued.
    pub async fn predict(&self, pipeline: Arc<ServingPipeline>, batch: Batch) -> Attempt {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            pipeline,
            batch,
            at: Instant::now(),
            reply,
        };
        if self.queue.send(job).is_err() {
            return Attempt::Failed("the version's batching queue has stopped".into());
        }
        answer
            .await
            .unwrap_or_else(|_| Attempt::Failed("its batched call was stopped".into()))
    }
}

/// A queue's settings.
struct Queue {
    max_rows: usize,
    wait: Duration,
    slots: usize,
    timeout: Duration,
    runtime: Runtime,
    labels: TargetLabels,
}

impl Queue {
    /// The requests of the next call, oldest first: as many as fit in `max_rows` (at least
    /// one), leaving out requests whose caller stopped waiting.
    fn take(&self, queued: &mut VecDeque<Job>, rows: &mut usize) -> Vec<Job> {
        let mut jobs: Vec<Job> = Vec::new();
        let mut taken = 0;
        while let Some(next) = queued.front() {
            let n = next.rows();
            if !jobs.is_empty() && taken + n > self.max_rows {
                break;
            }
            let Some(job) = queued.pop_front() else {
                break;
            };
            *rows -= n;
            if job.reply.is_closed() {
                continue;
            }
            taken += n;
            jobs.push(job);
        }
        jobs
    }
}

/// Runs a version's queue until its [`Batcher`] is dropped and every queued request is
/// answered.
async fn dispatch(mut rx: mpsc::UnboundedReceiver<Job>, q: Queue) {
    let mut queued: VecDeque<Job> = VecDeque::new();
    let mut rows = 0usize;
    let mut running: JoinSet<()> = JoinSet::new();
    let mut open = true;
    loop {
        while let Some(oldest) = queued.front()
            && running.len() < q.slots
        {
            let due =
                !open || rows >= q.max_rows || running.is_empty() || oldest.at.elapsed() >= q.wait;
            if !due {
                break;
            }
            let jobs = q.take(&mut queued, &mut rows);
            if jobs.is_empty() {
                continue;
            }
            METRICS
                .batch_requests
                .get_or_create(&q.labels)
                .observe(jobs.len() as f64);
            let (runtime, timeout) = (q.runtime.clone(), q.timeout);
            running.spawn(async move {
                let call = runtime.compute().run(call(jobs));
                if tokio::time::timeout(timeout, call).await.is_err() {
                    tracing::debug!("a batched call was stopped at the deployment's timeout");
                }
            });
        }
        let deadline = queued
            .front()
            .filter(|_| running.len() < q.slots)
            .map(|j| j.at + q.wait);
        tokio::select! {
            job = rx.recv(), if open => match job {
                Some(job) => {
                    rows += job.rows();
                    queued.push_back(job);
                }
                None => open = false,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {}
            else => break,
        }
    }
}

/// One call for `jobs`; each gets its own rows of the output, or, when the shared call fails
/// or miscounts, the answer of a call of its own.
async fn call(mut jobs: Vec<Job>) {
    if jobs.len() == 1
        && let Some(job) = jobs.pop()
    {
        let answer = attempt_typed(&job.pipeline, job.batch).await;
        let _ = job.reply.send(answer);
        return;
    }
    let pipeline = jobs[0].pipeline.clone();
    let sizes: Vec<usize> = jobs.iter().map(Job::rows).collect();
    let total: usize = sizes.iter().sum();
    let shared = match concat(
        pipeline.input_schema(),
        jobs.iter().map(|j| j.batch.clone()).collect(),
    ) {
        Ok(b) => pipeline.predict_online(&b).await.ok(),
        Err(_) => None,
    };
    match shared {
        Some(p)
            if p.outputs.num_rows as usize == total && p.features.num_rows as usize == total =>
        {
            let mut start = 0;
            for (job, n) in jobs.into_iter().zip(sizes) {
                let own = Prediction {
                    features: slice_rows(&p.features, start, start + n),
                    outputs: slice_rows(&p.outputs, start, start + n),
                };
                start += n;
                let _ = job.reply.send(Attempt::Answered(own, job.batch));
            }
        }
        _ => {
            let alone = jobs.into_iter().map(|job| async move {
                if job.reply.is_closed() {
                    return;
                }
                let answer = attempt_typed(&job.pipeline, job.batch).await;
                let _ = job.reply.send(answer);
            });
            let mut each = JoinSet::new();
            for a in alone {
                each.spawn(a);
            }
            while each.join_next().await.is_some() {}
        }
    }
}

/// Whether a version of a batched deployment is batched on this server.
pub enum Batching {
    /// Its requests share calls through this queue.
    On(Batcher),
    /// Its requests run alone, for this reason (a plugin neither built in nor vouched for).
    Refused(String),
}

/// What the API shows of a version's batching.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchStatus {
    /// `model@number`.
    pub target: String,
    /// Whether its requests share calls on this server.
    pub batched: bool,
    /// Why not, when they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The batching of a revision's versions, decided on each one's first request.
#[derive(Default)]
pub struct Batchers {
    by_version: Mutex<HashMap<(String, Resolved), Arc<Batching>>>,
}

impl Batchers {
    /// The batching of version `r` of `model`, if it was decided.
    pub fn get(&self, model: &str, r: Resolved) -> Option<Arc<Batching>> {
        self.by_version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(model.to_string(), r))
            .cloned()
    }

    /// Keeps `batching` for version `r` of `model` unless another request decided first;
    /// returns the one kept.
    pub fn decide(&self, model: &str, r: Resolved, batching: Batching) -> Arc<Batching> {
        self.by_version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((model.to_string(), r))
            .or_insert_with(|| Arc::new(batching))
            .clone()
    }

    /// Each decided version's batching, for the API.
    pub fn status(&self) -> Vec<BatchStatus> {
        let mut all: Vec<BatchStatus> = self
            .by_version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|((m, r), b)| BatchStatus {
                target: format!("{m}@{}", r.number),
                batched: matches!(**b, Batching::On(_)),
                reason: match &**b {
                    Batching::Refused(why) => Some(why.clone()),
                    Batching::On(_) => None,
                },
            })
            .collect();
        all.sort_by(|a, b| a.target.cmp(&b.target));
        all
    }
}
