//! Live metrics: labels that arrived later, joined with the prediction log by request id and
//! row or by a business key, and scored as the held-out split was at training (accuracy,
//! precision, recall, ROC AUC and log loss for classifiers; RMSE and MAE for regressors), over
//! a time window and optionally only the last N labelled predictions.

use std::collections::{BTreeMap, HashMap};

use arrow_array::{Array, TimestampMillisecondArray};
use ferry_registry::{Feedback, Registry, now_ms};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use super::metrics::METRICS;
use super::predlog::OUTPUT_PREFIX;
use ferry_core::data::record_batch_to_batch;
use ferry_core::metrics::{as_strings, evaluate};
use ferry_runtime::bindings::types::{Batch, Column, ColumnData, Task};

/// Live metrics of one version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LiveMetrics {
    /// The registered model.
    pub model: String,
    /// The version.
    pub version: i64,
    /// Predictions answered within this many seconds were considered.
    pub window_seconds: u64,
    /// Only the last this many labelled predictions were scored, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<usize>,
    /// Logged predictions in the window.
    pub predictions: usize,
    /// Labelled predictions scored.
    pub labelled: usize,
    /// Labels in the window that matched no logged prediction of this version (kept; they
    /// may match once the segment holding their prediction is written).
    pub unmatched: usize,
    /// The metrics (empty with no labelled prediction).
    pub metrics: BTreeMap<String, f64>,
    /// The same metrics on the held-out split at training.
    pub training: BTreeMap<String, f64>,
}

/// Parses the lineage's task name.
pub fn task_of(name: &str) -> Option<Task> {
    match name {
        "binary-classification" => Some(Task::BinaryClassification),
        "multiclass-classification" => Some(Task::MulticlassClassification),
        "regression" => Some(Task::Regression),
        _ => None,
    }
}

struct Logged {
    at: i64,
    prediction: String,
    value: f64,
    probability: Option<f64>,
}

/// Computes the live metrics of `model` version `version` over the last `window_seconds`.
pub async fn live_metrics(
    registry: &Registry,
    model: &str,
    version: i64,
    task: Task,
    training: BTreeMap<String, f64>,
    window_seconds: u64,
    last: Option<usize>,
) -> Result<LiveMetrics, String> {
    let since = now_ms() - (window_seconds as i64).saturating_mul(1000);
    let labels: Vec<Feedback> = registry
        .feedback_since(model, since)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|f| f.version == version || f.version < 0)
        .collect();
    let key_columns: Vec<String> = {
        let mut k: Vec<String> = labels
            .iter()
            .filter(|f| !f.key_column.is_empty())
            .map(|f| f.key_column.clone())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    let mut logged: Vec<Logged> = Vec::new();
    let mut by_request: HashMap<(String, i64), usize> = HashMap::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    let segments = registry
        .prediction_segments(model, Some(version), Some(since), None)
        .await
        .map_err(|e| e.to_string())?;
    for s in &segments {
        let bytes = match registry.blobs().get(&s.digest).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(segment = %s.digest, error = %e, "live metrics: a prediction-log segment cannot be read; skipped");
                continue;
            }
        };
        let batches = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .and_then(|b| b.build())
            .map_err(|e| e.to_string())
            .and_then(|r| r.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string()));
        let batches = match batches {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(segment = %s.digest, error = %e, "live metrics: a prediction-log segment is corrupt; skipped");
                continue;
            }
        };
        for rb in batches {
            let Some(at) = rb
                .column_by_name("at")
                .and_then(|a| a.as_any().downcast_ref::<TimestampMillisecondArray>())
                .map(|a| (0..a.len()).map(|i| a.value(i)).collect::<Vec<i64>>())
            else {
                continue;
            };
            let b = record_batch_to_batch(&rb)?;
            let col = |name: &str| b.columns.iter().find(|c| c.name == name);
            let (Some(ids), Some(rows), Some(pred)) = (
                col("request_id"),
                col("row"),
                col(&format!("{OUTPUT_PREFIX}prediction")),
            ) else {
                continue;
            };
            let ids = as_strings(ids);
            let rows = as_strings(rows);
            let preds = as_strings(pred);
            let values = numbers(pred);
            let probs = col(&format!("{OUTPUT_PREFIX}probability")).map(numbers);
            let keys: Vec<(String, Vec<String>)> = key_columns
                .iter()
                .filter_map(|k| col(k).map(|c| (k.clone(), as_strings(c))))
                .collect();
            for i in 0..b.num_rows as usize {
                if at[i] < since {
                    continue;
                }
                let idx = logged.len();
                logged.push(Logged {
                    at: at[i],
                    prediction: preds[i].clone(),
                    value: values[i],
                    probability: probs.as_ref().map(|p| p[i]),
                });
                by_request.insert((ids[i].clone(), rows[i].parse().unwrap_or(0)), idx);
                for (k, vals) in &keys {
                    by_key.insert((k.clone(), vals[i].clone()), idx);
                }
            }
        }
    }
    let mut pairs: Vec<(usize, String)> = Vec::new();
    let mut unmatched = 0;
    for f in &labels {
        let hit = if f.key_column.is_empty() {
            by_request.get(&(f.request_id.clone(), f.row_index))
        } else {
            by_key.get(&(f.key_column.clone(), f.key_value.clone()))
        };
        match hit {
            Some(&i) => pairs.push((i, label_text(&f.label))),
            None => unmatched += 1,
        }
    }
    pairs.sort_by_key(|(i, _)| logged[*i].at);
    if let Some(n) = last
        && pairs.len() > n
    {
        pairs.drain(..pairs.len() - n);
    }
    let mut metrics = BTreeMap::new();
    if !pairs.is_empty() {
        let labels_col = match task {
            Task::Regression => Column {
                name: "label".into(),
                data: ColumnData::Float64(
                    pairs
                        .iter()
                        .map(|(_, l)| l.parse::<f64>().unwrap_or(f64::NAN))
                        .collect(),
                ),
                nulls: None,
            },
            _ => Column {
                name: "label".into(),
                data: ColumnData::Text(pairs.iter().map(|(_, l)| l.clone()).collect()),
                nulls: None,
            },
        };
        let prediction = match task {
            Task::Regression => {
                ColumnData::Float64(pairs.iter().map(|(i, _)| logged[*i].value).collect())
            }
            _ => ColumnData::Text(
                pairs
                    .iter()
                    .map(|(i, _)| logged[*i].prediction.clone())
                    .collect(),
            ),
        };
        let mut outputs = vec![Column {
            name: "prediction".into(),
            data: prediction,
            nulls: None,
        }];
        if pairs.iter().all(|(i, _)| logged[*i].probability.is_some()) {
            outputs.push(Column {
                name: "probability".into(),
                data: ColumnData::Float64(
                    pairs
                        .iter()
                        .map(|(i, _)| logged[*i].probability.unwrap_or(f64::NAN))
                        .collect(),
                ),
                nulls: None,
            });
        }
        let batch = Batch {
            num_rows: pairs.len() as u32,
            columns: outputs,
        };
        metrics = evaluate(task, &labels_col, &batch, None)?
            .metrics
            .into_iter()
            .filter(|(_, v)| v.is_finite())
            .collect();
    }
    let window = if last.is_some() { "count" } else { "time" };
    METRICS.set_live(model, version, window, &metrics, pairs.len());
    METRICS
        .feedback_unmatched
        .get_or_create(&super::metrics::ModelLabels {
            model: model.to_string(),
            version: version.to_string(),
        })
        .set(unmatched as i64);
    Ok(LiveMetrics {
        model: model.to_string(),
        version,
        window_seconds,
        last,
        predictions: logged.len(),
        labelled: pairs.len(),
        unmatched,
        metrics,
        training,
    })
}

