//! Evaluation metrics on the held-out split, and the gates a model must pass.

use std::collections::BTreeMap;

use ferry_runtime::bindings::types::{Batch, Column, ColumnData, Task};

/// Metrics by name, plus the confusion matrix of a classifier.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Metric values by name.
    pub metrics: BTreeMap<String, f64>,
    /// Rows are true classes, columns predicted classes, both in `classes` order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion_matrix: Option<Vec<Vec<u64>>>,
    /// The classes of the confusion matrix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// The positive class of a binary classifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive_class: Option<String>,
}

/// The task's name as the contract spells it.
pub fn task_name(t: Task) -> &'static str {
    match t {
        Task::BinaryClassification => "binary-classification",
        Task::MulticlassClassification => "multiclass-classification",
        Task::Regression => "regression",
    }
}

/// The metrics computed for a task, in report order.
pub fn metric_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::BinaryClassification => &[
            "accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "log_loss",
        ],
        Task::MulticlassClassification => {
            &["accuracy", "precision_macro", "recall_macro", "f1_macro"]
        }
        Task::Regression => &["rmse", "mae", "r2"],
    }
}

/// The values of a column as text (nulls as the empty string), for comparing classes.
pub fn as_strings(col: &Column) -> Vec<String> {
    let n = match &col.data {
        ColumnData::Float64(v) => v.len(),
        ColumnData::Int64(v) => v.len(),
        ColumnData::Boolean(v) => v.len(),
        ColumnData::Text(v) => v.len(),
    };
    (0..n)
        .map(|i| {
            if col.nulls.as_ref().is_some_and(|m| m[i]) {
                return String::new();
            }
            match &col.data {
                ColumnData::Float64(v) => v[i].to_string(),
                ColumnData::Int64(v) => v[i].to_string(),
                ColumnData::Boolean(v) => v[i].to_string(),
                ColumnData::Text(v) => v[i].clone(),
            }
        })
        .collect()
}

fn as_f64(col: &Column) -> Result<Vec<f64>, String> {
    Ok(match &col.data {
        ColumnData::Float64(v) => v.clone(),
        ColumnData::Int64(v) => v.iter().map(|&x| x as f64).collect(),
        _ => return Err(format!("column `{}` is not numeric", col.name)),
    })
}

/// The area under the ROC curve, with tied scores sharing their average rank.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> f64 {
    let p = positive.iter().filter(|&&x| x).count() as f64;
    let n = positive.len() as f64 - p;
    if p == 0.0 || n == 0.0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum += avg;
            }
        }
        i = j + 1;
    }
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Evaluates a model's predictions against the true labels.
pub fn evaluate(
    task: Task,
    labels: &Column,
    predictions: &Batch,
    positive_class: Option<&str>,
) -> Result<Evaluation, String> {
    let prediction = predictions
        .columns
        .iter()
        .find(|c| c.name == "prediction")
        .ok_or("the model's output has no `prediction` column")?;
    let mut ev = Evaluation::default();
    match task {
        Task::Regression => {
            let y = as_f64(labels)?;
            let p = as_f64(prediction)?;
            let n = y.len() as f64;
            let mean = y.iter().sum::<f64>() / n;
            let sse: f64 = y.iter().zip(&p).map(|(a, b)| (a - b).powi(2)).sum();
            let sst: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
            let mae: f64 = y.iter().zip(&p).map(|(a, b)| (a - b).abs()).sum::<f64>() / n;
            ev.metrics.insert("rmse".into(), (sse / n).sqrt());
            ev.metrics.insert("mae".into(), mae);
            ev.metrics.insert("r2".into(), 1.0 - ratio(sse, sst));
        }
        Task::BinaryClassification | Task::MulticlassClassification => {
            let y = as_strings(labels);
            let p = as_strings(prediction);
            let mut classes: Vec<String> = y.iter().chain(&p).cloned().collect();
            classes.sort();
            classes.dedup();
            let idx = |s: &str| classes.iter().position(|c| c == s).unwrap_or(0);
            let k = classes.len();
            let mut cm = vec![vec![0u64; k]; k];
            for (a, b) in y.iter().zip(&p) {
                cm[idx(a)][idx(b)] += 1;
            }
            let total = y.len() as f64;
            let correct: u64 = (0..k).map(|i| cm[i][i]).sum();
            ev.metrics
                .insert("accuracy".into(), ratio(correct as f64, total));
            let per_class = |c: usize| {
                let tp = cm[c][c] as f64;
                let fp: f64 = (0..k).filter(|&r| r != c).map(|r| cm[r][c] as f64).sum();
                let fn_: f64 = (0..k).filter(|&q| q != c).map(|q| cm[c][q] as f64).sum();
                let precision = ratio(tp, tp + fp);
                let recall = ratio(tp, tp + fn_);
                (
                    precision,
                    recall,
                    ratio(2.0 * precision * recall, precision + recall),
                )
            };
            if task == Task::BinaryClassification {
                let probability = predictions.columns.iter().find(|c| c.name == "probability");
                let probs = probability.map(as_f64).transpose()?;
                let positive = match (positive_class, &probs) {
                    (Some(pc), _) => pc.to_string(),
                    (None, Some(pr)) => {
                        if let Some(i) = pr.iter().position(|&x| x >= 0.5) {
                            p[i].clone()
                        } else {
                            let neg = pr.iter().position(|&x| x < 0.5).map(|i| p[i].clone());
                            classes
                                .iter()
                                .find(|c| Some(*c) != neg.as_ref())
                                .cloned()
                                .unwrap_or_default()
                        }
                    }
                    (None, None) => classes.last().cloned().unwrap_or_default(),
                };
                let (precision, recall, f1) = per_class(idx(&positive));
                ev.metrics.insert("precision".into(), precision);
                ev.metrics.insert("recall".into(), recall);
                ev.metrics.insert("f1".into(), f1);
                if let Some(pr) = probs {
                    let is_pos: Vec<bool> = y.iter().map(|v| *v == positive).collect();
                    ev.metrics.insert("roc_auc".into(), roc_auc(&pr, &is_pos));
                    let eps = 1e-15;
                    let ll: f64 = pr
                        .iter()
                        .zip(&is_pos)
                        .map(|(&q, &pos)| {
                            let q = q.clamp(eps, 1.0 - eps);
                            if pos { -q.ln() } else { -(1.0 - q).ln() }
                        })
                        .sum::<f64>()
                        / total;
                    ev.metrics.insert("log_loss".into(), ll);
                }
                ev.positive_class = Some(positive);
            } else {
                let (mut ps, mut rs, mut fs) = (0.0, 0.0, 0.0);
                for c in 0..k {
                    let (pr, re, f) = per_class(c);
                    ps += pr;
                    rs += re;
                    fs += f;
                }
                let kf = k.max(1) as f64;
                ev.metrics.insert("precision_macro".into(), ps / kf);
                ev.metrics.insert("recall_macro".into(), rs / kf);
                ev.metrics.insert("f1_macro".into(), fs / kf);
            }
            ev.confusion_matrix = Some(cm);
            ev.classes = classes;
        }
    }
    Ok(ev)
}

