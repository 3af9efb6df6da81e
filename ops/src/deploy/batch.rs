//! Adaptive batching, opted into per deployment: requests that arrive together for one of its
//! versions share one set of fresh instances and one call per step.
//!
//! A version's queue hands its requests to a call as soon as one can start (at most one call
//! per core runs at once) and either the queued rows reach `max_rows`, the oldest request has
//! waited `max_wait_us`, or no other call of the version is running, so a lone request never
//! waits. Each answer is the matching rows of the shared call's output. When the shared call
//! fails in any way (a row a validator rejects, a trap, a deadline), gives back another number
//! of rows or runs past its split budget, each of its requests is scored again alone, so one
//! request's bad or slow row fails only that request, and every answer is the one that request
//! would have had alone.
//!
//! The split budget is ten times what the version's calls usually take, but never
//! less than a tenth of the deployment's timeout nor more than half of it (half before the
//! first call ends). So a call held up by one request's slow row is split early, and the
//! other requests keep most of their timeout to be answered alone.
//!
//! The queue has no task of its own: a request starts a call when one is due (its own timer
//! fires at its wait's end), and a call that ends takes whatever is due next on the same
//! plugin thread.
//!
//! Rows of different requests meet inside one plugin call, so a version is batched only when
//! every plugin it runs is built in or signed by a key the trust policy lists for it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
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
use tokio::sync::oneshot;
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

/// A version's batching queue. It has no task of its own: a request starts a call when one
/// is due, and a call that ends takes the next requests that are due on the same plugin
/// thread, so under load a request is handed across threads only to its call and back.
pub struct Batcher {
    shared: Arc<Shared>,
}

/// The queue's settings and what waits in it.
struct Shared {
    max_rows: usize,
    wait: Duration,
    slots: usize,
    timeout: Duration,
    runtime: Runtime,
    labels: TargetLabels,
    state: Mutex<Waiting>,
    /// The request threads' runtime, whose timers stop the calls: the plugin threads, busy
    /// with plugins that yield only at epoch ticks, turn to their own timers late.
    timers: Option<tokio::runtime::Handle>,
    /// How long the version's calls usually take, in microseconds: a moving average of those
    /// that answered, weighted to the newest; 0 before the first.
    usual_us: AtomicU64,
}

/// How many times longer than usual a shared call may run before it is split.
const SPLIT_AFTER: u32 = 10;

/// The requests waiting, oldest first, their rows, and the calls running.
#[derive(Default)]
struct Waiting {
    queued: VecDeque<Job>,
    rows: usize,
    running: usize,
}

impl Batcher {
    /// The queue of deployment target `labels`; its calls run on `runtime`'s plugin threads
    /// and are stopped after `timeout`.
    pub fn new(
        settings: BatchSettings,
        runtime: &Runtime,
        timeout: Duration,
        labels: TargetLabels,
    ) -> Self {
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            shared: Arc::new(Shared {
                max_rows: settings.max_rows as usize,
                wait: Duration::from_micros(settings.max_wait_us),
                slots,
                timeout,
                runtime: runtime.clone(),
                labels,
                state: Mutex::new(Waiting::default()),
                timers: tokio::runtime::Handle::try_current().ok(),
                usual_us: AtomicU64::new(0),
            }),
        }
    }

    /// Predicts rows already typed against `pipeline`'s input schema, in a call shared with
    /// whatever else is queued. A request waits at most the queue's wait for a call while a
    /// call could start; its own timer starts one when that time is up.
    pub async fn predict(&self, pipeline: Arc<ServingPipeline>, batch: Batch) -> Attempt {
        let (reply, mut answer) = oneshot::channel();
        let at = Instant::now();
        let job = Job {
            pipeline,
            batch,
            at,
            reply,
        };
        if let Err(e) = self.shared.push(job) {
            return Attempt::Failed(e);
        }
        let answered = tokio::select! {
            a = &mut answer => Some(a),
            _ = tokio::time::sleep_until(at + self.shared.wait) => None,
        };
        let answered = match answered {
            Some(a) => a,
            None => {
                if let Err(e) = self.shared.start_due() {
                    return Attempt::Failed(e);
                }
                answer.await
            }
        };
        answered.unwrap_or_else(|_| Attempt::Failed("its batched call was stopped".into()))
    }
}

impl Shared {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `job` and starts the calls that are due.
    fn push(self: &Arc<Self>, job: Job) -> Result<(), String> {
        {
            let mut w = self.waiting();
            w.rows += job.rows();
            w.queued.push_back(job);
        }
        self.start_due()
    }

