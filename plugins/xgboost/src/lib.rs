//! `xgboost`: evaluates a model saved by XGBoost as JSON (`Booster.save_model("m.json")`),
//! the `gbtree` booster with numerical splits, as XGBoost does: features as float32, a split
//! goes left when `value < threshold`, a missing value (a null) follows the node's default
//! direction, leaf values are summed in float32 from the base margin, and the objective's
//! link turns the margin into the prediction.
//!
//! Objectives: `binary:logistic` (outputs `probability` of class 1 and `prediction` 0/1),
//! `reg:squarederror`, `reg:absoluteerror`, `reg:pseudohubererror` (identity),
//! `reg:logistic` (sigmoid), and `multi:softprob`/`multi:softmax` (`prediction` is the class
//! index; `probability_K` per class).

use ferry_sdk::prelude::*;
use ferry_sdk::{ModelInfo, ModelOutput, Task};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "half")]
    threshold: f64,
}

fn half() -> f64 {
    0.5
}

/// One regression tree, as flat arrays.
struct Tree {
    left: Vec<i32>,
    right: Vec<i32>,
    feature: Vec<u32>,
    threshold: Vec<f32>,
    default_left: Vec<bool>,
    group: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Link {
    Identity,
    Sigmoid,
    Softmax,
}

/// A loaded booster.
pub struct Booster {
    trees: Vec<Tree>,
    base_margin: f32,
    link: Link,
    groups: usize,
    num_feature: usize,
    feature_names: Vec<String>,
    objective: String,
    threshold: f64,
}

fn bad(message: impl Into<String>) -> PluginError {
    config_error(format!(
        "not a usable XGBoost JSON model: {}",
        message.into()
    ))
}

fn number(v: &Value, what: &str) -> Result<f64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| bad(format!("{what} is not a number"))),
        Value::String(s) => s
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .parse()
            .map_err(|_| bad(format!("{what} {s:?} is not a number"))),
        Value::Array(a) if !a.is_empty() => number(&a[0], what),
        _ => Err(bad(format!("{what} is missing"))),
    }
}

fn ints(tree: &Value, key: &str) -> Result<Vec<i64>> {
    tree.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("a tree has no `{key}`")))?
        .iter()
        .map(|v| match v {
            Value::Bool(b) => Ok(i64::from(*b)),
            other => other
                .as_i64()
                .ok_or_else(|| bad(format!("`{key}` holds {other}"))),
        })
        .collect()
}

fn floats(tree: &Value, key: &str) -> Result<Vec<f32>> {
    tree.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("a tree has no `{key}`")))?
        .iter()
        .map(|v| {
            v.as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| bad(format!("`{key}` holds {v}")))
        })
        .collect()
}

fn parse_tree(t: &Value, group: usize, num_feature: usize) -> Result<Tree> {
    let left = ints(t, "left_children")?;
    let right = ints(t, "right_children")?;
    let feature = ints(t, "split_indices")?;
    let threshold = floats(t, "split_conditions")?;
    let default_left = ints(t, "default_left")?;
    let n = left.len();
    if n == 0
        || [
            right.len(),
            feature.len(),
            threshold.len(),
            default_left.len(),
        ]
        .iter()
        .any(|&l| l != n)
    {
        return Err(bad("a tree's arrays have different lengths"));
    }
    if let Some(types) = t.get("split_type").and_then(Value::as_array)
        && types.iter().any(|v| v.as_i64().unwrap_or(0) != 0)
    {
        return Err(bad("categorical splits are not supported"));
    }
    for i in 0..n {
        let (l, r) = (left[i], right[i]);
        let leaf = l == -1;
        let valid_child = |c: i64| c > i as i64 && (c as usize) < n;
        if !leaf
            && (!valid_child(l)
                || !valid_child(r)
                || feature[i] < 0
                || feature[i] as usize >= num_feature)
        {
            return Err(bad(format!("node {i} of a tree points outside it")));
        }
    }
    Ok(Tree {
        left: left.into_iter().map(|v| v as i32).collect(),
        right: right.into_iter().map(|v| v as i32).collect(),
        feature: feature.into_iter().map(|v| v.max(0) as u32).collect(),
        threshold,
        default_left: default_left.into_iter().map(|v| v != 0).collect(),
        group,
    })
}