fn numbers(c: &Column) -> Vec<f64> {
    match &c.data {
        ColumnData::Float64(v) => v.clone(),
        ColumnData::Int64(v) => v.iter().map(|&x| x as f64).collect(),
        _ => as_strings(c)
            .iter()
            .map(|s| s.parse().unwrap_or(f64::NAN))
            .collect(),
    }
}

/// A stored label (JSON) as the text classes are compared in.
fn label_text(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(_) => json.to_string(),
    }
}

/// Keeps `ferry_live_metric` current in a server: every version labels arrived for within
/// `window` is scored over it when labels arrive (`wake`) and every `every`, and so is every
/// version that still shows live metrics, until its window has nothing left and its metrics
/// are dropped.
pub async fn keep_live_metrics(
    registry: Registry,
    window: std::time::Duration,
    every: std::time::Duration,
    wake: std::sync::Arc<tokio::sync::Notify>,
) {
    loop {
        if let Err(e) = refresh_live(&registry, window).await {
            tracing::warn!(error = %e, "could not score the live windows");
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Scores every version that has labels in the window or live metrics now.
pub async fn refresh_live(registry: &Registry, window: std::time::Duration) -> Result<(), String> {
    let seconds = window.as_secs().max(1);
    let since = now_ms() - (seconds as i64).saturating_mul(1000);
    let mut versions: Vec<(String, i64)> = METRICS.live_versions();
    for (model, version) in registry
        .feedback_versions_since(since)
        .await
        .map_err(|e| e.to_string())?
    {
        if version >= 0 {
            versions.push((model, version));
        } else {
            for s in registry
                .prediction_segments(&model, None, Some(since), None)
                .await
                .map_err(|e| e.to_string())?
            {
                versions.push((model.clone(), s.version));
            }
        }
    }
    versions.sort();
    versions.dedup();
    for (model, version) in versions {
        let Ok(v) = registry.model_version(&model, version).await else {
            continue;
        };
        let lineage = v
            .lineage
            .as_deref()
            .and_then(|l| ferry_core::lineage::Lineage::parse(l).ok());
        let Some((task, training)) = lineage.as_ref().and_then(|l| {
            l.model
                .as_ref()
                .and_then(|m| task_of(&m.task))
                .map(|t| (t, l.metrics.clone()))
        }) else {
            continue;
        };
        live_metrics(registry, &model, version, task, training, seconds, None).await?;
    }
    Ok(())
}
