//! `onnx`: runs an ONNX graph inside the sandbox with tract, a pure-Rust inference engine.
//!
//! The graph takes one float tensor `[rows, features]` (float32 or float64), filled from the
//! batch's columns in order. Scikit-learn models exported by skl2onnx work when exported
//! without ZipMap (`options={id(model): {"zipmap": False}}`), since tract supports the
//! `ai.onnx.ml` linear, normalizer, tree-ensemble and category-mapper operators:
//! - a classifier's graph returns labels and a `[rows, classes]` probability tensor: the plugin
//!   outputs `probability` (of the second class) and `prediction` for two classes, or
//!   `probability_K` per class and `prediction` for more;
//! - a regressor's graph returns `[rows]` or `[rows, 1]` values: the plugin outputs `prediction`.
//!
//! Labels that tract 0.23 gets wrong or refuses (binary tree ensembles, text classes) are
//! computed as onnxruntime computes them ([`labels`]).

mod labels;

use std::sync::Arc;

use ferry_sdk::prelude::*;
use ferry_sdk::{ModelInfo, ModelOutput, Task};
use labels::{ClassLabels, Labels};
use serde::Deserialize;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    task: Option<String>,
    #[serde(default)]
    features: Vec<String>,
}

/// A loaded graph.
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    input_type: DatumType,
    width: Option<usize>,
    task: Task,
    classes: usize,
    features: Vec<String>,
    /// The classifier's labels, where the plugin answers them rather than tract.
    class_labels: Option<ClassLabels>,
}

fn graph_error(what: &str, e: impl std::fmt::Display) -> PluginError {
    config_error(format!("{what}: {e}"))
}

fn parse_task(name: &str) -> Result<Task> {
    Ok(match name {
        "binary-classification" => Task::BinaryClassification,
        "multiclass-classification" => Task::MulticlassClassification,
        "regression" => Task::Regression,
        other => {
            return Err(config_error(format!(
                "task {other:?} is not binary-classification, multiclass-classification or regression"
            )));
        }
    })
}

