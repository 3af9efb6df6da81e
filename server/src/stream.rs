//! Streaming serving on NATS JetStream. Every `ferry serve --nats` runs one worker per
//! deployment whose specification has a `stream`; the workers of all servers share one
//! durable pull consumer, so JetStream hands each message to one of them.
//!
//! A message is a JSON row, an array of rows, or a predict body (`rows` or `columns`). It is
//! answered through the deployment exactly as `POST /v1/deployments/{name}/predict` answers,
//! and the answer is published to the output subject (deduplicated by request id) before the
//! message is acknowledged: at least once. A message that cannot be predicted (not JSON, the
//! wrong shape, rows of the wrong schema, too many rows) is published to the dead-letter
//! subject with the reason and acknowledged. A failure of the deployment itself is retried
//! (after a growing delay) up to `max_deliver` deliveries, then dead-lettered.
//!
//! A worker predicts at most [`in_flight`] messages at once and fetches no more than it is
//! predicting, so a fetched message never waits behind others long enough to be redelivered,
//! and a busy machine slows the consumer instead of timing its requests out. While the chosen
//! target's circuit is open, the messages that met it wait (keeping their delivery alive)
//! until the breaker lets a request through again, and the worker fetches nothing new: an
//! open circuit pauses consumption and is not counted as an attempt.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::{self, AckKind, Context, Message};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::AppState;
use super::error::ApiError;
use ferry_core::Refusal;
use ferry_core::data::{BodyError, RequestRows};
use ferry_edge::http::check_rows;
use ferry_ops::deploy::{RouteError, Routed};
use ferry_registry::deployment_spec::StreamSpec;

/// The header that carries a request's id, on requests (optional) and answers.
pub const REQUEST_ID: &str = "Ferry-Request-Id";
/// The header that says which server answered.
pub const INSTANCE: &str = "Ferry-Instance";
/// Messages one worker predicts at once, and so fetches at once: twice the cores, since a
/// prediction is computation in the sandbox and more at once only makes each one slower.
fn in_flight() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

