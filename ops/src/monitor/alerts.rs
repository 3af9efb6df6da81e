//! Alert rules and their evaluation: each rule watches one measure of a model version or a
//! deployment over a window, fires an alert through alert-sink plugins when it crosses its
//! threshold, stays quiet while it keeps firing (deduplicated), notifies again when the
//! condition clears (resolved), and waits out a cooldown before firing anew. Every alert is
//! stored with its pending notification, retried with back-off until delivered, never lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_registry::{AlertRecord, Registry, now_ms};
use serde::{Deserialize, Serialize};

use super::live::{live_metrics, task_of};
use super::predlog::OUTPUT_PREFIX;
use super::recent;
use ferry_core::data::{concat, record_batch_to_batch, schema_of, select};
use ferry_core::lineage::Lineage;
use ferry_core::stats::drift::{DriftOptions, compare};
use ferry_core::stats::profile::{ColumnProfile, Profile, Role};
use ferry_runtime::bindings::types::{Alert, Batch, Severity};
use ferry_runtime::{AlertSinkInstance, LoadOptions, Runtime};

/// The longest back-off between delivery attempts.
const MAX_BACKOFF_MS: i64 = 300_000;

/// The rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// The sinks rules deliver to, by name.
    #[serde(default)]
    pub sinks: Vec<Sink>,
    /// The folder of the rules file (retrain paths are relative to it).
    #[serde(skip)]
    pub base: std::path::PathBuf,
}

/// What a rule retrains when it fires.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retrain {
    /// The pipeline file to train (relative to the rules file).
    pub pipeline: std::path::PathBuf,
    /// Fresh data to train on instead of the pipeline's `data.path` (relative to the rules
    /// file).
    #[serde(default)]
    pub data: Option<std::path::PathBuf>,
    /// The deployment the challenger joins.
    #[serde(default)]
    pub deployment: Option<String>,
    /// `shadow` (mirrored requests, never answering), `canary` (a share of the requests) or
    /// `none` (only registered).
    #[serde(default = "default_start")]
    pub start: String,
    /// The canary's share of the requests, in percent.
    #[serde(default = "default_canary")]
    pub canary_weight: u32,
}

fn default_start() -> String {
    "shadow".into()
}
fn default_canary() -> u32 {
    10
}

/// An alert-sink plugin with its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sink {
    /// The name rules use.
    pub name: String,
    /// A built-in alert sink (`webhook`, `file`, `slack`) or a `.wasm` file.
    pub plugin: String,
    /// Its configuration.
    #[serde(default)]
    pub config: toml::Table,
    /// The deadline per delivery in milliseconds (default: the plugin's manifest).
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    /// The memory cap per instance in MiB (default: the plugin's manifest).
    #[serde(default)]
    pub memory_mib: Option<u32>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Its name (unique).
    pub name: String,
    /// The model version watched (NAME@VERSION or NAME@ALIAS), for drift and live metrics,
    /// and for the model endpoint's latency and errors.
    #[serde(default)]
    pub model: Option<String>,
    /// The deployment watched, for latency, errors and circuits.
    #[serde(default)]
    pub deployment: Option<String>,
    /// The condition, `MEASURE OP VALUE`, e.g. `drift_share >= 0.5`, `roc_auc < 0.7`,
    /// `accuracy_drop > 0.05`, `p99_latency_ms > 250`, `error_rate > 0.01`,
    /// `circuit_open >= 1`, `plugin_failures >= 3`, `drifted:monthly_charges >= 1`.
    pub when: String,
    /// The window the measure is taken over (seconds).
    #[serde(default = "default_window")]
    pub window_seconds: u64,
    /// How often the rule is evaluated (seconds).
    #[serde(default = "default_every")]
    pub every_seconds: u64,
    /// After a resolution, how long before the rule may fire again (seconds).
    #[serde(default = "default_cooldown")]
    pub cooldown_seconds: u64,
    /// `info`, `warning` or `critical`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// The sinks to notify, by name.
    pub sinks: Vec<String>,
    /// A retraining to start when the rule fires: the pipeline on fresh data, gated, its
    /// version registered as a challenger and optionally started beside a deployment.
    #[serde(default)]
    pub retrain: Option<Retrain>,
}