impl OnnxModel {
    fn load(bytes: &[u8], config: Config) -> Result<Self> {
        let onnx = tract_onnx::onnx();
        let mut proto = onnx
            .proto_model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| {
                graph_error(
                    "not a readable ONNX model",
                    format!("Reading proto model: {e:#}"),
                )
            })?;
        let class_labels = ClassLabels::prepare(&mut proto).map_err(config_error)?;
        let mut model = onnx.model_for_proto_model(&proto).map_err(|e| {
            graph_error(
                "not a readable ONNX model",
                format!("Translating proto model to model: {e:#}"),
            )
        })?;
        if model.inputs.len() == 1 {
            // Exporters leave the row count open (`[None, features]`): name it, so one plan
            // serves any number of rows.
            let fact = model
                .input_fact(0)
                .map_err(|e| graph_error("input", e))?
                .clone();
            let dt = fact.datum_type.concretize().unwrap_or(f32::datum_type());
            let width = fact.shape.dims().nth(1).and_then(|d| d.concretize());
            if let Some(width) = width {
                let rows = model.symbols.sym("rows");
                model
                    .set_input_fact(0, InferenceFact::dt_shape(dt, tvec![rows.to_dim(), width]))
                    .map_err(|e| graph_error("input", e))?;
            }
        }
        let typed = model
            .into_optimized()
            .map_err(|e| graph_error("the ONNX graph cannot be prepared", format!("{e:#}")))?;
        if typed.inputs.len() != 1 {
            return Err(config_error(format!(
                "the graph takes {} inputs; this adapter feeds exactly one [rows, features] tensor",
                typed.inputs.len()
            )));
        }
        let fact = typed
            .input_fact(0)
            .map_err(|e| graph_error("input", e))?
            .clone();
        let input_type = fact.datum_type;
        if input_type != f32::datum_type() && input_type != f64::datum_type() {
            return Err(config_error(format!(
                "the graph's input is {input_type:?}; float32 or float64 is needed"
            )));
        }
        if fact.rank() != 2 {
            return Err(config_error(format!(
                "the graph's input has rank {}; [rows, features] is needed",
                fact.rank()
            )));
        }
        let width = fact.shape[1].as_i64().map(|d| d as usize);
        let outputs: Vec<TypedFact> = (0..typed.outputs.len())
            .map(|i| typed.output_fact(i).cloned())
            .collect::<TractResult<_>>()
            .map_err(|e| graph_error("outputs", e))?;
        let probabilities = outputs
            .get(1)
            .filter(|f| f.rank() == 2 && f.datum_type.is_float());
        let classes = probabilities
            .and_then(|f| f.shape[1].as_i64().map(|d| d as usize))
            .unwrap_or(0);
        let task = match &config.task {
            Some(t) => parse_task(t)?,
            None if probabilities.is_some() && classes > 2 => Task::MulticlassClassification,
            None if probabilities.is_some() => Task::BinaryClassification,
            None => Task::Regression,
        };
        if task != Task::Regression && probabilities.is_none() {
            return Err(config_error(
                "a classifier's graph must return labels and a [rows, classes] probability tensor (export without ZipMap)",
            ));
        }
        if let (Some(w), false) = (width, config.features.is_empty())
            && w != config.features.len()
        {
            return Err(config_error(format!(
                "`features` names {} columns but the graph reads {w}",
                config.features.len()
            )));
        }
        let plan = typed
            .into_runnable()
            .map_err(|e| graph_error("the ONNX graph cannot be planned", format!("{e:#}")))?;
        Ok(Self {
            plan,
            input_type,
            width,
            task,
            classes,
            features: config.features,
            class_labels,
        })
    }

    fn input(&self, features: &Batch) -> Result<Tensor> {
        let n = features.len();
        let d = features.columns.len();
        if let Some(w) = self.width
            && w != d
        {
            return Err(input_error(
                "",
                None,
                format!("the graph reads {w} features, the batch has {d} columns"),
            ));
        }
        let mut x = vec![0f64; n * d];
        for (j, c) in features.columns.iter().enumerate() {
            let values = c.numeric()?;
            for i in 0..n {
                if c.is_null(i) {
                    return Err(input_error(
                        &c.name,
                        Some(i as u32),
                        "null feature; ONNX graphs take no missing values, impute them first",
                    ));
                }
                x[i * d + j] = values[i];
            }
        }
        let t = if self.input_type == f32::datum_type() {
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            Tensor::from_shape(&[n, d], &x32)
        } else {
            Tensor::from_shape(&[n, d], &x)
        };
        t.map_err(|e| internal_error(format!("{e:#}")))
    }

    /// The `prediction` column of a classifier: tract's labels, or the plugin's where it
    /// answers them ([`ClassLabels`]).
    fn predicted_labels(&self, out: &Tensor, probs: &[f64], n: usize, k: usize) -> Result<Column> {
        let Some(classes) = &self.class_labels else {
            return labels(out, n);
        };
        let numbers: Vec<usize> = match classes.binary_threshold {
            Some(threshold) if k == 2 => (0..n)
                .map(|i| usize::from(probs[i * 2 + 1] > threshold))
                .collect(),
            _ => match &classes.labels {
                Labels::Int(_) => return labels(out, n),
                Labels::Text(_) => match labels(out, n)?.data {
                    ColumnData::Int64(v) => v.iter().map(|&c| c as usize).collect(),
                    _ => return Err(internal_error("the graph's labels are not class numbers")),
                },
            },
        };
        Ok(match &classes.labels {
            Labels::Int(l) => Column::int64("prediction", pick(l, &numbers)?),
            Labels::Text(l) => Column::text("prediction", pick(l, &numbers)?),
        })
    }
}

/// The label of each class number.
fn pick<T: Clone>(labels: &[T], numbers: &[usize]) -> Result<Vec<T>> {
    numbers
        .iter()
        .map(|&c| {
            labels
                .get(c)
                .cloned()
                .ok_or_else(|| internal_error("the graph returned a class number it does not have"))
        })
        .collect()
}

fn floats(t: &Tensor, what: &str) -> Result<Vec<f64>> {
    let t = t
        .cast_to::<f64>()
        .map_err(|e| internal_error(format!("{what}: {e:#}")))?;
    let view = t
        .to_plain_array_view::<f64>()
        .map_err(|e| internal_error(format!("{what}: {e:#}")))?;
    Ok(view.iter().copied().collect())
}