/// Runs the stream workers of one server for as long as it serves: one per deployment with a
/// stream, restarted when its stream settings change and stopped when they go.
pub async fn supervise(state: AppState, url: String) {
    let client = loop {
        match async_nats::connect(&url).await {
            Ok(c) => break c,
            Err(e) => {
                tracing::error!(nats = %url, error = %e, "cannot reach NATS; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let js = jetstream::new(client);
    let instance = format!(
        "{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "ferry".into()),
        std::process::id()
    );
    let mut running: HashMap<String, (StreamSpec, JoinHandle<()>)> = HashMap::new();
    let mut tick = tokio::time::interval(super::GENERATION_POLL);
    let mut seen = None;
    loop {
        tick.tick().await;
        let generation = state.registry.generation();
        if seen == Some(generation) && running.values().all(|(_, h)| !h.is_finished()) {
            continue;
        }
        seen = Some(generation);
        let wanted = match wanted(&state).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the deployments to stream");
                continue;
            }
        };
        running.retain(|name, (spec, handle)| {
            let keep = wanted.get(name) == Some(spec) && !handle.is_finished();
            if !keep {
                handle.abort();
            }
            keep
        });
        for (name, spec) in wanted {
            if running.contains_key(&name) {
                continue;
            }
            let worker = Worker {
                state: state.clone(),
                js: js.clone(),
                name: name.clone(),
                spec: spec.clone(),
                instance: instance.clone(),
            };
            tracing::info!(deployment = %name, input = %spec.input, "streaming");
            running.insert(name, (spec, tokio::spawn(worker.run())));
        }
    }
}

/// The deployments that have a stream, with its settings.
async fn wanted(state: &AppState) -> Result<HashMap<String, StreamSpec>, String> {
    let all = state
        .registry
        .deployments()
        .await
        .map_err(|e| e.to_string())?;
    Ok(all
        .into_iter()
        .filter_map(|d| {
            let spec: ferry_ops::deploy::DeploymentSpec = serde_json::from_str(&d.spec).ok()?;
            Some((d.name, spec.stream?))
        })
        .collect())
}

/// A JetStream name made of a deployment's name: letters, digits, `-` and `_` only.
fn stream_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

struct Worker {
    state: AppState,
    js: Context,
    name: String,
    spec: StreamSpec,
    instance: String,
}

/// What became of one message.
enum Fate {
    /// Predicted and published: acknowledge.
    Answered,
    /// Cannot be predicted: dead-letter with the reason, acknowledge.
    Dead(String),
    /// The deployment failed: deliver again later (or dead-letter at the last delivery).
    Retry(String),
    /// The chosen target's circuit is open for this long: not an attempt; ask again then.
    Open(Duration),
}

impl Worker {
    async fn run(self) {
        loop {
            if let Err(e) = self.consume().await {
                tracing::warn!(deployment = %self.name, error = %e, "stream worker stopped; restarting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// The stream that holds `subject`: the one that already captures it, or a new one.
    async fn stream_for(
        &self,
        subjects: &[&str],
        suffix: &str,
    ) -> Result<jetstream::stream::Stream, async_nats::Error> {
        if let Ok(name) = self.js.stream_by_subject(subjects[0]).await {
            return Ok(self.js.get_stream(name).await?);
        }
        Ok(self
            .js
            .get_or_create_stream(jetstream::stream::Config {
                name: format!("FERRY_{}_{suffix}", stream_safe(&self.name)),
                subjects: subjects.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            })
            .await?)
    }

    async fn consume(&self) -> Result<(), async_nats::Error> {
        let input = self.stream_for(&[&self.spec.input], "REQUESTS").await?;
        self.stream_for(&[&self.spec.output], "PREDICTIONS").await?;
        self.stream_for(&[&self.spec.dead_letter], "DEAD").await?;
        let durable = format!("ferry-{}", stream_safe(&self.name));
        let consumer = input
            .get_or_create_consumer(
                &durable,
                pull::Config {
                    durable_name: Some(durable.clone()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: Duration::from_millis(self.spec.ack_wait_ms),
                    max_deliver: i64::from(self.spec.max_deliver),
                    filter_subject: self.spec.input.clone(),
                    ..Default::default()
                },
            )
            .await?;
        let in_flight = in_flight();
        loop {
            let batch = consumer
                .fetch()
                .max_messages(in_flight)
                .expires(Duration::from_millis(500))
                .messages()
                .await?;
            let messages: Vec<Message> = batch.filter_map(|m| async { m.ok() }).collect().await;
            futures_util::future::join_all(messages.into_iter().map(|m| self.handle(m))).await;
        }
    }

    async fn handle(&self, message: Message) {
        let (stream_seq, delivered) = message
            .info()
            .map(|i| (i.stream_sequence, i.delivered))
            .unwrap_or((0, 1));
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_string())
        };
        let id = header(REQUEST_ID)
            .or_else(|| header("Nats-Msg-Id"))
            .unwrap_or_else(|| format!("{}-{stream_seq}", stream_safe(&self.spec.input)));
        let fate = loop {
            match self.answer(&message.payload, &id, &header).await {
                Fate::Open(wait) => {
                    // Keep the delivery alive while the circuit is open, then ask again.
                    if let Err(e) = message.ack_with(AckKind::Progress).await {
                        tracing::warn!(deployment = %self.name, request_id = %id, error = %e, "cannot extend a streamed request's delivery");
                    }
                    let most = Duration::from_millis(self.spec.ack_wait_ms / 2);
                    tokio::time::sleep(wait.clamp(
                        Duration::from_millis(10),
                        most.max(Duration::from_millis(10)),
                    ))
                    .await;
                }
                fate => break fate,
            }
        };
        let outcome = match fate {
            Fate::Answered => message.ack().await,
            Fate::Dead(reason) => match self.dead_letter(&message, &id, &reason, delivered).await {
                Ok(()) => message.ack().await,
                Err(e) => {
                    tracing::warn!(deployment = %self.name, error = %e, "cannot dead-letter; will retry");
                    message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await
                }
            },
            Fate::Retry(reason) if delivered >= i64::from(self.spec.max_deliver) => {
                let reason = format!("failed on all {delivered} deliveries; the last: {reason}");
                match self.dead_letter(&message, &id, &reason, delivered).await {
                    Ok(()) => message.ack().await,
                    Err(_) => message.ack_with(AckKind::Term).await,
                }
            }
            Fate::Open(_) => Ok(()),
            Fate::Retry(reason) => {
                tracing::warn!(deployment = %self.name, request_id = %id, delivered, reason = %reason, "a streamed request failed; redelivering");
                let delay = Duration::from_millis(200 * delivered.clamp(1, 50) as u64);
                message.ack_with(AckKind::Nak(Some(delay))).await
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(deployment = %self.name, request_id = %id, error = %e, "cannot acknowledge a streamed request");
        }
    }

    /// Predicts one message and publishes the answer.
    async fn answer(
        &self,
        payload: &[u8],
        id: &str,
        header: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Fate {
        let value: Value = match serde_json::from_slice(payload) {
            Ok(v) => v,
            Err(e) => return Fate::Dead(format!("the message is not JSON: {e}")),
        };
        let rows = match &value {
            Value::Object(o) if o.keys().any(|k| RequestRows::is_shape_key(k)) => {
                RequestRows::from_value(&value)
            }
            Value::Object(_) => RequestRows::from_rows(std::slice::from_ref(&value)),
            Value::Array(rows) if rows.is_empty() => Err(BodyError::Empty),
            Value::Array(rows) => RequestRows::from_rows(rows),
            other => {
                return Fate::Dead(format!(
                    "the message must be a JSON row, an array of rows or a predict body, not {}",
                    kind_of(other)
                ));
            }
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => return Fate::Dead(e.to_string()),
        };
        if let Err(e) = check_rows(rows.rows(), &self.state.limits) {
            return Fate::Dead(e.message);
        }
        let routed = self
            .state
            .routing()
            .route(&self.name, rows, header, id)
            .await;
        if let Err(RouteError::Unanswered {
            open_for: Some(wait),
            ..
        }) = &routed
        {
            return Fate::Open(*wait);
        }
        let answer = match routed.map_err(ApiError::from) {
            Ok(Routed::Answered(v)) => v,
            Ok(Routed::Refused(refusal, _)) => return Fate::Dead(refused(refusal)),
            Err(e) if e.status.is_client_error() && e.status.as_u16() != 404 => {
                return Fate::Dead(e.0.message);
            }
            Err(e) => return Fate::Retry(e.0.message),
        };
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, id);
        headers.insert(INSTANCE, self.instance.as_str());
        headers.insert("Nats-Msg-Id", id);
        let payload = answer.to_string().into_bytes().into();
        match self.publish(&self.spec.output, headers, payload).await {
            Ok(()) => Fate::Answered,
            Err(e) => Fate::Retry(format!("cannot publish the prediction: {e}")),
        }
    }

    async fn publish(
        &self,
        subject: &str,
        headers: HeaderMap,
        payload: bytes::Bytes,
    ) -> Result<(), async_nats::Error> {
        self.js
            .publish_with_headers(subject.to_string(), headers, payload)
            .await?
            .await?;
        Ok(())
    }

    async fn dead_letter(
        &self,
        message: &Message,
        id: &str,
        reason: &str,
        delivered: i64,
    ) -> Result<(), async_nats::Error> {
        tracing::info!(deployment = %self.name, request_id = %id, reason = %reason, "dead-lettered a streamed request");
        let body = json!({
            "deployment": self.name,
            "request_id": id,
            "reason": reason,
            "subject": message.subject.as_str(),
            "delivered": delivered,
            "message": String::from_utf8_lossy(&message.payload),
        });
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, id);
        headers.insert(INSTANCE, self.instance.as_str());
        headers.insert("Nats-Msg-Id", format!("dead-{id}"));
        self.publish(
            &self.spec.dead_letter,
            headers,
            body.to_string().into_bytes().into(),
        )
        .await
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The message of a refusal the model endpoint would have answered, with the fields named.
/// A refusal as a dead letter's reason: its message, status and first ten fields.
fn refused(refusal: Refusal) -> String {
    let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    match refusal.fields.as_array() {
        Some(fields) if !fields.is_empty() => format!(
            "{} ({status}): {}",
            refusal.message,
            Value::Array(fields.iter().take(10).cloned().collect())
        ),
        _ => format!("{} ({status})", refusal.message),
    }
}
