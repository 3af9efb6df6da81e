//! What a deployment serves, as its user writes it, and the checks every revision passes
//! before it is stored. References (a version, an alias, a stage) are resolved when a revision
//! is written and kept with it: a revision always serves the versions it was written with, so
//! a switch between revisions is atomic and a rollback returns to exactly what was served.

use crate::{ModelVersion, Registry, RegistryError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest per-request timeout a deployment may set (ms).
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// The most targets a deployment may split its traffic over.
pub const MAX_TARGETS: usize = 16;

/// The most shadows a deployment may mirror its requests to.
pub const MAX_SHADOWS: usize = 8;

/// The largest default answer (its JSON), which is repeated for every row of a request that
/// nothing else answers.
pub const MAX_DEFAULT_BYTES: usize = 1024;

/// A deployment's specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    /// The versions that answer, with their share of the requests in percent (summing to
    /// 100). The first is the primary; the others are canaries.
    pub targets: Vec<Target>,
    /// Versions every request is mirrored to, off the request path; their answers are
    /// compared with the one given and never returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadows: Vec<ModelRef>,
    /// The version that answers when the chosen target fails, times out or is cut off by its
    /// circuit breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<ModelRef>,
    /// The prediction given for every row when neither the target nor the fallback answers
    /// (a JSON object of at most 1 KiB, e.g. `{"prediction": "no"}`; anything else is refused
    /// with the deployment's other rules, as 422 `invalid_deployment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub default: Option<Value>,
    /// How long a target may take to answer a request (ms) before the fallback answers.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Where a request's key is, so that one key always goes to the same target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
    /// When a target's circuit opens and how it closes again.
    #[serde(default)]
    pub breaker: BreakerSettings,
    /// The share of shadow disagreements written to the shadow log (0 to 1).
    #[serde(default = "one")]
    pub shadow_sample_rate: f64,
    /// A NATS JetStream subject to consume requests from, as well as HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSpec>,
    /// Adaptive batching, off when absent: requests that arrive together for one of its
    /// versions share one set of fresh instances and one call per step, so rows of different
    /// requests meet inside one plugin call. A server batches a version only when every plugin
    /// it runs is built in or signed by a key of the server's trust policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchSettings>,
}

/// The most rows one batched call may take.
pub const MAX_BATCH_ROWS: u32 = 8192;

/// The longest a queued request may wait for others to share its call (µs).
pub const MAX_BATCH_WAIT_US: u64 = 100_000;

/// Adaptive batching: a version's queued requests go into one call when a call can start and
/// either they reach `max_rows`, the oldest has waited `max_wait_us`, or no other call of that
/// version is running (so a lone request never waits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSettings {
    /// The most rows one call takes (2 to 8192). A request with more rows runs alone.
    pub max_rows: u32,
    /// How long the oldest queued request may wait for others while a call could start (µs,
    /// at most 100000 and less than the timeout).
    #[serde(default = "default_batch_wait_us")]
    pub max_wait_us: u64,
}

fn default_batch_wait_us() -> u64 {
    500
}

impl BatchSettings {
    /// Checks the settings against the deployment's timeout.
    pub fn check(&self, timeout_ms: u64) -> Result<(), SpecError> {
        if !(2..=MAX_BATCH_ROWS).contains(&self.max_rows) {
            return Err(SpecError::Invalid(format!(
                "batch.max_rows: {} is not between 2 and {MAX_BATCH_ROWS}",
                self.max_rows
            )));
        }
        if self.max_wait_us > MAX_BATCH_WAIT_US
            || self.max_wait_us >= timeout_ms.saturating_mul(1000)
        {
            return Err(SpecError::Invalid(format!(
                "batch.max_wait_us: {} must be at most {MAX_BATCH_WAIT_US} and below the timeout ({timeout_ms} ms)",
                self.max_wait_us
            )));
        }
        Ok(())
    }
}

