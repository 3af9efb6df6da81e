//! Routing one request through a deployment: a target chosen by weight (sticky by a key when
//! the deployment names one), then the fallback, then the default, with the answer mirrored to
//! the shadows off the request path. HTTP (`POST /v1/deployments/{name}/predict`) and NATS
//! streaming both answer through [`Routing::route`]; the answer is a JSON value or a domain
//! error, never an HTTP response.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferry_core::ServingPipeline;
use ferry_core::attempt::{Attempt, Refusal, attempt, render, typed};
use ferry_core::data::RequestRows;
use ferry_pipeline::Served;
use ferry_registry::deployment_spec::{Resolved, Sticky};
use ferry_registry::{Registry, ShadowSample, now_ms};
use ferry_runtime::Runtime;
use serde_json::{Value, json};

use super::batch::{Batcher, Batching, Gate};
use super::live::label;
use super::{Deployments, Live, Reason, SpecError};
use crate::monitor::metrics::{METRICS, TargetLabels};
use crate::monitor::predlog::{Entry, PredictionLog};

/// What routing needs: handles cheap to clone, as each shadow's task takes its own.
#[derive(Clone)]
pub struct Routing {
    /// The registry the deployments and versions are read from.
    pub registry: Registry,
    /// The plugin runtime the versions run on.
    pub runtime: Runtime,
    /// Model versions loaded for serving.
    pub served: Arc<Served>,
    /// Deployments as this server routes them.
    pub deployments: Arc<Deployments>,
    /// The prediction log, when it is on.
    pub predictions: Option<PredictionLog>,
}

/// How a deployment handled one request.
pub enum Routed {
    /// The answer: the deployment, revision, version and reason, and the predictions.
    Answered(Value),
    /// The request was wrong, as the model and version that judged it found.
    Refused(Refusal, (String, i64)),
}

/// Why a deployment gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The deployment is missing, or its revision cannot be read.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Every target, the fallback and the default failed.
    #[error("deployment {name:?} could not answer: {detail}")]
    Unanswered {
        /// The deployment.
        name: String,
        /// What each target said, `target: error`, joined by `; `.
        detail: String,
        /// When the chosen target was not tried because its circuit is open (and nothing
        /// else answered): how long until its breaker lets a request through again. A caller
        /// that can wait, such as a stream consumer, retries then instead of counting this
        /// as an attempt.
        open_for: Option<Duration>,
    },
}

/// What one version did with a request.
enum Outcome {
    Answered(Value),
    Refused(Refusal),
    Failed(String),
}