fn default_window() -> u64 {
    3600
}
fn default_every() -> u64 {
    30
}
fn default_cooldown() -> u64 {
    600
}
fn default_severity() -> String {
    "warning".into()
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The measure.
    pub measure: String,
    /// `>`, `>=`, `<` or `<=`.
    pub op: String,
    /// The threshold.
    pub value: f64,
}

impl Condition {
    /// Parses `MEASURE OP VALUE`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [measure, op, value] = parts.as_slice() else {
            return Err(format!(
                "{text:?}: expected MEASURE OP VALUE, like `drift_share >= 0.5`"
            ));
        };
        if !matches!(*op, ">" | ">=" | "<" | "<=") {
            return Err(format!(
                "{text:?}: the operator must be >, >=, < or <=, not {op:?}"
            ));
        }
        let value: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("{text:?}: {value:?} is not a number"))?;
        let known = matches!(
            *measure,
            "drift_share" | "p99_latency_ms" | "error_rate" | "circuit_open" | "plugin_failures"
        ) || measure.starts_with("drifted:")
            || is_live(measure)
            || measure.strip_suffix("_drop").is_some_and(is_live);
        if !known {
            return Err(format!(
                "{text:?}: unknown measure {measure:?}; the measures are drift_share, drifted:COLUMN, {}, each of those with _drop, p99_latency_ms, error_rate, circuit_open and plugin_failures",
                live_names().join(", ")
            ));
        }
        Ok(Self {
            measure: measure.to_string(),
            op: op.to_string(),
            value,
        })
    }

    /// Whether `v` meets the condition.
    pub fn holds(&self, v: f64) -> bool {
        match self.op.as_str() {
            ">" => v > self.value,
            ">=" => v >= self.value,
            "<" => v < self.value,
            _ => v <= self.value,
        }
    }
}

/// The live metrics a rule may watch: every metric the evaluator computes for some task.
fn live_names() -> Vec<&'static str> {
    use ferry_runtime::bindings::types::Task;
    let mut names: Vec<&'static str> = [
        Task::BinaryClassification,
        Task::MulticlassClassification,
        Task::Regression,
    ]
    .into_iter()
    .flat_map(|t| ferry_core::metrics::metric_names(t).iter().copied())
    .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn is_live(measure: &str) -> bool {
    live_names().contains(&measure)
}