/// Streaming: requests (JSON rows) consumed from a JetStream subject by every `ferry serve
/// --nats` sharing one durable consumer, predictions published to another subject, and
/// messages that cannot be predicted dead-lettered with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// The subject requests arrive on, e.g. `churn.requests`.
    pub input: String,
    /// The subject predictions are published to, e.g. `churn.predictions`.
    pub output: String,
    /// The subject messages that cannot be predicted go to, with the reason.
    pub dead_letter: String,
    /// Deliveries of a message whose prediction fails before it is dead-lettered.
    #[serde(default = "default_max_deliver")]
    pub max_deliver: u32,
    /// How long a delivery may go unacknowledged before another consumer gets it (ms).
    #[serde(default = "default_ack_wait_ms")]
    pub ack_wait_ms: u64,
}

fn default_max_deliver() -> u32 {
    5
}

fn default_ack_wait_ms() -> u64 {
    30_000
}

/// Whether `s` is a NATS subject: dot-separated tokens of printable characters without
/// whitespace; with wildcards (`*`, a final `>`) only where `wildcards` allows them.
fn check_subject(field: &str, s: &str, wildcards: bool) -> Result<(), SpecError> {
    let tokens: Vec<&str> = s.split('.').collect();
    let ok = !s.is_empty()
        && s.len() <= 255
        && tokens.iter().enumerate().all(|(i, t)| {
            !t.is_empty()
                && t.chars().all(|c| c.is_ascii_graphic())
                && match *t {
                    "*" => wildcards,
                    ">" => wildcards && i == tokens.len() - 1,
                    t => !t.contains(['*', '>']),
                }
        });
    if ok {
        Ok(())
    } else {
        Err(SpecError::Invalid(format!(
            "stream.{field}: {s:?} is not a NATS subject{}",
            if wildcards { "" } else { " without wildcards" }
        )))
    }
}

impl StreamSpec {
    /// Checks the subjects and settings.
    pub fn check(&self) -> Result<(), SpecError> {
        check_subject("input", &self.input, true)?;
        check_subject("output", &self.output, false)?;
        check_subject("dead_letter", &self.dead_letter, false)?;
        if self.output == self.dead_letter {
            return Err(SpecError::Invalid(format!(
                "stream: output and dead_letter are both {:?}",
                self.output
            )));
        }
        for (field, subject) in [("output", &self.output), ("dead_letter", &self.dead_letter)] {
            if subject_matches(&self.input, subject) {
                return Err(SpecError::Invalid(format!(
                    "stream.{field}: {subject:?} is also matched by the input {:?}, so predictions would come back as requests",
                    self.input
                )));
            }
        }
        if self.max_deliver == 0 || self.max_deliver > 100 {
            return Err(SpecError::Invalid(format!(
                "stream.max_deliver: {} is not between 1 and 100",
                self.max_deliver
            )));
        }
        if !(100..=3_600_000).contains(&self.ack_wait_ms) {
            return Err(SpecError::Invalid(format!(
                "stream.ack_wait_ms: {} is not between 100 and 3600000",
                self.ack_wait_ms
            )));
        }
        Ok(())
    }
}

/// Whether the subject `pattern` (with wildcards) matches `subject`.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// `text`, cut to 80 characters for an error message.
fn clipped(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn default_timeout_ms() -> u64 {
    1000
}

fn one() -> f64 {
    1.0
}

/// A model version a deployment names: as written, and as resolved when the revision was
/// written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// The registered model.
    pub model: String,
    /// A version number, an alias, a stage or `latest`.
    pub version: String,
    /// The version it named when the revision was written (filled in by Ferry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
}

/// A target: a model version and its share of the requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The registered model.
    pub model: String,
    /// A version number, an alias, a stage or `latest`.
    pub version: String,
    /// Its share of the requests, in percent.
    #[serde(default = "hundred")]
    pub weight: u32,
    /// The version it named when the revision was written (filled in by Ferry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
}

fn hundred() -> u32 {
    100
}

/// A resolved version: its number and creation time (which tells it from a version deleted
/// and numbered again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolved {
    /// The version number.
    pub number: i64,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
}