impl Tree {
    fn leaf(&self, row: &[f32]) -> f32 {
        let mut i = 0usize;
        loop {
            let l = self.left[i];
            if l == -1 {
                return self.threshold[i];
            }
            let v = row[self.feature[i] as usize];
            let go_left = if v.is_nan() {
                self.default_left[i]
            } else {
                v < self.threshold[i]
            };
            i = if go_left {
                l as usize
            } else {
                self.right[i] as usize
            };
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Booster {
    fn parse(bytes: &[u8], threshold: f64) -> Result<Self> {
        let root: Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let learner = root.get("learner").ok_or_else(|| bad("no `learner`"))?;
        let params = learner
            .get("learner_model_param")
            .ok_or_else(|| bad("no `learner_model_param`"))?;
        let num_feature = number(
            params.get("num_feature").unwrap_or(&Value::Null),
            "num_feature",
        )? as usize;
        let num_class = number(
            params.get("num_class").unwrap_or(&Value::from(0)),
            "num_class",
        )? as usize;
        let base_score = number(
            params.get("base_score").unwrap_or(&Value::from(0.5)),
            "base_score",
        )?;
        let objective = learner
            .pointer("/objective/name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no objective name"))?
            .to_string();
        let link = match objective.as_str() {
            "binary:logistic" | "reg:logistic" => Link::Sigmoid,
            "reg:squarederror"
            | "reg:squaredlogerror"
            | "reg:absoluteerror"
            | "reg:pseudohubererror" => Link::Identity,
            "multi:softprob" | "multi:softmax" => Link::Softmax,
            other => return Err(bad(format!("objective {other:?} is not supported"))),
        };
        let booster = learner
            .get("gradient_booster")
            .ok_or_else(|| bad("no `gradient_booster`"))?;
        let name = booster.get("name").and_then(Value::as_str).unwrap_or("");
        if name != "gbtree" {
            return Err(bad(format!("booster {name:?}: only gbtree is supported")));
        }
        let model = booster
            .get("model")
            .ok_or_else(|| bad("no booster model"))?;
        let trees_json = model
            .get("trees")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no trees"))?;
        let info: Vec<usize> = model
            .get("tree_info")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| v.as_u64().unwrap_or(0) as usize).collect())
            .unwrap_or_else(|| vec![0; trees_json.len()]);
        let groups = if link == Link::Softmax {
            num_class.max(1)
        } else {
            1
        };
        let mut trees = Vec::with_capacity(trees_json.len());
        for (i, t) in trees_json.iter().enumerate() {
            let group = info.get(i).copied().unwrap_or(0);
            if group >= groups {
                return Err(bad(format!(
                    "tree {i} belongs to class {group} of {groups}"
                )));
            }
            trees.push(parse_tree(t, group, num_feature)?);
        }
        let base_margin = match link {
            Link::Sigmoid => {
                if !(base_score > 0.0 && base_score < 1.0) {
                    return Err(bad(format!("base_score {base_score} is not a probability")));
                }
                (base_score / (1.0 - base_score)).ln() as f32
            }
            _ => base_score as f32,
        };
        let feature_names = learner
            .get("feature_names")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            trees,
            base_margin,
            link,
            groups,
            num_feature,
            feature_names,
            objective,
            threshold,
        })
    }

    fn task(&self) -> Task {
        match (self.link, self.objective.as_str()) {
            (Link::Softmax, _) => Task::MulticlassClassification,
            (Link::Sigmoid, "binary:logistic") => Task::BinaryClassification,
            _ => Task::Regression,
        }
    }

    /// The rows of the batch as float32, missing values as NaN.
    fn matrix(&self, features: &Batch) -> Result<Vec<f32>> {
        let columns: Vec<&Column> = if self.feature_names.is_empty() {
            if features.columns.len() != self.num_feature {
                return Err(input_error(
                    "",
                    None,
                    format!(
                        "the model reads {} features, the batch has {} columns",
                        self.num_feature,
                        features.columns.len()
                    ),
                ));
            }
            features.columns.iter().collect()
        } else {
            self.feature_names
                .iter()
                .map(|n| features.column(n))
                .collect::<Result<_>>()?
        };
        let n = features.len();
        let d = self.num_feature;
        let mut x = vec![f32::NAN; n * d];
        for (j, c) in columns.iter().enumerate() {
            let values = c.numeric()?;
            for i in 0..n {
                if !c.is_null(i) {
                    x[i * d + j] = values[i] as f32;
                }
            }
        }
        Ok(x)
    }
}

