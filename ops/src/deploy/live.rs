//! Deployments as a server holds them: each revision parsed once, with the circuit breakers of
//! its targets and the counters of its shadows. Breakers and counters belong to a deployment's
//! version, not to a revision, so a change that keeps a target keeps its breaker's state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use ferry_registry::{Deployment, Registry};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::batch::Batchers;
use super::breaker::{Breaker, BreakerStatus};
use ferry_registry::deployment_spec::{DeploymentSpec, Resolved, SpecError};

/// Shadow requests in flight per deployment; more are skipped (and counted), so mirroring
/// never piles up work behind a slow shadow.
pub const SHADOW_SLOTS: usize = 64;

/// Why a version answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The first target.
    Primary,
    /// Another target, by its weight.
    Canary,
    /// The fallback, because the chosen target failed, timed out or its circuit was open.
    Fallback,
    /// The configured default, because nothing else could answer.
    Default,
}

/// A shadow's counters.
#[derive(Debug, Default)]
pub struct ShadowCounters {
    /// Requests mirrored to it.
    pub mirrored: AtomicU64,
    /// Answers equal to the one given.
    pub agreed: AtomicU64,
    /// Answers that differed.
    pub disagreed: AtomicU64,
    /// Requests it failed on.
    pub failed: AtomicU64,
    /// Requests not mirrored because too many were in flight.
    pub skipped: AtomicU64,
}

/// What a shadow's counters show in the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShadowStatus {
    /// `model@number`.
    pub shadow: String,
    /// Requests mirrored to it.
    pub mirrored: u64,
    /// Answers equal to the one given.
    pub agreed: u64,
    /// Answers that differed.
    pub disagreed: u64,
    /// Requests it failed on.
    pub failed: u64,
    /// Requests not mirrored because too many were in flight.
    pub skipped: u64,
}

/// What a target's breaker shows in the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetStatus {
    /// `model@number`.
    pub target: String,
    /// Its circuit breaker.
    pub breaker: BreakerStatus,
}

/// One revision of a deployment, ready to route requests.
pub struct Live {
    /// The deployment.
    pub name: String,
    /// Which deployment of that name (see [`Deployment::incarnation`]).
    pub incarnation: i64,
    /// The revision.
    pub revision: i64,
    /// Its specification, resolved.
    pub spec: DeploymentSpec,
    /// Each target's resolved version, with its breaker (in the order of the targets).
    pub targets: Vec<(String, Resolved, Arc<Breaker>)>,
    /// Each shadow's resolved version, with its counters.
    pub shadows: Vec<(String, Resolved, Arc<ShadowCounters>)>,
    /// Slots for mirrored requests.
    pub shadow_slots: Arc<tokio::sync::Semaphore>,
    /// With batching on, each answering version's batching, decided on its first request.
    pub batchers: Batchers,
    cumulative: Vec<u32>,
}

/// `model@number`.
pub fn label(model: &str, r: Resolved) -> String {
    format!("{model}@{}", r.number)
}

impl Live {
    /// The target for a request: by its key when there is one (the same key always gets the
    /// same target for a given set of weights), at random otherwise.
    pub fn choose(&self, key: Option<&str>) -> (usize, Reason) {
        let bucket = match key {
            Some(k) => {
                let digest = Sha256::digest([self.name.as_bytes(), b"\0", k.as_bytes()].concat());
                let mut first = [0u8; 8];
                first.copy_from_slice(&digest[..8]);
                u64::from_le_bytes(first)
            }
            None => getrandom::u64().unwrap_or_default(),
        } % 100;
        let i = self
            .cumulative
            .iter()
            .position(|c| bucket < u64::from(*c))
            .unwrap_or(0);
        (
            i,
            if i == 0 {
                Reason::Primary
            } else {
                Reason::Canary
            },
        )
    }

    /// The breakers of its targets.
    pub fn target_status(&self) -> Vec<TargetStatus> {
        self.targets
            .iter()
            .map(|(m, r, b)| TargetStatus {
                target: label(m, *r),
                breaker: b.status(),
            })
            .collect()
    }