/// Where a request's stickiness key is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Sticky {
    /// An HTTP header, e.g. `x-customer-id`.
    Header(String),
    /// A field of the first row, e.g. `customer_id`.
    Field(String),
}

/// A circuit breaker's settings: it opens after `failures` failures within `window_ms`, stays
/// open for `open_ms`, then lets `probes` requests through; one success closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    /// Failures within the window that open the circuit.
    pub failures: u32,
    /// The window (ms).
    pub window_ms: u64,
    /// How long the circuit stays open before probing (ms).
    pub open_ms: u64,
    /// Requests let through at once while half-open.
    pub probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures: 5,
            window_ms: 10_000,
            open_ms: 5_000,
            probes: 1,
        }
    }
}

impl From<RegistryError> for SpecError {
    fn from(e: RegistryError) -> Self {
        SpecError::Registry(e)
    }
}

/// Why a deployment specification was refused.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The specification is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The registry failed.
    #[error(transparent)]
    Registry(RegistryError),
}

impl Target {
    /// `model@version` as written.
    pub fn label(&self) -> String {
        format!("{}@{}", self.model, self.version)
    }

    /// The resolved version, once the spec has been checked.
    pub fn key(&self) -> Option<(String, Resolved)> {
        self.resolved.map(|r| (self.model.clone(), r))
    }
}

impl ModelRef {
    /// `model@version` as written.
    pub fn label(&self) -> String {
        format!("{}@{}", self.model, self.version)
    }

    /// The resolved version, once the spec has been checked.
    pub fn key(&self) -> Option<(String, Resolved)> {
        self.resolved.map(|r| (self.model.clone(), r))
    }
}

/// Parses `MODEL@REF` (a version number, an alias, a stage or `latest`); `MODEL` alone means
/// `latest`.
pub fn parse_ref(text: &str) -> Result<ModelRef, SpecError> {
    let (model, version) = text.rsplit_once('@').unwrap_or((text, "latest"));
    if model.is_empty() || version.is_empty() {
        return Err(SpecError::Invalid(format!(
            "{text:?}: expected MODEL@VERSION (a number, an alias, a stage or `latest`)"
        )));
    }
    Ok(ModelRef {
        model: model.into(),
        version: version.into(),
        resolved: None,
    })
}

/// Parses `MODEL@REF=WEIGHT` (the weight defaults to 100).
pub fn parse_target(text: &str) -> Result<Target, SpecError> {
    let (reference, weight) = match text.rsplit_once('=') {
        Some((r, w)) => {
            let w = w.trim_end_matches('%').parse::<u32>().map_err(|_| {
                SpecError::Invalid(format!(
                    "{text:?}: the weight after `=` must be a whole percentage"
                ))
            })?;
            (r, w)
        }
        None => (text, 100),
    };
    let r = parse_ref(reference)?;
    Ok(Target {
        model: r.model,
        version: r.version,
        weight,
        resolved: None,
    })
}

async fn resolve(
    registry: &Registry,
    at: &str,
    model: &str,
    version: &str,
) -> Result<Resolved, SpecError> {
    let v: ModelVersion = registry
        .resolve_model_version(model, version)
        .await
        .map_err(|e| match e {
            RegistryError::NotFound(m) => SpecError::Invalid(format!("{at}: {m}")),
            other => SpecError::Registry(other),
        })?;
    if v.lineage.is_none() {
        return Err(SpecError::Invalid(format!(
            "{at}: version {} of model {model:?} has no Ferry lineage to serve from; attach a run's pipeline to it first",
            v.version
        )));
    }
    Ok(Resolved {
        number: v.version,
        created_at: v.created_at,
    })
}

/// Checks that a resolved version still exists as it was (for a rollback to an old revision).
async fn still_there(
    registry: &Registry,
    at: &str,
    model: &str,
    r: Resolved,
) -> Result<(), SpecError> {
    match registry.model_version(model, r.number).await {
        Ok(v) if v.created_at == r.created_at => Ok(()),
        Ok(_) | Err(RegistryError::NotFound(_)) => Err(SpecError::Invalid(format!(
            "{at}: version {} of model {model:?} that this revision served no longer exists",
            r.number
        ))),
        Err(e) => Err(SpecError::Registry(e)),
    }
}

