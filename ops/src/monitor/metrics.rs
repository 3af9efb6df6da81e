//! The process's Prometheus metrics, served at `GET /metrics` in the Prometheus text format:
//! requests and their latency per deployment, version and outcome; plugin calls, failures and
//! instances; circuit breakers; and the distribution of what each version predicts.

use std::sync::LazyLock;

use ferry_runtime::RuntimeMetrics;
use ferry_runtime::bindings::types::{Batch, ColumnData};
use ferry_runtime::metrics::latency;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// How a prediction request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered by the version chosen first.
    Ok,
    /// The body or a field was wrong (400, 422).
    InvalidInput,
    /// Refused whole: a validator rejected the rows, or admission control shed it (413, 503).
    Rejected,
    /// Answered by a fallback or the default answer after the chosen version failed.
    Fallback,
    /// Not answered: every version failed (5xx).
    Error,
}

impl Outcome {
    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::InvalidInput => "invalid_input",
            Outcome::Rejected => "rejected",
            Outcome::Fallback => "fallback",
            Outcome::Error => "error",
        }
    }
}

/// Labels of a request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The deployment (empty for the model endpoint).
    pub deployment: String,
    /// The registered model that answered (empty when none did).
    pub model: String,
    /// Its version number (empty when none answered).
    pub version: String,
    /// How it ended.
    pub outcome: &'static str,
}

pub use ferry_runtime::metrics::{CallLabels, FailureLabels};

/// Labels of a deployment target's breaker.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    /// The deployment.
    pub deployment: String,
    /// `model@number`.
    pub target: String,
}

/// Labels of a prediction distribution.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PredictionLabels {
    /// The registered model.
    pub model: String,
    /// The version number.
    pub version: String,
    /// The output column observed (the first numeric one).
    pub output: String,
}

/// Labels of a live metric.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LiveLabels {
    /// The registered model.
    pub model: String,
    /// The version.
    pub version: String,
    /// `accuracy`, `roc_auc`, `rmse`, ...
    pub metric: String,
    /// `time` (every labelled prediction in the window) or `count` (the last N).
    pub window: &'static str,
}

/// Labels of a live window.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LiveWindowLabels {
    /// The registered model.
    pub model: String,
    /// The version.
    pub version: String,
    /// `time` or `count`.
    pub window: &'static str,
}

/// Labels of a model version.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    /// The registered model.
    pub model: String,
    /// The version.
    pub version: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The live metric names set, per model, version and window.