impl Predictor for Booster {
    fn describe(&self) -> ModelInfo {
        let inputs = (0..self.num_feature)
            .map(|j| Field {
                name: self
                    .feature_names
                    .get(j)
                    .cloned()
                    .unwrap_or_else(|| format!("f{j}")),
                data_type: DataType::Float64,
                nullable: true,
            })
            .collect();
        let mut outputs = Vec::new();
        match self.task() {
            Task::BinaryClassification => outputs.push(ModelOutput {
                name: "probability".into(),
                description: "probability of class 1".into(),
            }),
            Task::MulticlassClassification => {
                for k in 0..self.groups {
                    outputs.push(ModelOutput {
                        name: format!("probability_{k}"),
                        description: format!("probability of class {k}"),
                    });
                }
            }
            Task::Regression => {}
        }
        outputs.push(ModelOutput {
            name: "prediction".into(),
            description: "the predicted value or class".into(),
        });
        ModelInfo {
            task: self.task(),
            inputs,
            outputs,
        }
    }

    fn predict(&self, features: &Batch) -> Result<Batch> {
        let x = self.matrix(features)?;
        let n = features.len();
        let d = self.num_feature;
        let g = self.groups;
        let mut margin = vec![self.base_margin; n * g];
        for t in &self.trees {
            for i in 0..n {
                margin[i * g + t.group] += t.leaf(&x[i * d..(i + 1) * d]);
            }
        }
        let mut out = BatchBuilder::new(n);
        match (self.link, self.task()) {
            (Link::Softmax, _) => {
                let mut probs = vec![vec![0f64; n]; g];
                let mut best = vec![0i64; n];
                for i in 0..n {
                    let row = &margin[i * g..(i + 1) * g];
                    let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let exps: Vec<f32> = row.iter().map(|m| (m - max).exp()).collect();
                    let sum: f32 = exps.iter().sum();
                    for k in 0..g {
                        probs[k][i] = f64::from(exps[k] / sum);
                    }
                    best[i] = row
                        .iter()
                        .enumerate()
                        .fold(
                            (0, f32::NEG_INFINITY),
                            |acc, (k, &m)| if m > acc.1 { (k, m) } else { acc },
                        )
                        .0 as i64;
                }
                for (k, p) in probs.into_iter().enumerate() {
                    out.push(Column::float64(format!("probability_{k}"), p));
                }
                out.push(Column::int64("prediction", best));
            }
            (Link::Sigmoid, Task::BinaryClassification) => {
                let p: Vec<f64> = margin.iter().map(|&m| f64::from(sigmoid(m))).collect();
                let label = p.iter().map(|&q| i64::from(q >= self.threshold)).collect();
                out.push(Column::float64("probability", p));
                out.push(Column::int64("prediction", label));
            }
            (Link::Sigmoid, _) => out.push(Column::float64(
                "prediction",
                margin.iter().map(|&m| f64::from(sigmoid(m))).collect(),
            )),
            (Link::Identity, _) => out.push(Column::float64(
                "prediction",
                margin.iter().map(|&m| f64::from(m)).collect(),
            )),
        }
        out.build()
    }
}

/// The plugin.
pub struct Xgboost;

impl Plugin for Xgboost {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("xgboost")
            .keywords([
                "xgboost",
                "gradient-boosting",
                "trees",
                "classification",
                "regression",
            ])
            .memory_mib(512)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Model for Xgboost {
    type Predictor = Booster;

    fn load(artifact: &[u8], config: &str) -> Result<Booster> {
        let config: Config = serde_json::from_str(if config.trim().is_empty() {
            "{}"
        } else {
            config
        })
        .map_err(|e| config_error(e.to_string()))?;
        Booster::parse(artifact, config.threshold)
    }
}

ferry_sdk::export_model!(Xgboost);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_it_cannot_evaluate() {
        for bad_model in [
            &b"not json"[..],
            br#"{"learner": {}}"#,
            br#"{"learner": {"learner_model_param": {"num_feature": "2", "base_score": "0.5"}, "objective": {"name": "rank:pairwise"}}}"#,
        ] {
            assert!(Xgboost::load(bad_model, "{}").is_err());
        }
        let tree_outside = br#"{"learner": {"learner_model_param": {"num_feature": "1", "base_score": "5E-1"},
            "objective": {"name": "reg:squarederror"},
            "gradient_booster": {"name": "gbtree", "model": {"trees": [{"left_children": [5, -1, -1],
            "right_children": [2, -1, -1], "split_indices": [0, 0, 0], "split_conditions": [0.5, 1, 2],
            "default_left": [1, 0, 0]}], "tree_info": [0]}}}}"#;
        assert!(Xgboost::load(tree_outside, "{}").is_err());
    }
}