impl DeploymentSpec {
    /// Checks everything but the references.
    fn check_shape(&self) -> Result<(), SpecError> {
        let bad = |m: String| Err(SpecError::Invalid(m));
        if self.targets.is_empty() {
            return bad("targets: a deployment needs at least one target".into());
        }
        if self.targets.len() > MAX_TARGETS {
            return bad(format!(
                "targets: {} targets, more than the {MAX_TARGETS} a deployment may have",
                self.targets.len()
            ));
        }
        if self.shadows.len() > MAX_SHADOWS {
            return bad(format!(
                "shadows: {} shadows, more than the {MAX_SHADOWS} a deployment may have",
                self.shadows.len()
            ));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if t.weight == 0 || t.weight > 100 {
                return bad(format!(
                    "targets[{i}] ({}): weight {} is not between 1 and 100",
                    t.label(),
                    t.weight
                ));
            }
        }
        let total: u32 = self.targets.iter().map(|t| t.weight).sum();
        if total != 100 {
            let weights: Vec<String> = self
                .targets
                .iter()
                .map(|t| format!("{}={}", t.label(), t.weight))
                .collect();
            return bad(format!(
                "targets: the weights must sum to 100, not {total} ({})",
                weights.join(", ")
            ));
        }
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return bad(format!(
                "timeout_ms: {} is not between 1 and {MAX_TIMEOUT_MS}",
                self.timeout_ms
            ));
        }
        let b = &self.breaker;
        if b.failures == 0 || b.window_ms == 0 || b.open_ms == 0 || b.probes == 0 {
            return bad(format!(
                "breaker: failures, window_ms, open_ms and probes must each be at least 1 (got {}, {}, {}, {})",
                b.failures, b.window_ms, b.open_ms, b.probes
            ));
        }
        if !(0.0..=1.0).contains(&self.shadow_sample_rate) {
            return bad(format!(
                "shadow_sample_rate: {} is not between 0 and 1",
                self.shadow_sample_rate
            ));
        }
        if let Some(d) = &self.default {
            if !d.is_object() {
                return bad(format!(
                    "default: expected a JSON object (one row's prediction), not {}",
                    clipped(&d.to_string())
                ));
            }
            let size = d.to_string().len();
            if size > MAX_DEFAULT_BYTES {
                return bad(format!(
                    "default: {size} bytes of JSON, more than the {MAX_DEFAULT_BYTES} allowed (it is repeated for every row of a request nothing else answers)"
                ));
            }
        }
        if let Some(stream) = &self.stream {
            stream.check()?;
        }
        if let Some(batch) = &self.batch {
            batch.check(self.timeout_ms)?;
        }
        match &self.sticky {
            Some(Sticky::Header(h)) if http::HeaderName::try_from(h.as_str()).is_err() => {
                return bad(format!("sticky.header: {h:?} is not an HTTP header name"));
            }
            Some(Sticky::Field(f)) if f.is_empty() => {
                return bad("sticky.field: empty field name".into());
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks the specification and resolves every reference in it, refusing unknown
    /// versions, versions with nothing to serve, the same version twice among the targets, a
    /// shadow or a fallback that is one of the targets, and settings out of range.
    pub async fn resolve(mut self, registry: &Registry) -> Result<Self, SpecError> {
        self.check_shape()?;
        for (i, t) in self.targets.iter_mut().enumerate() {
            let at = format!("targets[{i}] ({})", t.label());
            t.resolved = Some(resolve(registry, &at, &t.model, &t.version).await?);
        }
        for (i, s) in self.shadows.iter_mut().enumerate() {
            let at = format!("shadows[{i}] ({})", s.label());
            s.resolved = Some(resolve(registry, &at, &s.model, &s.version).await?);
        }
        if let Some(f) = &mut self.fallback {
            let at = format!("fallback ({})", f.label());
            f.resolved = Some(resolve(registry, &at, &f.model, &f.version).await?);
        }
        self.check_distinct()?;
        Ok(self)
    }

    /// Checks that every resolved version of an earlier revision still exists.
    pub async fn recheck(&self, registry: &Registry) -> Result<(), SpecError> {
        self.check_shape()?;
        let named = self
            .targets
            .iter()
            .map(|t| (t.label(), t.key()))
            .chain(self.shadows.iter().map(|s| (s.label(), s.key())))
            .chain(self.fallback.iter().map(|f| (f.label(), f.key())));
        for (label, key) in named {
            let Some((model, r)) = key else {
                return Err(SpecError::Invalid(format!("{label}: never resolved")));
            };
            still_there(registry, &label, &model, r).await?;
        }
        self.check_distinct()
    }

    fn check_distinct(&self) -> Result<(), SpecError> {
        let targets: Vec<_> = self.targets.iter().map(|t| (t.label(), t.key())).collect();
        for (i, (label, key)) in targets.iter().enumerate() {
            if let Some((j, (other, _))) =
                targets[..i].iter().enumerate().find(|(_, (_, k))| k == key)
            {
                return Err(SpecError::Invalid(format!(
                    "targets[{i}] ({label}) is the same version as targets[{j}] ({other}); give it one target with their summed weight"
                )));
            }
        }
        let is_target = |key: &Option<(String, Resolved)>| {
            targets
                .iter()
                .find(|(_, k)| k == key)
                .map(|(l, _)| l.clone())
        };
        for (i, s) in self.shadows.iter().enumerate() {
            if let Some(t) = is_target(&s.key()) {
                return Err(SpecError::Invalid(format!(
                    "shadows[{i}] ({}) is the same version as the target {t}: a shadow must be another version",
                    s.label()
                )));
            }
        }
        if let Some(f) = &self.fallback
            && let Some(t) = is_target(&f.key())
        {
            return Err(SpecError::Invalid(format!(
                "fallback ({}) is the same version as the target {t}: it would fail with it",
                f.label()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(input: &str, output: &str, dead_letter: &str) -> StreamSpec {
        StreamSpec {
            input: input.into(),
            output: output.into(),
            dead_letter: dead_letter.into(),
            max_deliver: 5,
            ack_wait_ms: 30_000,
        }
    }

    #[test]
    fn subjects_match_as_nats_matches_them() {
        assert!(subject_matches("a.b", "a.b"));
        assert!(subject_matches("a.*", "a.b"));
        assert!(subject_matches("a.>", "a.b.c"));
        assert!(!subject_matches("a.*", "a.b.c"));
        assert!(!subject_matches("a.b", "a.b.c"));
        assert!(!subject_matches("a.>", "a"));
    }

    #[test]
    fn stream_settings_are_checked_by_name() {
        stream("churn.requests", "churn.predictions", "churn.dead")
            .check()
            .unwrap();
        stream("churn.requests.*", "churn.predictions", "churn.dead")
            .check()
            .unwrap();
        for (s, expected) in [
            (stream("", "o", "d"), "stream.input"),
            (stream("a b", "o", "d"), "stream.input"),
            (stream("a..b", "o", "d"), "stream.input"),
            (stream("a.>.b", "o", "d"), "stream.input"),
            (stream("i", "o.*", "d"), "stream.output"),
            (stream("i", "o", "d.>"), "stream.dead_letter"),
            (stream("i", "o", "o"), "both"),
            (
                stream("churn.>", "churn.predictions", "dead"),
                "would come back",
            ),
            (stream("*", "o", "d"), "would come back"),
        ] {
            let e = s.check().unwrap_err().to_string();
            assert!(e.contains(expected), "{s:?}: {e}");
        }
        let mut s = stream("i", "o", "d");
        s.max_deliver = 0;
        assert!(s.check().unwrap_err().to_string().contains("max_deliver"));
        s.max_deliver = 5;
        s.ack_wait_ms = 10;
        assert!(s.check().unwrap_err().to_string().contains("ack_wait_ms"));
    }
}