impl Routing {
    /// Routes one request (a predict body's rows) through deployment `name`: a target chosen by
    /// weight (sticky by the key `header` or the first row gives), then the fallback, then the
    /// default; the answer is mirrored to the shadows.
    pub async fn route(
        &self,
        name: &str,
        rows: RequestRows,
        header: impl Fn(&str) -> Option<String>,
        id: &str,
    ) -> Result<Routed, RouteError> {
        let live = self.deployments.current(&self.registry, name).await?;
        let key = match &live.spec.sticky {
            Some(Sticky::Header(h)) => header(h.as_str()),
            Some(Sticky::Field(f)) => rows.first(f),
            None => None,
        };
        let (i, reason) = live.choose(key.as_deref());
        let count = rows.rows();
        let rows = Arc::new(rows);
        let timeout = Duration::from_millis(live.spec.timeout_ms);
        let at = (name, live.revision, id);
        let mut failed = Vec::new();

        let (model, r, breaker) = &live.targets[i];
        let mut answer = None;
        let mut open_for = None;
        match breaker.admit() {
            None => {
                open_for = Some(breaker.refusing_for().unwrap_or_default());
                failed.push(json!({"target": label(model, *r), "error": "its circuit is open"}))
            }
            Some(ticket) => match self
                .try_version(model, *r, &rows, timeout, at, Some(&live))
                .await
            {
                Outcome::Answered(v) => {
                    ticket.success();
                    answer = Some((Some((model.clone(), *r)), reason, v));
                }
                Outcome::Refused(refusal) => {
                    ticket.success();
                    return Ok(Routed::Refused(refusal, (model.clone(), r.number)));
                }
                Outcome::Failed(e) => {
                    ticket.failure();
                    tracing::warn!(deployment = %name, target = %label(model, *r), error = %e, "a deployment target failed");
                    failed.push(json!({"target": label(model, *r), "error": e}));
                }
            },
        }
        if answer.is_none()
            && let Some((model, r)) = live.spec.fallback.as_ref().and_then(|f| f.key())
        {
            match self
                .try_version(&model, r, &rows, timeout, at, Some(&live))
                .await
            {
                Outcome::Answered(v) => answer = Some((Some((model, r)), Reason::Fallback, v)),
                Outcome::Refused(refusal) => {
                    return Ok(Routed::Refused(refusal, (model, r.number)));
                }
                Outcome::Failed(e) => {
                    tracing::warn!(deployment = %name, fallback = %label(&model, r), error = %e, "a deployment's fallback failed");
                    failed.push(json!({"target": label(&model, r), "error": e}));
                }
            }
        }
        if answer.is_none()
            && let Some(default) = &live.spec.default
        {
            answer = Some((None, Reason::Default, default_answer(default, &rows)));
        }
        let Some((version, reason, predictions)) = answer else {
            let detail: Vec<String> = failed
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        f["target"].as_str().unwrap_or("?"),
                        f["error"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            return Err(RouteError::Unanswered {
                name: name.to_string(),
                detail: detail.join("; "),
                open_for,
            });
        };
        let answered = version
            .as_ref()
            .map(|(m, r)| label(m, *r))
            .unwrap_or_else(|| "default".into());
        self.mirror(&live, &rows, &answered, &predictions, id);
        let mut out = json!({
            "deployment": name,
            "revision": live.revision,
            "model": version.as_ref().map(|(m, _)| m.clone()),
            "version": version.as_ref().map(|(_, r)| r.number),
            "reason": reason,
            "request_id": id,
            "rows": count,
            "predictions": predictions,
        });
        if !failed.is_empty() {
            out["failed"] = Value::Array(failed);
        }
        Ok(Routed::Answered(out))
    }

    /// Has version `r` of `model` predict the request, within `timeout`: in a call shared
    /// with other requests when `batched` is a revision with batching on, the version may be
    /// batched and the request has at most `max_rows` rows; alone otherwise. Loading the version is not counted against the timeout
    /// (it happens once per server). The prediction runs on the plugin threads, so the timeout
    /// fires on time however busy they are, and a prediction past it is stopped within an
    /// epoch tick rather than left to finish.
    async fn try_version(
        &self,
        model: &str,
        r: Resolved,
        rows: &Arc<RequestRows>,
        timeout: Duration,
        (deployment, revision, id): (&str, i64, &str),
        batched: Option<&Live>,
    ) -> Outcome {
        let pipeline = match self
            .served
            .get(
                &self.runtime,
                &self.registry,
                model,
                (r.number, r.created_at),
            )
            .await
        {
            Ok(p) => p,
            Err(e) => return Outcome::Failed(format!("cannot serve: {e}")),
        };
        let done = Done {
            model: model.to_string(),
            number: r.number,
            revision,
            rows: rows.clone(),
            log: self
                .predictions
                .clone()
                .filter(|l| l.sampled())
                .map(|l| (l, deployment.to_string(), id.to_string())),
        };
        let batcher = match batched {
            Some(live)
                if live
                    .spec
                    .batch
                    .is_some_and(|b| rows.rows() <= b.max_rows as usize) =>
            {
                self.batcher(live, model, r, &pipeline).await
            }
            _ => None,
        };
        let started = std::time::Instant::now();
        let answer = async {
            match batcher.as_deref() {
                Some(Batching::On(queue)) => {
                    let attempt = match typed(&pipeline, rows) {
                        Ok(batch) => queue.predict(pipeline.clone(), batch).await,
                        Err(refusal) => Attempt::Refused(refusal),
                    };
                    Ok(done.finish(attempt))
                }
                _ => {
                    let rows = rows.clone();
                    self.runtime
                        .compute()
                        .run(async move { done.finish(attempt(&pipeline, &rows).await) })
                        .await
                }
            }
        };
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => Outcome::Failed(format!("the prediction stopped: {e}")),
            Err(_) => Outcome::Failed(format!(
                "no answer within the deployment's timeout of {} ms (given up after {} ms)",
                timeout.as_millis(),
                started.elapsed().as_millis()
            )),
        }
    }

