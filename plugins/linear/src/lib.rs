//! `linear`: logistic regression (binary classification) and linear regression with an L2
//! penalty, trained inside the plugin.
//!
//! The objective is `sum(loss_i) + l2/2 * |w|^2` (the intercept is not penalised): for
//! regression that is scikit-learn's `Ridge(alpha=l2)`, for classification
//! `LogisticRegression(C=1/l2)`. The default solver (`newton`: Newton's method for logistic
//! regression, the normal equations for linear regression) is exact and deterministic; the
//! `sgd` solver shuffles with `seed`, so a given seed always gives the same model.

use ferry_sdk::prelude::*;
use ferry_sdk::{ModelInfo, ModelOutput, Task};
use serde::{Deserialize, Serialize};

const FORMAT: &str = "ferry-linear/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum TaskName {
    BinaryClassification,
    Regression,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Solver {
    #[default]
    Newton,
    Sgd,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainConfig {
    task: TaskName,
    features: Option<Vec<String>>,
    #[serde(default = "one")]
    l2: f64,
    #[serde(default = "yes")]
    fit_intercept: bool,
    #[serde(default)]
    solver: Solver,
    #[serde(default = "hundred")]
    max_iter: u32,
    #[serde(default = "tol")]
    tol: f64,
    #[serde(default = "lr")]
    learning_rate: f64,
    #[serde(default)]
    seed: u64,
}

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}
fn hundred() -> u32 {
    100
}
fn tol() -> f64 {
    1e-10
}
fn lr() -> f64 {
    0.05
}

/// A trained model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Artifact {
    format: String,
    task: TaskName,
    features: Vec<String>,
    weights: Vec<f64>,
    intercept: f64,
    /// For classification: the two classes, negative first.
    classes: Vec<String>,
    /// The type of the labels, so predictions come back in it.
    label_type: String,
}

fn dense(features: &Batch, names: &[String]) -> Result<Vec<f64>> {
    let n = features.len();
    let d = names.len();
    let mut x = vec![0.0; n * d];
    for (j, name) in names.iter().enumerate() {
        let column = features.column(name)?;
        let values = column.numeric()?;
        for i in 0..n {
            if column.is_null(i) {
                return Err(input_error(
                    name,
                    Some(i as u32),
                    "null feature; impute it first",
                ));
            }
            if !values[i].is_finite() {
                return Err(input_error(
                    name,
                    Some(i as u32),
                    format!("{} is not finite", values[i]),
                ));
            }
            x[i * d + j] = values[i];
        }
    }
    Ok(x)
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Solves `a x = b` for a symmetric positive definite `a` (d×d, row-major) by Cholesky.
fn cholesky_solve(mut a: Vec<f64>, mut b: Vec<f64>, d: usize) -> Result<Vec<f64>> {
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        if s.is_nan() || s <= 0.0 {
            return Err(internal_error(
                "the system is singular; raise `l2` or remove constant or duplicate features",
            ));
        }
        let l = s.sqrt();
        a[j * d + j] = l;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / l;
        }
    }
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * d + k] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
    for i in (0..d).rev() {
        let mut s = b[i];
        for k in i + 1..d {
            s -= a[k * d + i] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
    Ok(b)
}

/// Parameters as one vector: the weights, then the intercept (when fitted).
struct Problem<'a> {
    x: &'a [f64],
    y: &'a [f64],
    n: usize,
    d: usize,
    p: usize,
    l2: f64,
    fit_intercept: bool,
    logistic: bool,
}

impl Problem<'_> {
    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    fn predict_raw(&self, theta: &[f64], i: usize) -> f64 {
        let mut z: f64 = self.row(i).iter().zip(theta).map(|(a, b)| a * b).sum();
        if self.fit_intercept {
            z += theta[self.d];
        }
        if self.logistic { sigmoid(z) } else { z }
    }

    /// One Newton step for logistic regression, or the exact solution for least squares.
    fn newton_step(&self, theta: &[f64]) -> Result<Vec<f64>> {
        let (p, d) = (self.p, self.d);
        let mut h = vec![0.0; p * p];
        let mut g = vec![0.0; p];
        let mut xi = vec![1.0; p];
        for i in 0..self.n {
            xi[..d].copy_from_slice(self.row(i));
            let mu = self.predict_raw(theta, i);
            let w = if self.logistic {
                (mu * (1.0 - mu)).max(1e-12)
            } else {
                1.0
            };
            let r = mu - self.y[i];
            for a in 0..p {
                g[a] += r * xi[a];
                let wa = w * xi[a];
                for b in 0..=a {
                    h[a * p + b] += wa * xi[b];
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                h[b * p + a] = h[a * p + b];
            }
        }
        for j in 0..d {
            g[j] += self.l2 * theta[j];
            h[j * p + j] += self.l2;
        }
        if self.fit_intercept {
            h[d * p + d] += 1e-12;
        }
        cholesky_solve(h, g, p)
    }
}