/// A condition on a metric, such as `roc_auc >= 0.80`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// The metric.
    pub metric: String,
    /// `>=`, `>`, `<=`, `<`, `==`.
    pub op: String,
    /// The threshold.
    pub threshold: f64,
}

impl Gate {
    /// Parses `METRIC OP NUMBER`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("gate {text:?}: expected METRIC OP NUMBER, like `roc_auc >= 0.80`");
        let op_at = text.find(['<', '>', '=']).ok_or_else(bad)?;
        let metric = text[..op_at].trim().to_string();
        let rest = &text[op_at..];
        let op_len = rest.chars().take_while(|c| "<>=".contains(*c)).count();
        let op = rest[..op_len].to_string();
        if !["<", "<=", ">", ">=", "=="].contains(&op.as_str()) || metric.is_empty() {
            return Err(bad());
        }
        let threshold: f64 = rest[op_len..].trim().parse().map_err(|_| bad())?;
        Ok(Self {
            metric,
            op,
            threshold,
        })
    }

    /// Checks the gate; the error says why it failed.
    pub fn check(&self, metrics: &BTreeMap<String, f64>) -> Result<(), String> {
        let Some(&v) = metrics.get(&self.metric) else {
            return Err(format!(
                "{self}: the metric `{}` was not computed (computed: {})",
                self.metric,
                metrics.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        let ok = match self.op.as_str() {
            "<" => v < self.threshold,
            "<=" => v <= self.threshold,
            ">" => v > self.threshold,
            ">=" => v >= self.threshold,
            _ => v == self.threshold,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{self}: {} is {v:.6}", self.metric))
        }
    }
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op, self.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            0.75
        );
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), 0.5);
        assert!(roc_auc(&[0.5], &[true]).is_nan());
    }

    #[test]
    fn gates_parse_and_check() {
        let g = Gate::parse("roc_auc >= 0.8").unwrap();
        let mut m = BTreeMap::new();
        m.insert("roc_auc".to_string(), 0.81);
        assert!(g.check(&m).is_ok());
        m.insert("roc_auc".to_string(), 0.79);
        assert!(g.check(&m).unwrap_err().contains("0.79"));
        assert!(Gate::parse("roc_auc").is_err());
        assert!(Gate::parse(">= 3").is_err());
        assert!(Gate::parse("auc => 3").is_err());
        assert!(Gate::parse("auc >= high").is_err());
        assert!(
            Gate::parse("rmse < 2")
                .unwrap()
                .check(&BTreeMap::new())
                .is_err()
        );
    }
}
