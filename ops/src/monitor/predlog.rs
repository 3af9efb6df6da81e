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

/// A segment's rows read back, with the model and version the registry lists it under.
pub struct ReadSegment {
    /// Its rows.
    pub batch: RecordBatch,
    /// The model.
    pub model: String,
    /// The version.
    pub version: i64,
}

/// Segments read back as one table: every column any of them has, in the order first seen,
/// nullable wherever one segment allows nulls or lacks the column (its rows get nulls). A
/// segment written before rows said which version answered gets its `model` and `version`
/// from the registry's listing. A column whose type differs between segments cannot be
/// merged; the error names it.
pub fn merge_segments(
    segments: Vec<ReadSegment>,
) -> Result<(arrow_schema::SchemaRef, Vec<RecordBatch>), String> {
    let batches: Vec<RecordBatch> = segments
        .into_iter()
        .map(with_version)
        .collect::<Result<_, _>>()?;
    let mut fields: Vec<Field> = Vec::new();
    for b in &batches {
        for f in b.schema().fields() {
            match fields.iter_mut().find(|u| u.name() == f.name()) {
                Some(u) if u.data_type() != f.data_type() => {
                    return Err(format!(
                        "column `{}` is {} in one segment and {} in another",
                        f.name(),
                        u.data_type(),
                        f.data_type()
                    ));
                }
                Some(u) => {
                    if f.is_nullable() && !u.is_nullable() {
                        *u = u.clone().with_nullable(true);
                    }
                }
                None => fields.push(f.as_ref().clone()),
            }
        }
    }
    for u in &mut fields {
        if batches
            .iter()
            .any(|b| b.schema().field_with_name(u.name()).is_err())
        {
            *u = u.clone().with_nullable(true);
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let merged = batches
        .iter()
        .map(|b| {
            let columns: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .map(|f| {
                    b.column_by_name(f.name())
                        .cloned()
                        .unwrap_or_else(|| arrow_array::new_null_array(f.data_type(), b.num_rows()))
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((schema, merged))
}

/// A segment's rows with `model` and `version` columns, taken from the listing where the
/// segment has none.
fn with_version(s: ReadSegment) -> Result<RecordBatch, String> {
    let schema = s.batch.schema();
    if schema.field_with_name("version").is_ok() {
        return Ok(s.batch);
    }
    let rows = s.batch.num_rows();
    let mut fields: Vec<Field> = vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            s.model.as_str(),
            rows,
        ))),
        Arc::new(Int64Array::from(vec![s.version; rows])),
    ];
    for (f, c) in schema.fields().iter().zip(s.batch.columns()) {
        if f.name() != "model" {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(version: i64, nullable: bool, extra: Option<&str>) -> ReadSegment {
        let mut fields = vec![
            Field::new("request_id", DataType::Utf8, false),
            Field::new("total_charges", DataType::Float64, nullable),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["a"])),
            Arc::new(arrow_array::Float64Array::from(vec![if nullable {
                None
            } else {
                Some(1.5)
            }])),
        ];
        if let Some(name) = extra {
            fields.push(Field::new(name, DataType::Int64, false));
            columns.push(Arc::new(Int64Array::from(vec![7])));
        }
        ReadSegment {
            batch: RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap(),
            model: "churn".into(),
            version,
        }
    }

    #[test]
    fn segments_that_differ_in_nullability_or_columns_merge() {
        let (schema, batches) = merge_segments(vec![
            segment(1, true, None),
            segment(1, false, None),
            segment(2, false, Some("tenure")),
        ])
        .unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["model", "version", "request_id", "total_charges", "tenure"]
        );
        assert!(
            schema
                .field_with_name("total_charges")
                .unwrap()
                .is_nullable()
        );
        assert!(schema.field_with_name("tenure").unwrap().is_nullable());
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].column(4).null_count(), 1);
        let versions = batches[2]
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(versions.value(0), 2);
    }

    #[test]
    fn a_column_of_two_types_is_named() {
        let mut other = segment(1, false, None);
        other.batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "total_charges",
                DataType::Utf8,
                false,
            )])),
            vec![Arc::new(StringArray::from(vec!["x"]))],
        )
        .unwrap();
        let e = merge_segments(vec![segment(1, false, None), other]).unwrap_err();
        assert!(e.contains("`total_charges` is Float64"), "{e}");
    }
}