    /// The counters of its shadows.
    pub fn shadow_status(&self) -> Vec<ShadowStatus> {
        self.shadows
            .iter()
            .map(|(m, r, c)| ShadowStatus {
                shadow: label(m, *r),
                mirrored: c.mirrored.load(Ordering::Relaxed),
                agreed: c.agreed.load(Ordering::Relaxed),
                disagreed: c.disagreed.load(Ordering::Relaxed),
                failed: c.failed.load(Ordering::Relaxed),
                skipped: c.skipped.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// How long a probe of a half-open circuit may take before it counts as failed: the
/// deployment's timeout, plus the time the circuit stays open (a probe may also wait for its
/// version to load, which the timeout does not count).
fn probe_deadline(spec: &DeploymentSpec) -> std::time::Duration {
    std::time::Duration::from_millis(spec.timeout_ms.saturating_add(spec.breaker.open_ms))
}

/// A deployment's version: the deployment's name and incarnation, the model and the version.
type VersionKey = (String, i64, String, Resolved);

/// The deployments a server has seen, by name.
#[derive(Default)]
pub struct Deployments {
    live: RwLock<HashMap<String, Arc<Live>>>,
    current: RwLock<HashMap<String, (i64, Arc<Live>)>>,
    breakers: Mutex<HashMap<VersionKey, Arc<Breaker>>>,
    shadows: Mutex<HashMap<VersionKey, Arc<ShadowCounters>>>,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl Deployments {
    /// Deployment `name` as served now, from memory while the registry's generation has not
    /// moved (it moves with every change to a deployment, a version or an alias, at once on
    /// this server and within the polling interval on the others).
    pub async fn current(&self, registry: &Registry, name: &str) -> Result<Arc<Live>, SpecError> {
        let generation = registry.generation();
        if generation >= 0
            && let Some((g, live)) = self.current.read().ok().and_then(|m| m.get(name).cloned())
            && g == generation
        {
            return Ok(live);
        }
        let d = registry.deployment(name).await?;
        let live = self.get(&d)?;
        if let Ok(mut m) = self.current.write() {
            m.insert(name.to_string(), (generation, live.clone()));
        }
        Ok(live)
    }

    /// The revision `d` names, parsed once and kept until another revision is served. A
    /// revision is known by the deployment's incarnation as well as its number, since a
    /// deployment deleted and created again counts from 1 again.
    pub fn get(&self, d: &Deployment) -> Result<Arc<Live>, SpecError> {
        if let Some(l) = self
            .live
            .read()
            .ok()
            .and_then(|m| m.get(&d.name).cloned())
            .filter(|l| l.revision == d.revision && l.incarnation == d.incarnation)
        {
            return Ok(l);
        }
        self.drop_other_incarnations(d);
        let spec: DeploymentSpec = serde_json::from_str(&d.spec).map_err(|e| {
            SpecError::Invalid(format!(
                "revision {} of deployment {:?} is not a deployment specification: {e}",
                d.revision, d.name
            ))
        })?;
        let unresolved = |what: String| {
            SpecError::Invalid(format!(
                "revision {} of deployment {:?}: {what} was never resolved",
                d.revision, d.name
            ))
        };
        let mut targets = Vec::new();
        let mut cumulative = Vec::new();
        let mut sum = 0;
        for t in &spec.targets {
            let (model, r) = t.key().ok_or_else(|| unresolved(t.label()))?;
            let breaker = {
                let mut all = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
                let key = (d.name.clone(), d.incarnation, model.clone(), r);
                let wanted = (spec.breaker, probe_deadline(&spec));
                let b = all
                    .entry(key)
                    .or_insert_with(|| Arc::new(Breaker::new(wanted.0, wanted.1)));
                if b.settings() != wanted {
                    *b = Arc::new(Breaker::new(wanted.0, wanted.1));
                }
                b.clone()
            };
            sum += t.weight;
            cumulative.push(sum);
            targets.push((model, r, breaker));
        }
        let mut shadows = Vec::new();
        for s in &spec.shadows {
            let (model, r) = s.key().ok_or_else(|| unresolved(s.label()))?;
            let counters = self
                .shadows
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry((d.name.clone(), d.incarnation, model.clone(), r))
                .or_default()
                .clone();
            shadows.push((model, r, counters));
        }
        let shadow_slots = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(d.name.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(SHADOW_SLOTS)))
            .clone();
        let live = Arc::new(Live {
            name: d.name.clone(),
            incarnation: d.incarnation,
            revision: d.revision,
            spec,
            targets,
            shadows,
            shadow_slots,
            batchers: Batchers::default(),
            cumulative,
        });
        if let Ok(mut m) = self.live.write() {
            m.insert(d.name.clone(), live.clone());
        }
        Ok(live)
    }

    /// Every breaker: the deployment, `model@number` and the breaker, for metrics.
    pub fn breakers(&self) -> Vec<(String, String, Arc<Breaker>)> {
        self.breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|((d, _, m, r), b)| (d.clone(), label(m, *r), b.clone()))
            .collect()
    }

    /// Forgets what an earlier deployment of `d`'s name left: breakers, counters and shadow
    /// slots of another incarnation.
    fn drop_other_incarnations(&self, d: &Deployment) {
        let other = |k: &VersionKey| k.0 == d.name && k.1 != d.incarnation;
        self.breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| !other(k));
        self.shadows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| !other(k));
        let stale = self
            .live
            .read()
            .ok()
            .and_then(|m| m.get(&d.name).map(|l| l.incarnation != d.incarnation))
            .unwrap_or(false);
        if stale {
            self.slots
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&d.name);
        }
    }

    /// Forgets deployment `name` (it was deleted): its revisions, breakers and counters.
    pub fn forget(&self, name: &str) {
        if let Ok(mut m) = self.live.write() {
            m.remove(name);
        }
        if let Ok(mut m) = self.current.write() {
            m.remove(name);
        }
        self.breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| k.0 != name);
        self.shadows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| k.0 != name);
    }
}
