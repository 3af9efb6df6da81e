//! Lineage: everything a model version was made of, pinned by digest. It is what serving
//! rebuilds the pipeline from, and what registration and serving check before trusting it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use ferry_runtime::bindings::types::{DataType, Field};

/// The lineage format this host writes and reads.
pub const LINEAGE_FORMAT: &str = "ferry-lineage/1";

/// A plugin pinned by name, version and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedPlugin {
    /// Its name.
    pub name: String,
    /// Its exact version.
    pub version: String,
    /// `sha256:` and the hex digest of its component.
    pub digest: String,
}

impl PinnedPlugin {
    /// The pin of a loaded plugin.
    pub fn of(plugin: &ferry_runtime::Plugin) -> Self {
        Self {
            name: plugin.name().to_string(),
            version: plugin.manifest().version.to_string(),
            digest: plugin.digest().to_string(),
        }
    }
}

impl std::fmt::Display for PinnedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{} ({})", self.name, self.version, self.digest)
    }
}

/// One column of a schema, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// The column's name.
    pub name: String,
    /// `float64`, `int64`, `boolean` or `text`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether it may hold nulls.
    pub nullable: bool,
}

impl FieldSpec {
    /// From the contract's field.
    pub fn of(f: &Field) -> Self {
        Self {
            name: f.name.clone(),
            data_type: match f.data_type {
                DataType::Float64 => "float64",
                DataType::Int64 => "int64",
                DataType::Boolean => "boolean",
                DataType::Text => "text",
            }
            .into(),
            nullable: f.nullable,
        }
    }

    /// To the contract's field.
    pub fn to_field(&self) -> Result<Field, String> {
        Ok(Field {
            name: self.name.clone(),
            data_type: match self.data_type.as_str() {
                "float64" => DataType::Float64,
                "int64" => DataType::Int64,
                "boolean" => DataType::Boolean,
                "text" => DataType::Text,
                other => return Err(format!("column `{}`: unknown type {other:?}", self.name)),
            },
            nullable: self.nullable,
        })
    }
}

/// A validator as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorLineage {
    /// The plugin.
    pub plugin: PinnedPlugin,
    /// Its configuration (JSON).
    pub config: String,
    /// The columns it read (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
}

/// A transform as it was learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformLineage {
    /// The plugin.
    pub plugin: PinnedPlugin,
    /// Its configuration (JSON).
    pub config: String,
    /// The columns it read (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
    /// The columns it writes.
    pub writes: Vec<FieldSpec>,
    /// The digest of the state it learned (a blob in the registry).
    pub state_digest: String,
}

/// The model as it was trained or registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelLineage {
    /// The model adapter.
    pub plugin: PinnedPlugin,
    /// The digest of its artifact (a blob in the registry).
    pub artifact_digest: String,
    /// The configuration handed to `load` (JSON).
    #[serde(default = "empty_object")]
    pub load_config: String,
    /// The hyperparameters it was trained with (JSON), if Ferry trained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hyperparameters: Option<String>,
    /// The feature columns it reads, in order.
    pub features: Vec<String>,
    /// `binary-classification`, `multiclass-classification` or `regression`.
    pub task: String,
    /// Its output columns.
    pub outputs: Vec<String>,
}

fn empty_object() -> String {
    "{}".into()
}

/// The training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataLineage {
    /// The file, as the pipeline named it.
    pub path: String,
    /// `sha256:` and the hex digest of the file.
    pub digest: String,
    /// Rows in the file.
    pub rows: u64,
    /// Rows in the training split.
    pub train_rows: u64,
    /// Rows in the held-out split.
    pub test_rows: u64,
    /// The split's seed.
    pub seed: u64,
    /// The held-out share.
    pub test_fraction: f64,
}

/// What one validator found in the training data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationSummary {
    /// The validator's name.
    pub validator: String,
    /// Rows it checked.
    pub rows_checked: u64,
    /// Rules broken (0 for a version that was registered).
    pub violations: u64,
}

/// Everything a model version is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// [`LINEAGE_FORMAT`].
    pub format: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The label column (absent from requests).
    pub label: String,
    /// The raw columns a request provides, with their types.
    pub input_schema: Vec<FieldSpec>,
    /// Validators, in order.
    pub validators: Vec<ValidatorLineage>,
    /// Transforms, in order.
    pub transforms: Vec<TransformLineage>,
    /// The model, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelLineage>,
    /// The run that learned the transforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The training data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataLineage>,
    /// Held-out metrics.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// What the validators found.
    #[serde(default)]
    pub validation: Vec<ValidationSummary>,
    /// The digest of the training data's reference profile (a blob in the registry), which
    /// drift checks compare current data with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_profile: Option<String>,
    /// What the model is for, from the pipeline file.
    #[serde(default)]
    pub description: String,
    /// Known limitations, from the pipeline file.
    #[serde(default)]
    pub limitations: String,
    /// The Ferry version that wrote it.
    pub ferry_version: String,
}

impl Lineage {
    /// Parses stored lineage, checking its format.
    pub fn parse(text: &str) -> Result<Self, String> {
        let l: Lineage =
            serde_json::from_str(text).map_err(|e| format!("the lineage is not valid: {e}"))?;
        if l.format != LINEAGE_FORMAT {
            return Err(format!(
                "lineage format {:?} is not {LINEAGE_FORMAT:?}",
                l.format
            ));
        }
        Ok(l)
    }

    /// The input schema as the contract's fields.
    pub fn input_fields(&self) -> Result<Vec<Field>, String> {
        self.input_schema.iter().map(FieldSpec::to_field).collect()
    }

    /// The model's feature columns, or every column the transforms write when there is no
    /// model; each once, in order.
    pub fn feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.model {
            Some(m) => m.features.clone(),
            None => self
                .transforms
                .iter()
                .flat_map(|t| t.writes.iter().map(|w| w.name.clone()))
                .collect(),
        };
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }

    /// Every plugin, validators first, then transforms, then the model.
    pub fn plugins(&self) -> Vec<&PinnedPlugin> {
        self.validators
            .iter()
            .map(|v| &v.plugin)
            .chain(self.transforms.iter().map(|t| &t.plugin))
            .chain(self.model.iter().map(|m| &m.plugin))
            .collect()
    }
}