impl RulesFile {
    /// Reads and checks a rules file: every condition, severity, sink and target.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut rules: RulesFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        rules.base = path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        rules
            .check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(rules)
    }

    /// Checks the rules.
    pub fn check(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}] ({})", r.name);
            if !names.insert(r.name.as_str()) {
                return Err(format!("{at}: another rule has this name"));
            }
            self.check_rule(r).map_err(|e| format!("{at}{e}"))?;
        }
        Ok(())
    }

    /// Checks one rule against these sinks; the error starts with the field (`.when: ...`).
    pub fn check_rule(&self, r: &Rule) -> Result<(), String> {
        ferry_registry::check_model_name(&r.name).map_err(|e| format!(".name: {e}"))?;
        let c = Condition::parse(&r.when).map_err(|e| format!(".when: {e}"))?;
        severity(&r.severity).map_err(|e| format!(".severity: {e}"))?;
        let needs_model = c.measure == "drift_share"
            || c.measure.starts_with("drifted:")
            || is_live(c.measure.strip_suffix("_drop").unwrap_or(&c.measure));
        if needs_model && r.model.is_none() {
            return Err(format!(": {} needs `model = \"NAME@VERSION\"`", c.measure));
        }
        if c.measure == "circuit_open" && r.deployment.is_none() {
            return Err(": circuit_open needs `deployment`".into());
        }
        if r.model.is_none() && r.deployment.is_none() && c.measure != "plugin_failures" {
            return Err(": give `model` or `deployment`".into());
        }
        if r.every_seconds == 0 || r.window_seconds == 0 {
            return Err(": every_seconds and window_seconds must be at least 1".into());
        }
        if let Some(t) = &r.retrain {
            ferry_pipeline::PipelineSpec::read(&self.base.join(&t.pipeline))
                .map_err(|e| format!(".retrain.pipeline: {e}"))?;
            if let Some(d) = &t.data
                && !self.base.join(d).is_file()
            {
                return Err(format!(
                    ".retrain.data: {} is not a file",
                    self.base.join(d).display()
                ));
            }
            match (t.start.as_str(), &t.deployment) {
                ("none", _) | ("shadow" | "canary", Some(_)) => {}
                ("shadow" | "canary", None) => {
                    return Err(format!(
                        ".retrain: start = {:?} needs `deployment`",
                        t.start
                    ));
                }
                (other, _) => {
                    return Err(format!(
                        ".retrain.start: {other:?}; expected shadow, canary or none"
                    ));
                }
            }
            if !(1..=99).contains(&t.canary_weight) {
                return Err(format!(
                    ".retrain.canary_weight: {} is not from 1 to 99",
                    t.canary_weight
                ));
            }
        }
        if r.sinks.is_empty() {
            return Err(": `sinks` is empty; name at least one [[sinks]] entry".into());
        }
        for s in &r.sinks {
            if !self.sinks.iter().any(|k| &k.name == s) {
                return Err(format!(
                    ".sinks: unknown sink {s:?}; the sinks are {}",
                    self.sinks
                        .iter()
                        .map(|k| format!("{:?}", k.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The rules of the file and the valid rules stored through the API (a file rule wins a
    /// name both have).
    pub async fn all(&self, registry: &Registry) -> Vec<Rule> {
        let mut rules = self.rules.clone();
        match registry.alert_rules().await {
            Ok(stored) => {
                for s in stored {
                    if rules.iter().any(|r| r.name == s.name) {
                        continue;
                    }
                    match serde_json::from_str::<Rule>(&s.spec) {
                        Ok(r) if self.check_rule(&r).is_ok() => rules.push(r),
                        _ => {
                            tracing::warn!(rule = %s.name, "a stored alert rule no longer checks; skipped")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the stored alert rules"),
        }
        rules
    }
}

fn severity(s: &str) -> Result<Severity, String> {
    match s {
        "info" => Ok(Severity::Info),
        "warning" => Ok(Severity::Warning),
        "critical" => Ok(Severity::Critical),
        other => Err(format!("{other:?}: expected info, warning or critical")),
    }
}

/// Evaluates rules and delivers their alerts until the process ends.
pub struct Alerting {
    registry: Registry,
    runtime: Runtime,
    rules: RulesFile,
    sink_options: LoadOptions,
    deployments: Arc<crate::deploy::Deployments>,
    failures_seen: std::sync::Mutex<std::collections::VecDeque<(i64, u64)>>,
}

impl Alerting {
    /// Prepares the rules; sinks are loaded with `sink_options` (the operator's grants).
    pub fn new(
        registry: Registry,
        runtime: Runtime,
        rules: RulesFile,
        sink_options: LoadOptions,
        deployments: Arc<crate::deploy::Deployments>,
    ) -> Self {
        Self {
            registry,
            runtime,
            rules,
            sink_options,
            deployments,
            failures_seen: Default::default(),
        }
    }

    /// Runs forever: every second, the rules that are due, then the deliveries that are due.
    pub async fn run(self: Arc<Self>) {
        let mut due: BTreeMap<String, i64> = BTreeMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = now_ms();
            if let Ok(mut seen) = self.failures_seen.lock() {
                seen.push_back((
                    now,
                    crate::monitor::metrics::METRICS.runtime.misbehaviour.get(),
                ));
                while seen.len() > 4000 {
                    seen.pop_front();
                }
            }
            let rules = self.rules.all(&self.registry).await;
            for rule in &rules {
                if due.get(&rule.name).is_some_and(|&t| t > now) {
                    continue;
                }
                due.insert(rule.name.clone(), now + (rule.every_seconds as i64) * 1000);
                if let Err(e) = self.evaluate(rule).await {
                    tracing::warn!(rule = %rule.name, error = %e, "alert rule could not be evaluated");
                }
            }
            if let Err(e) = self.deliver_pending(&rules).await {
                tracing::warn!(error = %e, "alerts could not be delivered");
            }
        }
    }

    /// Evaluates one rule now.
    pub async fn evaluate(&self, rule: &Rule) -> Result<(), String> {
        let condition = Condition::parse(&rule.when)?;
        let Some((value, detail)) = self.measure(rule, &condition).await? else {
            return Ok(());
        };
        let now = now_ms();
        let latest = self
            .registry
            .latest_alert(&rule.name)
            .await
            .map_err(|e| e.to_string())?;
        let firing = latest.as_ref().filter(|a| a.state == "firing");
        match (condition.holds(value), firing) {
            (true, None) => {
                let cooling = latest.as_ref().is_some_and(|a| {
                    a.resolved_at > 0 && now - a.resolved_at < (rule.cooldown_seconds as i64) * 1000
                });
                if cooling {
                    return Ok(());
                }
                let record = AlertRecord {
                    id: ferry_core::ids::request_id(),
                    rule: rule.name.clone(),
                    state: "firing".into(),
                    severity: rule.severity.clone(),
                    title: format!("{}: {} is {value:.4}", rule.name, condition.measure),
                    text: format!(
                        "{} ({}) over the last {} s. {detail}",
                        rule.when,
                        target(rule),
                        rule.window_seconds
                    ),
                    value,
                    fired_at: now,
                    resolved_at: 0,
                    notified_at: 0,
                    pending: "firing".into(),
                    attempts: 0,
                    next_attempt_at: now,
                    last_error: String::new(),
                    updated_at: now,
                    delivered: Vec::new(),
                };
                self.registry
                    .put_alert(&record)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::warn!(rule = %rule.name, value, "alert fired");
                if let Some(t) = &rule.retrain {
                    tokio::spawn(retrain(
                        self.registry.clone(),
                        self.runtime.clone(),
                        t.clone(),
                        self.rules.base.clone(),
                        record.id.clone(),
                    ));
                }
            }
            (true, Some(open)) => {
                let mut a = open.clone();
                a.value = value;
                a.updated_at = now;
                self.registry
                    .put_alert(&a)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            (false, Some(open)) => {
                let mut a = open.clone();
                a.state = "resolved".into();
                a.resolved_at = now;
                a.value = value;
                a.pending = "resolved".into();
                a.delivered.clear();
                a.attempts = 0;
                a.next_attempt_at = now;
                a.updated_at = now;
                self.registry
                    .put_alert(&a)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(rule = %rule.name, value, "alert resolved");
            }
            (false, None) => {}
        }
        Ok(())
    }

    /// The rule's measure now, with a sentence about it; `None` when there is nothing to
    /// measure yet (no request, no logged prediction, no label).
    async fn measure(&self, rule: &Rule, c: &Condition) -> Result<Option<(f64, String)>, String> {
        let since = now_ms() - (rule.window_seconds as i64) * 1000;
        let m = c.measure.as_str();
        match m {
            "p99_latency_ms" | "error_rate" => {
                let key = match (&rule.deployment, &rule.model) {
                    (Some(d), _) => recent::deployment_key(d),
                    (None, Some(model)) => {
                        recent::model_key(model.split('@').next().unwrap_or(model))
                    }
                    _ => return Ok(None),
                };
                Ok(Some(match recent::window(&key, since) {
                    Some((errors, p99, n)) => (
                        if m == "error_rate" { errors } else { p99 },
                        format!("{n} requests: error rate {errors:.4}, p99 {p99:.1} ms."),
                    ),
                    None => (0.0, "no requests.".into()),
                }))
            }
            "circuit_open" => {
                let Some(d) = &rule.deployment else {
                    return Ok(None);
                };
                let open = self
                    .deployments
                    .breakers()
                    .into_iter()
                    .filter(|(name, _, b)| name == d && b.status().state == "open")
                    .map(|(_, t, _)| t)
                    .collect::<Vec<_>>();
                Ok(Some((
                    open.len() as f64,
                    format!(
                        "open circuits: {}.",
                        if open.is_empty() {
                            "none".into()
                        } else {
                            open.join(", ")
                        }
                    ),
                )))
            }
            "plugin_failures" => {
                let seen = self.failures_seen.lock().map_err(|e| e.to_string())?;
                let now = crate::monitor::metrics::METRICS.runtime.misbehaviour.get();
                let before = seen
                    .iter()
                    .find(|(t, _)| *t >= since)
                    .map(|(_, v)| *v)
                    .unwrap_or(now);
                let n = now.saturating_sub(before) as f64;
                Ok(Some((
                    n,
                    format!("{n} plugin calls stopped (deadline, memory cap or trap)."),
                )))
            }
            _ => self.model_measure(rule, c, since).await,
        }
    }

    async fn model_measure(
        &self,
        rule: &Rule,
        c: &Condition,
        since: i64,
    ) -> Result<Option<(f64, String)>, String> {
        let Some(model) = &rule.model else {
            return Ok(None);
        };
        let (name, reference) = model.split_once('@').unwrap_or((model, "latest"));
        let v = self
            .registry
            .resolve_model_version(name, reference)
            .await
            .map_err(|e| e.to_string())?;
        let lineage = v
            .lineage
            .as_deref()
            .map(Lineage::parse)
            .transpose()?
            .ok_or_else(|| format!("{name} version {} has no Ferry lineage", v.version))?;
        let m = c.measure.as_str();
        if m == "drift_share" || m.starts_with("drifted:") {
            let digest = lineage
                .reference_profile
                .as_deref()
                .ok_or_else(|| format!("{name} version {} has no reference profile", v.version))?;
            let bytes = self
                .registry
                .blobs()
                .get(digest)
                .await
                .map_err(|e| e.to_string())?;
            let profile = Profile::parse(&bytes)?;
            let Some(current) =
                logged_inputs(&self.registry, name, v.version, since, &lineage).await?
            else {
                return Ok(None);
            };
            let inputs: Vec<&ColumnProfile> = profile.of_role(Role::Input).collect();
            let report = compare(
                &format!("{name}@{}", v.version),
                &[(&inputs, ferry_core::stats::drift::Current::Batch(&current))],
                &DriftOptions::default(),
            )
            .map_err(|e| e.to_string())?;
            if let Some(column) = m.strip_prefix("drifted:") {
                let c = report
                    .columns
                    .iter()
                    .find(|c| c.column == column)
                    .ok_or_else(|| format!("drifted:{column}: the reference has no such column"))?;
                return Ok(Some((
                    f64::from(u8::from(c.drifted)),
                    format!(
                        "{column}: {} {:.6} against {} over {} logged rows.",
                        c.method.name(),
                        c.score,
                        c.threshold,
                        current.num_rows
                    ),
                )));
            }
            let drifted: Vec<&str> = report
                .columns
                .iter()
                .filter(|c| c.drifted)
                .map(|c| c.column.as_str())
                .collect();
            return Ok(Some((
                report.share,
                format!(
                    "{} of {} columns drifted over {} logged rows: {}.",
                    report.drifted_columns,
                    report.columns.len(),
                    current.num_rows,
                    drifted.join(", ")
                ),
            )));
        }
        let task = lineage
            .model
            .as_ref()
            .and_then(|m| task_of(&m.task))
            .ok_or_else(|| format!("{name} version {} has no model", v.version))?;
        let live = live_metrics(
            &self.registry,
            name,
            v.version,
            task,
            lineage.metrics.clone(),
            (now_ms() - since).max(1000) as u64 / 1000,
            None,
        )
        .await?;
        let metric = m.strip_suffix("_drop").unwrap_or(m);
        let Some(&value) = live.metrics.get(metric) else {
            return Ok(None);
        };
        if m.ends_with("_drop") {
            let Some(&trained) = lineage.metrics.get(metric) else {
                return Ok(None);
            };
            return Ok(Some((
                trained - value,
                format!(
                    "{metric} {value:.4} live against {trained:.4} at training, over {} labelled predictions.",
                    live.labelled
                ),
            )));
        }
        Ok(Some((
            value,
            format!(
                "{metric} {value:.4} over {} labelled predictions ({:.4} at training).",
                live.labelled,
                lineage.metrics.get(metric).copied().unwrap_or(f64::NAN)
            ),
        )))
    }

    /// Delivers every notification that is due; a failure is kept and retried with back-off.
    pub async fn deliver_pending(&self, rules: &[Rule]) -> Result<(), String> {
        let now = now_ms();
        for mut a in self
            .registry
            .pending_alerts()
            .await
            .map_err(|e| e.to_string())?
        {
            if a.next_attempt_at > now {
                continue;
            }
            let Some(rule) = rules.iter().find(|r| r.name == a.rule) else {
                continue;
            };
            let mut errors = Vec::new();
            for sink in &rule.sinks {
                if a.delivered.contains(sink) {
                    continue;
                }
                match self.deliver(sink, rule, &a).await {
                    Ok(()) => {
                        // Kept at once, so that neither a retry nor a restart sends it again.
                        a.delivered.push(sink.clone());
                        a.updated_at = now_ms();
                        self.registry
                            .put_alert(&a)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Err(e) => errors.push(format!("{sink}: {e}")),
                }
            }
            if errors.is_empty() {
                a.pending = String::new();
                a.delivered.clear();
                a.notified_at = now;
                a.attempts = 0;
                a.last_error = String::new();
            } else {
                a.attempts += 1;
                let backoff = (1000i64 << a.attempts.min(20)).min(MAX_BACKOFF_MS);
                a.next_attempt_at = now + backoff;
                a.last_error = errors.join("; ");
                tracing::warn!(rule = %a.rule, attempts = a.attempts, error = %a.last_error, "alert not delivered; will retry");
            }
            a.updated_at = now;
            self.registry
                .put_alert(&a)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn deliver(&self, sink: &str, rule: &Rule, a: &AlertRecord) -> Result<(), String> {
        let s = self
            .rules
            .sinks
            .iter()
            .find(|s| s.name == sink)
            .ok_or("unknown sink")?;
        let mut options = self.sink_options.clone();
        options.limits.timeout_ms = s.timeout_ms.or(options.limits.timeout_ms);
        options.limits.memory_mib = s.memory_mib.or(options.limits.memory_mib);
        let plugin = self
            .runtime
            .resolve(&s.plugin, &options)
            .await
            .map_err(|e| e.to_string())?;
        let config = serde_json::to_string(&s.config).map_err(|e| e.to_string())?;
        let resolved = a.pending == "resolved";
        let alert = Alert {
            severity: if resolved {
                Severity::Info
            } else {
                severity(&a.severity)?
            },
            title: if resolved {
                format!("Resolved: {}", a.title)
            } else {
                a.title.clone()
            },
            text: if resolved {
                format!("{} cleared (now {:.4}). {}", rule.when, a.value, a.text)
            } else {
                a.text.clone()
            },
            labels: vec![
                ("rule".into(), a.rule.clone()),
                ("state".into(), a.pending.clone()),
                ("alert_id".into(), a.id.clone()),
                ("target".into(), target(rule)),
            ],
            source: format!("ferry/alerts/{}", a.rule),
            time_ms: now_ms(),
        };
        let mut instance = AlertSinkInstance::new(&plugin)
            .await
            .map_err(|e| e.to_string())?;
        instance
            .deliver(&config, &alert)
            .await
            .map_err(|e| e.to_string())
    }
}

fn target(rule: &Rule) -> String {
    match (&rule.deployment, &rule.model) {
        (Some(d), _) => format!("deployment {d}"),
        (None, Some(m)) => format!("model {m}"),
        _ => "every plugin".into(),
    }
}

/// The logged input rows of a version since `since`, typed as its inputs.
async fn logged_inputs(
    registry: &Registry,
    model: &str,
    version: i64,
    since: i64,
    lineage: &Lineage,
) -> Result<Option<Batch>, String> {
    let names: Vec<String> = lineage
        .input_schema
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let mut batches = Vec::new();
    for s in registry
        .prediction_segments(model, Some(version), Some(since), None)
        .await
        .map_err(|e| e.to_string())?
    {
        let Ok(bytes) = registry.blobs().get(&s.digest).await else {
            continue;
        };
        let Ok(reader) = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .and_then(|b| b.build()) else {
            tracing::warn!(segment = %s.digest, "a prediction-log segment is corrupt; skipped");
            continue;
        };
        for rb in reader.flatten() {
            let b = record_batch_to_batch(&rb)?;
            let keep: Vec<String> = names
                .iter()
                .filter(|n| !n.starts_with(OUTPUT_PREFIX))
                .cloned()
                .collect();
            batches.push(select(&b, &keep)?);
        }
    }
    let Some(first) = batches.first() else {
        return Ok(None);
    };
    let schema = schema_of(first);
    Ok(Some(concat(&schema, batches)?))
}

/// Trains the rule's pipeline on fresh data; a version that passes the gates is registered
/// (as the pipeline registers it, e.g. with the `challenger` alias) and started as a shadow or
/// a canary of the deployment. What happened is added to the alert's text.
async fn retrain(
    registry: Registry,
    runtime: Runtime,
    t: Retrain,
    base: std::path::PathBuf,
    alert: String,
) {
    let outcome = async {
        let mut spec = ferry_pipeline::PipelineSpec::read(&base.join(&t.pipeline))
            .map_err(|e| e.to_string())?;
        if let Some(d) = &t.data {
            spec.data.path =
                std::fs::canonicalize(base.join(d)).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let store = ferry_pipeline::store::Store::Local(registry.clone());
        let options = ferry_pipeline::TrainOptions {
            user: "ferry-alerts".into(),
            plugins: Default::default(),
            register: true,
            run_name: Some(format!("retrain after alert {alert}")),
            progress: &ferry_pipeline::train::Quiet,
        };
        let trained = ferry_pipeline::train(&runtime, &store, &spec, &options)
            .await
            .map_err(|e| e.to_string())?;
        let Some(v) = trained.model_version else {
            return Ok(format!(
                "Retrained (run {}), not registered: {}.",
                trained.run_id,
                trained
                    .not_registered
                    .unwrap_or_else(|| "the gates failed".into())
            ));
        };
        let mut said = format!(
            "Retrained (run {}): registered {} version {}.",
            trained.run_id, v.name, v.version
        );
        if let (Some(name), start) = (&t.deployment, t.start.as_str())
            && start != "none"
        {
            let d = registry.deployment(name).await.map_err(|e| e.to_string())?;
            let mut dspec: crate::deploy::DeploymentSpec =
                serde_json::from_str(&d.spec).map_err(|e| e.to_string())?;
            let version = v.version.to_string();
            if start == "shadow" {
                dspec
                    .shadows
                    .push(ferry_registry::deployment_spec::ModelRef {
                        model: v.name.clone(),
                        version,
                        resolved: None,
                    });
            } else {
                let Some(first) = dspec.targets.first_mut() else {
                    return Err(format!("deployment {name:?} has no target"));
                };
                first.weight = first.weight.saturating_sub(t.canary_weight).max(1);
                dspec.targets.push(ferry_registry::deployment_spec::Target {
                    model: v.name.clone(),
                    version,
                    weight: t.canary_weight,
                    resolved: None,
                });
            }
            let gate = crate::deploy::Gate {
                runtime: &runtime,
                trust: None,
            };
            let r = crate::deploy::update(
                &registry,
                gate,
                name,
                dspec,
                "ferry-alerts",
                Some(d.revision),
            )
            .await
            .map_err(|e| e.to_string())?;
            said.push_str(&format!(
                " Started as a {start} of deployment {name} (revision {}).",
                r.revision
            ));
        }
        Ok::<String, String>(said)
    }
    .await;
    let said = outcome.unwrap_or_else(|e| format!("Retraining failed: {e}."));
    tracing::info!(%alert, "{said}");
    if let Ok(alerts) = registry.alerts(10_000).await
        && let Some(mut a) = alerts.into_iter().find(|a| a.id == alert)
    {
        a.text = format!("{} {said}", a.text);
        a.updated_at = now_ms();
        if let Err(e) = registry.put_alert(&a).await {
            tracing::warn!(%alert, error = %e, "could not record the retraining with the alert");
        }
    }
}