type LiveSeries = std::collections::HashMap<(String, String, &'static str), Vec<String>>;

/// Every metric.
pub struct Metrics {
    registry: Registry,
    /// Prediction requests.
    pub requests: Family<RequestLabels, Counter>,
    /// Their latency.
    pub request_seconds: Histograms<RequestLabels>,
    /// The plugin runtime's: calls, failures, instances and served versions' instance sets
    /// (given to the runtime the server starts).
    pub runtime: RuntimeMetrics,
    /// Each deployment target's circuit: 0 closed, 1 open, 2 half-open.
    pub circuit_state: Family<TargetLabels, Gauge>,
    /// What each version predicts.
    pub predictions: Histograms<PredictionLabels>,
    /// Requests that shared each batched call, per deployment target.
    pub batch_requests: Histograms<TargetLabels>,
    /// Prediction-log records dropped because the log's buffer was full.
    pub prediction_log_dropped: Counter,
    /// Prediction-log records written.
    pub prediction_log_written: Counter,
    /// Live metrics from labels joined with the prediction log.
    pub live_metric: Family<LiveLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Labelled predictions the last live computation of a window scored (0 marks a window
    /// with nothing to score, whose metrics are dropped).
    pub live_labelled: Family<LiveWindowLabels, Gauge>,
    /// The metric names each window's live series hold now.
    live_series: std::sync::Mutex<LiveSeries>,
    /// Labels that matched no logged prediction, at the last live computation.
    pub feedback_unmatched: Family<ModelLabels, Gauge>,
    /// Labels received.
    pub feedback_received: Family<ModelLabels, Counter>,
}

fn prediction() -> Histogram {
    Histogram::new([
        0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 2.0, 5.0, 10.0, 100.0,
        1000.0,
    ])
}

fn batch_size() -> Histogram {
    Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0])
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("ferry");
        let m = Self {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency as fn() -> Histogram),
            runtime: RuntimeMetrics::default(),
            circuit_state: Family::default(),
            predictions: Family::new_with_constructor(prediction as fn() -> Histogram),
            batch_requests: Family::new_with_constructor(batch_size as fn() -> Histogram),
            prediction_log_dropped: Counter::default(),
            prediction_log_written: Counter::default(),
            live_metric: Family::default(),
            live_labelled: Family::default(),
            live_series: Default::default(),
            feedback_unmatched: Family::default(),
            feedback_received: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Prediction requests, by deployment, version and outcome",
            m.requests.clone(),
        );
        registry.register(
            "request_seconds",
            "Prediction request latency in seconds, by deployment, version and outcome",
            m.request_seconds.clone(),
        );
        m.runtime.register(&mut registry);
        registry.register(
            "circuit_state",
            "Each deployment target's circuit breaker: 0 closed, 1 open, 2 half-open",
            m.circuit_state.clone(),
        );
        registry.register(
            "predictions",
            "The distribution of each version's first numeric output (a probability or a value)",
            m.predictions.clone(),
        );
        registry.register(
            "batch_requests",
            "Requests that shared one batched call, by deployment and target (deployments with batching on)",
            m.batch_requests.clone(),
        );
        registry.register(
            "prediction_log_dropped",
            "Prediction-log records dropped because the log's buffer was full",
            m.prediction_log_dropped.clone(),
        );
        registry.register(
            "prediction_log_written",
            "Prediction-log records written to segments",
            m.prediction_log_written.clone(),
        );
        registry.register("live_metric", "Live metrics from labels joined with the prediction log, by model, version, metric and window (time or count)", m.live_metric.clone());
        registry.register(
            "live_labelled",
            "Labelled predictions the last live computation scored, by model, version and window; 0 when a window had nothing to score (its live metrics are then dropped)",
            m.live_labelled.clone(),
        );
        registry.register(
            "feedback_unmatched",
            "Labels that matched no logged prediction at the last live computation (kept)",
            m.feedback_unmatched.clone(),
        );
        registry.register(
            "feedback_received",
            "Labels received",
            m.feedback_received.clone(),
        );
        Self { registry, ..m }
    }

    /// Publishes a live computation: each metric of the window, and how many labelled
    /// predictions it scored. A metric the window no longer has (none, when nothing was
    /// scored) is dropped rather than left at its old value.
    pub fn set_live(
        &self,
        model: &str,
        version: i64,
        window: &'static str,
        metrics: &std::collections::BTreeMap<String, f64>,
        labelled: usize,
    ) {
        let key = (model.to_string(), version.to_string(), window);
        let mut series = self.live_series.lock().unwrap_or_else(|p| p.into_inner());
        for gone in series
            .remove(&key)
            .unwrap_or_default()
            .into_iter()
            .filter(|name| !metrics.contains_key(name))
        {
            self.live_metric.remove(&LiveLabels {
                model: key.0.clone(),
                version: key.1.clone(),
                metric: gone,
                window,
            });
        }
        for (name, value) in metrics {
            self.live_metric
                .get_or_create(&LiveLabels {
                    model: key.0.clone(),
                    version: key.1.clone(),
                    metric: name.clone(),
                    window,
                })
                .set(*value);
        }
        self.live_labelled
            .get_or_create(&LiveWindowLabels {
                model: key.0.clone(),
                version: key.1.clone(),
                window,
            })
            .set(i64::try_from(labelled).unwrap_or(i64::MAX));
        if !metrics.is_empty() {
            series.insert(key, metrics.keys().cloned().collect());
        }
    }

    /// The model versions that have live metrics now.
    pub fn live_versions(&self) -> Vec<(String, i64)> {
        let series = self.live_series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, i64)> = series
            .keys()
            .filter_map(|(m, v, _)| v.parse().ok().map(|v| (m.clone(), v)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Counts and times one prediction request.
    pub fn request(&self, labels: RequestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&labels).observe(seconds);
    }

    /// Adds a version's predictions (its first numeric output column) to its distribution.
    pub fn observe_predictions(&self, model: &str, version: i64, outputs: &Batch) {
        let Some(column) = outputs
            .columns
            .iter()
            .find(|c| matches!(c.data, ColumnData::Float64(_) | ColumnData::Int64(_)))
        else {
            return;
        };
        let h = self.predictions.get_or_create_owned(&PredictionLabels {
            model: model.to_string(),
            version: version.to_string(),
            output: column.name.clone(),
        });
        match &column.data {
            ColumnData::Float64(v) => v
                .iter()
                .filter(|x| x.is_finite())
                .for_each(|&x| h.observe(x)),
            ColumnData::Int64(v) => v.iter().for_each(|&x| h.observe(x as f64)),
            _ => {}
        }
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Every metric in the Prometheus text format.
pub fn encode() -> String {
    let mut out = String::new();
    let _ = prometheus_text::encode(&mut out, &METRICS.registry);
    out
}