    /// Starts a call for each slot that is free while the oldest request is due.
    fn start_due(self: &Arc<Self>) -> Result<(), String> {
        loop {
            let jobs = {
                let mut w = self.waiting();
                if w.running >= self.slots || !self.due(&w, w.running) {
                    return Ok(());
                }
                let jobs = self.take(&mut w);
                if jobs.is_empty() {
                    continue;
                }
                w.running += 1;
                jobs
            };
            let shared = self.clone();
            if let Err(e) = self.runtime.compute().spawn(shared.drive(jobs)) {
                self.waiting().running -= 1;
                return Err(format!("cannot start a batched call: {e}"));
            }
        }
    }

    /// Whether the oldest queued request is due, with `others` other calls running: its
    /// call's rows are full, it has waited long enough, or nothing else of the version runs,
    /// so a lone request never waits.
    fn due(&self, w: &Waiting, others: usize) -> bool {
        w.queued.front().is_some_and(|oldest| {
            others == 0 || w.rows >= self.max_rows || oldest.at.elapsed() >= self.wait
        })
    }

    /// The requests of the next call, oldest first: as many as fit in `max_rows` (at least
    /// one), leaving out requests whose caller stopped waiting.
    fn take(&self, w: &mut Waiting) -> Vec<Job> {
        let mut jobs: Vec<Job> = Vec::new();
        let mut taken = 0;
        while let Some(next) = w.queued.front() {
            let n = next.rows();
            if !jobs.is_empty() && taken + n > self.max_rows {
                break;
            }
            let Some(job) = w.queued.pop_front() else {
                break;
            };
            w.rows -= n;
            if job.reply.is_closed() {
                continue;
            }
            taken += n;
            jobs.push(job);
        }
        if !jobs.is_empty() {
            METRICS
                .batch_requests
                .get_or_create(&self.labels)
                .observe(jobs.len() as f64);
        }
        jobs
    }

    /// Runs calls on a plugin thread, `jobs` first, then whatever is due when each ends,
    /// until nothing is; each call is stopped at the deployment's timeout. Between calls it
    /// lets the thread's other work run.
    async fn drive(self: Arc<Self>, mut jobs: Vec<Job>) {
        let _slot = Slot(self.clone());
        loop {
            let (budget, whole) = {
                let _timers = self.timers.as_ref().map(|h| h.enter());
                (
                    tokio::time::sleep(self.budget()),
                    tokio::time::sleep(self.timeout),
                )
            };
            tokio::select! {
                _ = self.call(jobs, budget) => {}
                _ = whole => tracing::debug!("a batched call was stopped at the deployment's timeout"),
            }
            {
                let mut w = self.waiting();
                if !self.due(&w, w.running - 1) {
                    return;
                }
                jobs = self.take(&mut w);
            }
            if jobs.is_empty() {
                return;
            }
            tokio::task::yield_now().await;
        }
    }

    /// How long a shared call may run before it is split: [`SPLIT_AFTER`] times as long as the
    /// version's calls usually take, within a tenth and a half of the timeout.
    fn budget(&self) -> Duration {
        let half = self.timeout / 2;
        match self.usual_us.load(Ordering::Relaxed) {
            0 => half,
            usual => Duration::from_micros(usual)
                .saturating_mul(SPLIT_AFTER)
                .clamp(self.timeout / 10, half),
        }
    }

    /// Counts a call that answered in `took` into what calls usually take.
    fn took(&self, took: Duration) {
        let now = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let usual = self.usual_us.load(Ordering::Relaxed);
        let next = if usual == 0 {
            now
        } else {
            usual - usual / 8 + now / 8
        };
        self.usual_us.store(next.max(1), Ordering::Relaxed);
    }

    /// One call for `jobs`; each gets its own rows of the output, or, when the shared call fails,
    /// miscounts or is still running when `budget` is up, the answer of a call of its own.
    async fn call(&self, mut jobs: Vec<Job>, budget: tokio::time::Sleep) {
        let started = Instant::now();
        if jobs.len() == 1
            && let Some(job) = jobs.pop()
        {
            let answer = attempt_typed(&job.pipeline, job.batch).await;
            if matches!(answer, Attempt::Answered(..)) {
                self.took(started.elapsed());
            }
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
            Ok(b) => tokio::select! {
                p = pipeline.predict_online(&b) => p.ok(),
                _ = budget => None,
            },
            Err(_) => None,
        };
        match shared {
            Some(p)
                if p.outputs.num_rows as usize == total
                    && p.features.num_rows as usize == total =>
            {
                self.took(started.elapsed());
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
}

/// A running call's slot: given back when its driver ends, however it ends (a panic too),
/// and then whatever became due starts.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.waiting().running -= 1;
        let _ = self.0.start_due();
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