fn train(features: &Batch, labels: &Column, config: &str) -> Result<Artifact> {
    let config: TrainConfig = parse_config(config)?;
    if config.l2 < 0.0 || !config.l2.is_finite() {
        return Err(config_error("`l2` must be a finite number >= 0"));
    }
    if labels.len() != features.len() {
        return Err(input_error(
            &labels.name,
            None,
            format!(
                "{} labels for {} rows of features",
                labels.len(),
                features.len()
            ),
        ));
    }
    if features.is_empty() {
        return Err(input_error(&labels.name, None, "no rows to train on"));
    }
    let names = select_columns(
        "features",
        config.features.as_deref(),
        &features.schema(),
        is_numeric,
        "numbers",
    )?;
    if names.is_empty() {
        return Err(config_error(
            "there are no numeric feature columns to train on",
        ));
    }
    let x = dense(features, &names)?;
    let n = features.len();
    let d = names.len();

    let mut classes = Vec::new();
    let y: Vec<f64> = match config.task {
        TaskName::Regression => {
            let v = labels.numeric()?;
            for i in 0..n {
                if labels.is_null(i) || !v[i].is_finite() {
                    return Err(input_error(
                        &labels.name,
                        Some(i as u32),
                        "the label is null or not finite",
                    ));
                }
            }
            v.into_owned()
        }
        TaskName::BinaryClassification => {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(
                    labels
                        .value_string(i)
                        .ok_or_else(|| input_error(&labels.name, Some(i as u32), "null label"))?,
                );
            }
            let mut distinct = values.clone();
            distinct.sort();
            distinct.dedup();
            if labels.data_type() != DataType::Text {
                distinct.sort_by(|a, b| {
                    let (fa, fb) = (
                        a.parse::<f64>().unwrap_or(f64::NAN),
                        b.parse::<f64>().unwrap_or(f64::NAN),
                    );
                    fa.total_cmp(&fb).then(a.cmp(b))
                });
            }
            if distinct.len() != 2 {
                return Err(input_error(
                    &labels.name,
                    None,
                    format!(
                        "binary classification needs exactly 2 classes, found {}: {:?}",
                        distinct.len(),
                        distinct.iter().take(5).collect::<Vec<_>>()
                    ),
                ));
            }
            let y = values
                .iter()
                .map(|v| if *v == distinct[1] { 1.0 } else { 0.0 })
                .collect();
            classes = distinct;
            y
        }
    };

    let p = d + usize::from(config.fit_intercept);
    let problem = Problem {
        x: &x,
        y: &y,
        n,
        d,
        p,
        l2: config.l2,
        fit_intercept: config.fit_intercept,
        logistic: config.task == TaskName::BinaryClassification,
    };
    let mut theta = vec![0.0; p];
    match config.solver {
        Solver::Newton => {
            for _ in 0..config.max_iter.max(1) {
                let step = problem.newton_step(&theta)?;
                let mut largest = 0.0f64;
                for (t, s) in theta.iter_mut().zip(&step) {
                    *t -= s;
                    largest = largest.max(s.abs());
                }
                if !problem.logistic || largest < config.tol {
                    break;
                }
            }
        }
        Solver::Sgd => {
            let mut rng = config.seed ^ 0x9E37_79B9_7F4A_7C15;
            let mut order: Vec<usize> = (0..n).collect();
            for epoch in 0..config.max_iter.max(1) {
                for i in (1..n).rev() {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    order.swap(i, (rng % (i as u64 + 1)) as usize);
                }
                let eta = config.learning_rate / (1.0 + epoch as f64 * 0.1);
                for &i in &order {
                    let r = problem.predict_raw(&theta, i) - y[i];
                    for j in 0..d {
                        theta[j] -= eta * (r * x[i * d + j] + config.l2 / n as f64 * theta[j]);
                    }
                    if config.fit_intercept {
                        theta[d] -= eta * r;
                    }
                }
            }
        }
    }
    if theta.iter().any(|t| !t.is_finite()) {
        return Err(internal_error(
            "training diverged; lower `learning_rate` or scale the features",
        ));
    }
    let intercept = if config.fit_intercept { theta[d] } else { 0.0 };
    theta.truncate(d);
    Ok(Artifact {
        format: FORMAT.into(),
        task: config.task,
        features: names,
        weights: theta,
        intercept,
        classes,
        label_type: labels.data_type().name().into(),
    })
}

/// A loaded linear model.
pub struct LinearModel {
    artifact: Artifact,
}

impl Predictor for LinearModel {
    fn describe(&self) -> ModelInfo {
        let a = &self.artifact;
        let inputs = a
            .features
            .iter()
            .map(|f| Field {
                name: f.clone(),
                data_type: DataType::Float64,
                nullable: false,
            })
            .collect();
        let outputs = match a.task {
            TaskName::Regression => vec![ModelOutput {
                name: "prediction".into(),
                description: "the predicted value".into(),
            }],
            TaskName::BinaryClassification => vec![
                ModelOutput {
                    name: "probability".into(),
                    description: format!("probability of class {:?}", a.classes[1]),
                },
                ModelOutput {
                    name: "prediction".into(),
                    description: "the more probable class".into(),
                },
            ],
        };
        ModelInfo {
            task: match a.task {
                TaskName::Regression => Task::Regression,
                TaskName::BinaryClassification => Task::BinaryClassification,
            },
            inputs,
            outputs,
        }
    }

