//! The pipeline file (`pipeline.toml`): data, validators, transforms, model, split, evaluation
//! and gates.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::PipelineError;
use ferry_core::metrics::Gate;

/// A parsed pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// The pipeline's name; the registered model and the experiment default to it.
    pub name: String,
    /// The experiment its runs go to (default: the pipeline's name).
    pub experiment: Option<String>,
    /// What the model is for (goes into the model card).
    #[serde(default)]
    pub description: String,
    /// Known limitations, written by the user (goes into the model card).
    #[serde(default)]
    pub limitations: String,
    /// The training data.
    pub data: DataSpec,
    /// The train/test split.
    #[serde(default)]
    pub split: SplitSpec,
    /// Validators, run over the whole data before anything else.
    #[serde(default)]
    pub validators: Vec<StepSpec>,
    /// Transforms, learned and applied in order.
    #[serde(default)]
    pub transforms: Vec<StepSpec>,
    /// The model adapter; without one, `ferry train` learns the features only.
    pub model: Option<ModelSpec>,
    /// What to measure on the held-out split.
    #[serde(default)]
    pub evaluation: EvaluationSpec,
    /// Where the model version goes when the gates pass.
    #[serde(default)]
    pub register: RegisterSpec,
    /// The folder relative paths are resolved from (the pipeline file's folder).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The pipeline file's text, as read.
    #[serde(skip)]
    pub text: String,
}

/// Where the data is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The file, relative to the pipeline file.
    pub path: PathBuf,
    /// `csv`, `parquet` or `jsonl` (default: from the extension).
    pub format: Option<String>,
    /// The column to predict.
    pub label: String,
    /// The input columns to use (default: every column but the label); the rest are dropped.
    pub columns: Option<Vec<String>>,
}

/// How to split the rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    /// The share of rows held out for evaluation.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// The seed; the same seed gives the same split.
    #[serde(default)]
    pub seed: u64,
}

fn default_test_fraction() -> f64 {
    0.2
}

impl Default for SplitSpec {
    fn default() -> Self {
        Self {
            test_fraction: default_test_fraction(),
            seed: 0,
        }
    }
}

/// A validator or transform step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// `name`, `name@REQ` (a semver requirement) or `name@=VERSION`, from the registry.
    pub plugin: String,
    /// The configuration: a table, or the path of a JSON or TOML file.
    #[serde(default)]
    pub config: Option<toml::Value>,
    /// The columns the step reads (default: all); the others pass through untouched.
    pub reads: Option<Vec<String>>,
}

/// The model step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The model adapter, as for steps.
    pub plugin: String,
    /// The feature columns (default: every numeric column after the transforms, but the label).
    pub features: Option<Vec<String>>,
    /// Hyperparameters, handed to the adapter's `train`.
    #[serde(default)]
    pub hyperparameters: Option<toml::Value>,
}

/// What to measure, and the gates to pass.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSpec {
    /// Metrics to report (default: all for the task).
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Conditions such as `roc_auc >= 0.80`; all must hold to register the model.
    #[serde(default)]
    pub gates: Vec<String>,
    /// The positive class of a binary classifier (default: the one `probability` refers to).
    pub positive_class: Option<String>,
}

/// Where to register the model. Without a `[register]` table, the model is registered under the
/// pipeline's name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterSpec {
    /// The registered model (default: the pipeline's name).
    pub model: Option<String>,
    /// An alias to point at the new version, e.g. `challenger`.
    pub alias: Option<String>,
    /// Set to false to record runs without registering.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl Default for RegisterSpec {
    fn default() -> Self {
        Self {
            model: None,
            alias: None,
            enabled: true,
        }
    }
}

impl PipelineSpec {
    /// Reads and checks a pipeline file.
    pub fn read(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Spec(format!("{}: {e}", path.display())))?;
        let mut spec: PipelineSpec = toml::from_str(&text)
            .map_err(|e| PipelineError::Spec(format!("{}: {e}", path.display())))?;
        spec.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        spec.text = text;
        spec.check()
            .map_err(|e| PipelineError::Spec(format!("{}: {e}", path.display())))?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), String> {
        ferry_registry::check_model_name(self.model_name()).map_err(|e| e.to_string())?;
        let f = self.split.test_fraction;
        if !(f > 0.0 && f < 1.0) {
            return Err(format!(
                "split.test_fraction = {f}: must be between 0 and 1 (exclusive)"
            ));
        }
        if self.data.label.is_empty() {
            return Err("data.label is empty".into());
        }
        for g in &self.evaluation.gates {
            Gate::parse(g)?;
        }
        if let Some(a) = &self.register.alias {
            ferry_registry::check_alias(a).map_err(|e| format!("register.alias: {e}"))?;
        }
        Ok(())
    }

    /// The registered model's name.
    pub fn model_name(&self) -> &str {
        self.register.model.as_deref().unwrap_or(&self.name)
    }

    /// The experiment's name.
    pub fn experiment_name(&self) -> &str {
        self.experiment.as_deref().unwrap_or(&self.name)
    }

    /// The data file's path.
    pub fn data_path(&self) -> PathBuf {
        self.base_dir.join(&self.data.path)
    }

    /// A step's configuration as JSON text: an inline table, or a file's contents.
    pub fn config_json(
        &self,
        what: &str,
        config: Option<&toml::Value>,
    ) -> Result<String, PipelineError> {
        match config {
            None => Ok("{}".into()),
            Some(toml::Value::String(file)) => {
                let path = self.base_dir.join(file);
                crate::config::read_config(&path)
                    .map_err(|e| PipelineError::Spec(format!("{what}: {e}")))
            }
            Some(v @ toml::Value::Table(_)) => Ok(serde_json::to_string(v)
                .map_err(|e| PipelineError::Spec(format!("{what}: {e}")))?),
            Some(other) => Err(PipelineError::Spec(format!(
                "{what}: config must be a table or a file path, not a {}",
                other.type_str()
            ))),
        }
    }
}