    /// The batching queue of version `r` of `model` in revision `live`, if the revision
    /// batches and the version may be batched, decided on the version's first request: a
    /// version with a plugin neither built in nor signed by a key of this server's trust
    /// policy runs each request alone (and says why in the deployment's status).
    async fn batcher(
        &self,
        live: &Live,
        model: &str,
        r: Resolved,
        pipeline: &ServingPipeline,
    ) -> Option<Arc<Batching>> {
        let settings = live.spec.batch?;
        let on = |b: Arc<Batching>| matches!(*b, Batching::On(_)).then_some(b);
        if let Some(b) = live.batchers.get(model, r) {
            return on(b);
        }
        let gate = Gate {
            runtime: &self.runtime,
            trust: self.served.options().trust.as_deref(),
        };
        let batching = match gate.refuses(&self.registry, pipeline.lineage()).await {
            Ok(None) => Batching::On(Batcher::new(
                settings,
                &self.runtime,
                Duration::from_millis(live.spec.timeout_ms),
                TargetLabels {
                    deployment: live.name.clone(),
                    target: label(model, r),
                },
            )),
            Ok(Some(why)) => {
                tracing::warn!(deployment = %live.name, target = %label(model, r), reason = %why, "not batching a version");
                Batching::Refused(why)
            }
            Err(e) => {
                tracing::warn!(deployment = %live.name, target = %label(model, r), error = %e, "cannot check whether a version may be batched; this request runs alone");
                return None;
            }
        };
        on(live.batchers.decide(model, r, batching))
    }

    /// Mirrors a request to the deployment's shadows, off the request path.
    fn mirror(
        &self,
        live: &Arc<Live>,
        rows: &Arc<RequestRows>,
        answered: &str,
        answer: &Value,
        id: &str,
    ) {
        for (i, (model, r, counters)) in live.shadows.iter().enumerate() {
            let Ok(permit) = live.shadow_slots.clone().try_acquire_owned() else {
                counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let (routing, live, rows, answer) =
                (self.clone(), live.clone(), rows.clone(), answer.clone());
            let (model, r, answered, id) =
                (model.clone(), *r, answered.to_string(), id.to_string());
            tokio::spawn(async move {
                let _permit = permit;
                let timeout = Duration::from_millis(live.spec.timeout_ms);
                let counters = &live.shadows[i].2;
                counters.mirrored.fetch_add(1, Ordering::Relaxed);
                let at = (live.name.as_str(), live.revision, id.as_str());
                let shadow_answer = match routing
                    .try_version(&model, r, &rows, timeout, at, None)
                    .await
                {
                    Outcome::Answered(v) if v == answer => {
                        counters.agreed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Outcome::Answered(v) => {
                        counters.disagreed.fetch_add(1, Ordering::Relaxed);
                        v
                    }
                    Outcome::Refused(_) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        json!({"error": "the shadow refused the request"})
                    }
                    Outcome::Failed(e) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        json!({"error": e})
                    }
                };
                let rate = live.spec.shadow_sample_rate;
                let draw = getrandom::u64().unwrap_or_default() as f64 / u64::MAX as f64;
                if rate <= 0.0 || draw > rate {
                    return;
                }
                let sample = ShadowSample {
                    name: live.name.clone(),
                    revision: live.revision,
                    request_id: id,
                    answered,
                    shadow: label(&model, r),
                    answer: answer.to_string(),
                    shadow_answer: shadow_answer.to_string(),
                    created_at: now_ms(),
                };
                if let Err(e) = routing.registry.add_shadow_sample(&sample).await {
                    tracing::warn!(deployment = %live.name, error = %e, "could not log a shadow disagreement");
                }
            });
        }
    }
}

/// What is done with a version's attempt at a request: its metrics and prediction-log
/// record, and the answer rendered as the request gave its rows.
struct Done {
    model: String,
    number: i64,
    revision: i64,
    rows: Arc<RequestRows>,
    log: Option<(PredictionLog, String, String)>,
}

impl Done {
    fn finish(self, attempt: Attempt) -> Outcome {
        match attempt {
            Attempt::Answered(p, inputs) => {
                METRICS.observe_predictions(&self.model, self.number, &p.outputs);
                if let Some((log, deployment, request_id)) = self.log {
                    log.record(Entry {
                        model: self.model.clone(),
                        version: self.number,
                        deployment,
                        revision: Some(self.revision),
                        request_id,
                        at_ms: now_ms(),
                        inputs,
                        outputs: p.outputs.clone(),
                    });
                }
                Outcome::Answered(render(&p.outputs, self.rows.as_rows()))
            }
            Attempt::Refused(r) => Outcome::Refused(r),
            Attempt::Failed(e) => Outcome::Failed(e),
        }
    }
}

/// The default answer for every row, shaped as the request.
fn default_answer(default: &Value, rows: &RequestRows) -> Value {
    let n = rows.rows();
    if rows.as_rows() {
        Value::Array(vec![default.clone(); n])
    } else {
        let columns: serde_json::Map<String, Value> = default
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone(); n])))
                    .collect()
            })
            .unwrap_or_default();
        Value::Object(columns)
    }
}