    fn predict(&self, features: &Batch) -> Result<Batch> {
        let a = &self.artifact;
        let x = dense(features, &a.features)?;
        let d = a.features.len();
        let n = features.len();
        let raw: Vec<f64> = (0..n)
            .map(|i| {
                x[i * d..(i + 1) * d]
                    .iter()
                    .zip(&a.weights)
                    .map(|(p, q)| p * q)
                    .sum::<f64>()
                    + a.intercept
            })
            .collect();
        let mut out = BatchBuilder::new(n);
        match a.task {
            TaskName::Regression => out.push(Column::float64("prediction", raw)),
            TaskName::BinaryClassification => {
                let prob: Vec<f64> = raw.into_iter().map(sigmoid).collect();
                let pick = |p: &f64| {
                    if *p >= 0.5 {
                        &a.classes[1]
                    } else {
                        &a.classes[0]
                    }
                };
                let label = match a.label_type.as_str() {
                    "float64" => Column::float64(
                        "prediction",
                        prob.iter()
                            .map(|p| pick(p).parse().unwrap_or(f64::NAN))
                            .collect(),
                    ),
                    "int64" => Column::int64(
                        "prediction",
                        prob.iter()
                            .map(|p| pick(p).parse().unwrap_or_default())
                            .collect(),
                    ),
                    "boolean" => Column::boolean(
                        "prediction",
                        prob.iter().map(|p| pick(p) == "true").collect(),
                    ),
                    _ => Column::text("prediction", prob.iter().map(|p| pick(p).clone()).collect()),
                };
                out.push(Column::float64("probability", prob));
                out.push(label);
            }
        }
        out.build()
    }
}

/// The plugin.
pub struct Linear;

impl Plugin for Linear {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("linear")
            .keywords([
                "logistic-regression",
                "linear-regression",
                "ridge",
                "classification",
                "regression",
            ])
            .timeout_ms(120_000)
            .memory_mib(1024)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Model for Linear {
    type Predictor = LinearModel;

    fn load(artifact: &[u8], _config: &str) -> Result<LinearModel> {
        let artifact: Artifact = serde_json::from_slice(artifact)
            .map_err(|e| config_error(format!("the artifact is not a linear model: {e}")))?;
        if artifact.format != FORMAT {
            return Err(config_error(format!(
                "artifact format {:?}, expected {FORMAT:?}",
                artifact.format
            )));
        }
        if artifact.weights.len() != artifact.features.len()
            || (artifact.task == TaskName::BinaryClassification && artifact.classes.len() != 2)
        {
            return Err(config_error(
                "the artifact is inconsistent (weights, features and classes disagree)",
            ));
        }
        Ok(LinearModel { artifact })
    }

    fn train(features: &Batch, labels: &Column, config: &str) -> Result<Vec<u8>> {
        let artifact = train(features, labels, config)?;
        serde_json::to_vec(&artifact).map_err(|e| internal_error(e.to_string()))
    }
}

ferry_sdk::export_model!(Linear);

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(cols: Vec<Column>) -> Batch {
        let n = cols[0].len();
        cols.into_iter()
            .fold(BatchBuilder::new(n), |b, c| b.column(c))
            .build()
            .unwrap()
    }

    #[test]
    fn ridge_recovers_a_line() {
        let xs: Vec<f64> = (0..50).map(|i| i as f64 / 10.0).collect();
        let ys: Vec<f64> = xs.iter().map(|x| 3.0 * x - 2.0).collect();
        let a = train(
            &batch(vec![Column::float64("x", xs)]),
            &Column::float64("y", ys),
            r#"{"task":"regression","l2":0}"#,
        )
        .unwrap();
        assert!(
            (a.weights[0] - 3.0).abs() < 1e-9 && (a.intercept + 2.0).abs() < 1e-9,
            "{a:?}"
        );
    }

    #[test]
    fn logistic_separates_and_sgd_is_seeded() {
        let xs: Vec<f64> = (0..200).map(|i| (i as f64 - 100.0) / 25.0).collect();
        let ys: Vec<String> = xs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                if *x + if i % 7 == 0 { 1.5 } else { 0.0 } > 0.0 {
                    "yes"
                } else {
                    "no"
                }
                .to_string()
            })
            .collect();
        let f = batch(vec![Column::float64("x", xs)]);
        let l = Column::text("label", ys);
        let a = train(&f, &l, r#"{"task":"binary-classification"}"#).unwrap();
        assert_eq!(a.classes, vec!["no", "yes"]);
        assert!(a.weights[0] > 1.0);
        let s1 = train(
            &f,
            &l,
            r#"{"task":"binary-classification","solver":"sgd","seed":7}"#,
        )
        .unwrap();
        let s2 = train(
            &f,
            &l,
            r#"{"task":"binary-classification","solver":"sgd","seed":7}"#,
        )
        .unwrap();
        assert_eq!(s1, s2);
    }
}
