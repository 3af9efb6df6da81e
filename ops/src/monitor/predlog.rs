//! The prediction log: every served request's inputs and outputs, with its version, request
//! id and time, written as Parquet segments into the blob store and listed in the registry.
//! Requests are handed over on a queue bounded in rows and written by one task, so a slow disk
//! never slows a prediction and never fills memory: past the bound a record is dropped and
//! counted
//! (`ferry_prediction_log_dropped_total`). A segment is cut per model version when it holds
//! `segment_rows` rows or its first record is `segment_seconds` old, and on shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use ferry_registry::Registry;
use parquet::arrow::ArrowWriter;
use tokio::sync::{mpsc, oneshot};

use super::metrics::METRICS;
use ferry_core::data::{batch_to_record_batch, concat, schema_of};
use ferry_runtime::bindings::types::Batch;

/// The prefix of output columns in a segment (inputs keep their names).
pub const OUTPUT_PREFIX: &str = "output.";

/// How the log samples, buffers and cuts segments.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The share of requests logged (1.0: all).
    pub sample_rate: f64,
    /// Rows at which a segment is cut.
    pub segment_rows: usize,
    /// Age at which a segment is cut.
    pub segment_age: Duration,
    /// Rows that may wait to be written; past this, records are dropped and counted.
    pub queue: usize,
    /// The window the live metrics in `/metrics` score.
    pub live_window: Duration,
    /// How often they are scored again.
    pub live_every: Duration,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            sample_rate: 1.0,
            segment_rows: 10_000,
            segment_age: Duration::from_secs(60),
            queue: 100_000,
            live_window: Duration::from_secs(3600),
            live_every: Duration::from_secs(30),
        }
    }
}

/// One served request.
#[derive(Debug)]
pub struct Entry {
    /// The registered model that answered.
    pub model: String,
    /// Its version.
    pub version: i64,
    /// The deployment it came through (empty for the model endpoint).
    pub deployment: String,
    /// The deployment's revision that routed it (none for the model endpoint).
    pub revision: Option<i64>,
    /// The request id.
    pub request_id: String,
    /// When it was answered (ms since the epoch).
    pub at_ms: i64,
    /// The typed input rows.
    pub inputs: Batch,
    /// The outputs, one row per input row.
    pub outputs: Batch,
}

enum Message {
    Entry(Box<Entry>),
    Flush(oneshot::Sender<()>),
}

/// A handle to the log's writer.
#[derive(Clone)]
pub struct PredictionLog {
    tx: mpsc::UnboundedSender<Message>,
    sample_rate: f64,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    max_waiting: usize,
}

impl PredictionLog {
    /// Starts the writer task.
    pub fn start(registry: Registry, settings: LogSettings) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let sample_rate = settings.sample_rate;
        let max_waiting = settings.queue.max(1);
        let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        tokio::spawn(write_loop(registry, settings, rx, waiting.clone()));
        Self {
            tx,
            sample_rate,
            waiting,
            max_waiting,
        }
    }

    /// Whether to log this request (draws against the sample rate).
    pub fn sampled(&self) -> bool {
        self.sample_rate >= 1.0
            || (self.sample_rate > 0.0
                && (getrandom::u64().unwrap_or_default() as f64 / u64::MAX as f64)
                    < self.sample_rate)
    }

    /// Hands a record to the writer, never waiting: past the rows that may wait, it is
    /// dropped (and counted).
    pub fn record(&self, entry: Entry) {
        use std::sync::atomic::Ordering;
        let rows = entry.inputs.num_rows as usize;
        let before = self.waiting.fetch_add(rows, Ordering::AcqRel);
        if before + rows > self.max_waiting
            || self.tx.send(Message::Entry(Box::new(entry))).is_err()
        {
            self.waiting.fetch_sub(rows, Ordering::AcqRel);
            METRICS.prediction_log_dropped.inc_by(rows as u64);
        }
    }

    /// Writes every open segment now.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

#[derive(Default)]
struct Pending {
    inputs: Vec<Batch>,
    outputs: Vec<Batch>,
    request_ids: Vec<Arc<str>>,
    deployments: Vec<Arc<str>>,
    revisions: Vec<Option<i64>>,
    at: Vec<i64>,
    row: Vec<i32>,
    opened: Option<Instant>,
}