fn labels(t: &Tensor, n: usize) -> Result<Column> {
    if t.datum_type() == String::datum_type() {
        let view = t
            .to_plain_array_view::<String>()
            .map_err(|e| internal_error(format!("labels: {e:#}")))?;
        let v: Vec<String> = view.iter().cloned().collect();
        if v.len() != n {
            return Err(internal_error(format!(
                "the graph returned {} labels for {n} rows",
                v.len()
            )));
        }
        return Ok(Column::text("prediction", v));
    }
    let t = t
        .cast_to::<i64>()
        .map_err(|e| internal_error(format!("labels: {e:#}")))?;
    let view = t
        .to_plain_array_view::<i64>()
        .map_err(|e| internal_error(format!("labels: {e:#}")))?;
    let v: Vec<i64> = view.iter().copied().collect();
    if v.len() != n {
        return Err(internal_error(format!(
            "the graph returned {} labels for {n} rows",
            v.len()
        )));
    }
    Ok(Column::int64("prediction", v))
}

impl Predictor for OnnxModel {
    fn describe(&self) -> ModelInfo {
        let width = self.width.unwrap_or(self.features.len());
        let inputs = (0..width)
            .map(|j| Field {
                name: self
                    .features
                    .get(j)
                    .cloned()
                    .unwrap_or_else(|| format!("x{j}")),
                data_type: DataType::Float64,
                nullable: false,
            })
            .collect();
        let mut outputs = Vec::new();
        match self.task {
            Task::BinaryClassification => outputs.push(ModelOutput {
                name: "probability".into(),
                description: "probability of the second class".into(),
            }),
            Task::MulticlassClassification => {
                for k in 0..self.classes {
                    outputs.push(ModelOutput {
                        name: format!("probability_{k}"),
                        description: format!("probability of class number {k}"),
                    });
                }
            }
            Task::Regression => {}
        }
        outputs.push(ModelOutput {
            name: "prediction".into(),
            description: "the predicted value or label".into(),
        });
        ModelInfo {
            task: self.task,
            inputs,
            outputs,
        }
    }

    fn predict(&self, features: &Batch) -> Result<Batch> {
        let n = features.len();
        let input = self.input(features)?;
        let out = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| internal_error(format!("the ONNX graph failed: {e:#}")))?;
        let mut batch = BatchBuilder::new(n);
        match self.task {
            Task::Regression => {
                let values = floats(&out[0], "prediction")?;
                if values.len() != n {
                    return Err(internal_error(format!(
                        "the graph returned {} values for {n} rows",
                        values.len()
                    )));
                }
                batch.push(Column::float64("prediction", values));
            }
            Task::BinaryClassification | Task::MulticlassClassification => {
                let probs = floats(&out[1], "probabilities")?;
                let k = probs.len().checked_div(n).unwrap_or(self.classes);
                if k * n != probs.len() || k == 0 {
                    return Err(internal_error(
                        "the probability tensor does not have one row per input row",
                    ));
                }
                if self.task == Task::BinaryClassification {
                    batch.push(Column::float64(
                        "probability",
                        (0..n).map(|i| probs[i * k + k - 1]).collect(),
                    ));
                } else {
                    for c in 0..k {
                        batch.push(Column::float64(
                            format!("probability_{c}"),
                            (0..n).map(|i| probs[i * k + c]).collect(),
                        ));
                    }
                }
                batch.push(self.predicted_labels(&out[0], &probs, n, k)?);
            }
        }
        batch.build()
    }
}

/// The plugin.
pub struct Onnx;

impl Plugin for Onnx {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("onnx")
            .keywords(["onnx", "tract", "scikit-learn", "inference"])
            .memory_mib(1024)
            .timeout_ms(60_000)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Model for Onnx {
    type Predictor = OnnxModel;

    fn load(artifact: &[u8], config: &str) -> Result<OnnxModel> {
        let config: Config = serde_json::from_str(if config.trim().is_empty() {
            "{}"
        } else {
            config
        })
        .map_err(|e| config_error(e.to_string()))?;
        OnnxModel::load(artifact, config)
    }
}

ferry_sdk::export_model!(Onnx);