async fn write_loop(
    registry: Registry,
    settings: LogSettings,
    mut rx: mpsc::UnboundedReceiver<Message>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
) {
    let mut pending: HashMap<(String, i64), Pending> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250).min(settings.segment_age));
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Entry(entry)) => {
                    waiting.fetch_sub(entry.inputs.num_rows as usize, std::sync::atomic::Ordering::AcqRel);
                    let key = (entry.model.clone(), entry.version);
                    let p = pending.entry(key.clone()).or_default();
                    add(p, *entry);
                    if p.at.len() >= settings.segment_rows
                        && let Some(p) = pending.remove(&key)
                    {
                        write(&registry, &key, p).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    for (key, p) in pending.drain() {
                        write(&registry, &key, p).await;
                    }
                    let _ = done.send(());
                }
                None => {
                    for (key, p) in pending.drain() {
                        write(&registry, &key, p).await;
                    }
                    return;
                }
            },
            _ = tick.tick() => {
                let old: Vec<(String, i64)> = pending
                    .iter()
                    .filter(|(_, p)| p.opened.is_some_and(|o| o.elapsed() >= settings.segment_age))
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in old {
                    if let Some(p) = pending.remove(&key) {
                        write(&registry, &key, p).await;
                    }
                }
            }
        }
    }
}

fn add(p: &mut Pending, e: Entry) {
    let rows = e.inputs.num_rows as usize;
    if e.outputs.num_rows as usize != rows {
        tracing::warn!(model = %e.model, version = e.version, "prediction log: outputs and inputs differ in rows; not logged");
        METRICS.prediction_log_dropped.inc();
        return;
    }
    p.opened.get_or_insert_with(Instant::now);
    let (id, deployment): (Arc<str>, Arc<str>) = (e.request_id.into(), e.deployment.into());
    for i in 0..rows {
        p.request_ids.push(id.clone());
        p.deployments.push(deployment.clone());
        p.revisions.push(e.revision);
        p.at.push(e.at_ms);
        p.row.push(i as i32);
    }
    p.inputs.push(e.inputs);
    p.outputs.push(e.outputs);
}

async fn write(registry: &Registry, (model, version): &(String, i64), p: Pending) {
    let rows = p.at.len();
    if rows == 0 {
        return;
    }
    let span = (
        p.at.iter().copied().min().unwrap_or_default(),
        p.at.iter().copied().max().unwrap_or_default(),
    );
    let key = (model.clone(), *version);
    let bytes = match tokio::task::spawn_blocking(move || segment(&key, p)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            tracing::error!(%model, version, error = %e, "prediction log: could not encode a segment");
            METRICS.prediction_log_dropped.inc_by(rows as u64);
            return;
        }
        Err(e) => {
            tracing::error!(%model, version, error = %e, "prediction log: the encoder stopped");
            METRICS.prediction_log_dropped.inc_by(rows as u64);
            return;
        }
    };
    match registry
        .add_prediction_segment(model, *version, &bytes, rows as i64, span)
        .await
    {
        Ok(_) => {
            METRICS.prediction_log_written.inc_by(rows as u64);
        }
        Err(e) => {
            tracing::error!(%model, version, error = %e, "prediction log: could not store a segment");
            METRICS.prediction_log_dropped.inc_by(rows as u64);
        }
    }
}

/// The Parquet bytes of a segment: `request_id`, `at`, `model`, `version`, `deployment`,
/// `revision` (of the deployment, null for the model endpoint), `row`, the inputs, then the
/// outputs prefixed with [`OUTPUT_PREFIX`]. Every row says which version answered it.
fn segment((model, version): &(String, i64), p: Pending) -> Result<Vec<u8>, String> {
    let join = |batches: Vec<Batch>| -> Result<RecordBatch, String> {
        let schema = batches.first().map(schema_of).unwrap_or_default();
        batch_to_record_batch(&concat(&schema, batches)?)
    };
    let rows = p.at.len();
    let inputs = join(p.inputs)?;
    let outputs = join(p.outputs)?;
    let mut fields = vec![
        Field::new("request_id", DataType::Utf8, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            false,
        ),
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("deployment", DataType::Utf8, false),
        Field::new("revision", DataType::Int64, true),
        Field::new("row", DataType::Int32, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            p.request_ids.iter().map(|s| &**s),
        )),
        Arc::new(TimestampMillisecondArray::from(p.at).with_timezone("+00:00")),
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            model.as_str(),
            rows,
        ))),
        Arc::new(Int64Array::from(vec![*version; rows])),
        Arc::new(StringArray::from_iter_values(
            p.deployments.iter().map(|s| &**s),
        )),
        Arc::new(Int64Array::from(p.revisions)),
        Arc::new(Int32Array::from(p.row)),
    ];
    for (f, a) in inputs.schema().fields().iter().zip(inputs.columns()) {
        fields.push(f.as_ref().clone());
        arrays.push(a.clone());
    }
    for (f, a) in outputs.schema().fields().iter().zip(outputs.columns()) {
        fields.push(
            f.as_ref()
                .clone()
                .with_name(format!("{OUTPUT_PREFIX}{}", f.name())),
        );
        arrays.push(a.clone());
    }
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, batch.schema(), None).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(out)
}
