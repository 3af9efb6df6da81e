//! The step engine: the only code that runs a pipeline's steps. Training, batch scoring and
//! online serving all validate, fit, apply and predict through it, so they compute features
//! one way.
//!
//! Every call that computes runs in an instance used for nothing else: a validator instance is
//! created for its one `validate`, a transformer is built from its configuration and state for
//! its one `apply`, and a model is loaded for its one `predict`. The prepared instances are
//! consumed by the call, so no state a plugin keeps in memory can reach another batch or
//! request. Only `fit` feeds several batches to one instance: an analyzer accumulates by design.

pub mod purity;

use std::borrow::Cow;

use crate::data::{
    FieldProblem, columns_view, concat, conform, describe_problems, merge_columns, schema_of,
    select, slice_rows,
};
use ferry_runtime::bindings::types::{Batch, Column, Field, ModelInfo, Report};
use ferry_runtime::{
    AnalyzerHandle, Blob, ModelInstance, Plugin, PluginError, ReadyModel, ReadyTransform,
    ReadyValidator, TransformInstance,
};

/// Rows per call in batch work (training, `ferry transform`).
pub const BATCH_ROWS: usize = 8192;

/// One broken rule in a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestViolation {
    /// The validator that found it.
    pub validator: String,
    /// The rule.
    pub rule: String,
    /// The column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u32>,
    /// What is wrong.
    pub problem: String,
}

/// Why a step could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The request's fields do not match the model's input schema.
    #[error("the input does not match the model's schema: {}", describe_problems(.0))]
    Input(Vec<FieldProblem>),
    /// A pinned validator refused the request.
    #[error("the input broke {} rule(s): {}{}", .0.len(), .0.iter().take(10).map(|v| format!("{}: {}", v.field.as_deref().unwrap_or("-"), v.problem)).collect::<Vec<_>>().join("; "), if .0.len() > 10 { "; …" } else { "" })]
    Rejected(Vec<RequestViolation>),
    /// A plugin failed or reported an error.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The version has no model (its run learned features only).
    #[error("this version has no model to predict with")]
    NoModel,
    /// A step's columns are not in the data.
    #[error("{0}")]
    Columns(String),
    /// Something else went wrong.
    #[error("{0}")]
    Other(String),
}

impl ServeError {
    /// True when the request itself was wrong (HTTP 422), rather than the server or a plugin.
    pub fn is_bad_request(&self) -> bool {
        match self {
            ServeError::Input(_) | ServeError::Rejected(_) => true,
            ServeError::Plugin(p) => !p.failure.is_misbehaviour(),
            _ => false,
        }
    }
}

/// A model's answer for a batch.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// The model's input columns, as the transforms computed them.
    pub features: Batch,
    /// The model's output columns.
    pub outputs: Batch,
}

/// The columns a step reads: the named ones, or all.
fn view<'a>(data: &'a Batch, reads: &Option<Vec<String>>) -> Result<Cow<'a, Batch>, ServeError> {
    columns_view(data, reads.as_deref()).map_err(|e| ServeError::Columns(format!("reads: {e}")))
}

/// Consecutive row ranges of at most `rows` rows covering `data` (one empty range for no rows,
/// so that a step still says what columns it writes).
fn slices(data: &Batch, rows: usize) -> impl Iterator<Item = (usize, usize)> {
    let n = data.num_rows as usize;
    let rows = rows.max(1);
    (0..n.div_ceil(rows).max(1)).map(move |i| (i * rows, ((i + 1) * rows).min(n)))
}

/// A validator with its configuration.
#[derive(Clone)]
pub struct ValidatorStep {
    /// The plugin.
    pub plugin: Plugin,
    /// Its configuration (JSON).
    pub config: String,
    /// The columns it reads (all when absent).
    pub reads: Option<Vec<String>>,
}

impl ValidatorStep {
    /// Checks `data` in an instance of its own.
    pub async fn validate(&self, data: &Batch) -> Result<Report, ServeError> {
        self.prepare().await?.validate(self, data).await
    }

    /// A validator instance for this step's configuration, not yet called.
    pub async fn prepare(&self) -> Result<PreparedValidator, ServeError> {
        Ok(PreparedValidator(
            ReadyValidator::new(&self.plugin, &self.config).await?,
        ))
    }
}

/// A validator instance that has not been called yet: a fresh copy of the plugin's snapshot
/// when it can be prepared (contract 0.1.1), otherwise a fresh instance.
pub struct PreparedValidator(ReadyValidator);

impl PreparedValidator {
    /// Checks the columns of `data` the step reads and consumes the instance.
    pub async fn validate(self, step: &ValidatorStep, data: &Batch) -> Result<Report, ServeError> {
        let v = view(data, &step.reads)?;
        Ok(self.0.validate(&v).await?)
    }
}

/// A transform with its configuration, before it has learned anything.
#[derive(Clone)]
pub struct TransformStep {
    /// The plugin.
    pub plugin: Plugin,
    /// Its configuration (JSON).
    pub config: String,
    /// The columns it reads (all when absent).
    pub reads: Option<Vec<String>>,
}

impl TransformStep {
    /// Starts learning a state from data with `schema` (the columns the step reads).
    pub async fn start(&self, schema: &[Field]) -> Result<Analysis, ServeError> {
        let mut inst = TransformInstance::new(&self.plugin).await?;
        let analyzer = inst.new_analyzer(&self.config, schema).await?;
        Ok(Analysis { inst, analyzer })
    }

    /// Learns the state over `data`, fed to one analyzer in slices of `batch_rows` rows;
    /// `progress` hears how many rows each slice had.
    pub async fn fit(
        &self,
        data: &Batch,
        batch_rows: usize,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Vec<u8>, ServeError> {
        let v = view(data, &self.reads)?;
        let mut analysis = self.start(&schema_of(&v)).await?;
        for (start, end) in slices(&v, batch_rows).filter(|(s, e)| s < e) {
            analysis.update(&slice_rows(&v, start, end)).await?;
            progress((end - start) as u64);
        }
        analysis.finish().await
    }

    /// This step with a learned state.
    pub fn learned(self, state: Vec<u8>) -> LearnedTransform {
        LearnedTransform {
            step: self,
            state: state.into(),
        }
    }
}

/// One analyzer learning a state: the only instance fed several batches, because
/// accumulating is what it is for.
pub struct Analysis {
    inst: TransformInstance,
    analyzer: AnalyzerHandle,
}

impl Analysis {
    /// Adds a batch (already cut to the columns the step reads).
    pub async fn update(&mut self, batch: &Batch) -> Result<(), ServeError> {
        Ok(self.inst.update(self.analyzer, batch).await?)
    }

    /// Ends the analysis and returns the learned state.
    pub async fn finish(mut self) -> Result<Vec<u8>, ServeError> {
        Ok(self.inst.finish(self.analyzer).await?)
    }
}

/// A transform with the state it learned: what training applies and serving rebuilds.
#[derive(Clone)]
pub struct LearnedTransform {
    /// The step.
    pub step: TransformStep,
    /// The learned state.
    pub state: Blob,
}

impl LearnedTransform {
    /// A transformer built from the configuration and state, not yet called.
    pub async fn prepare(&self) -> Result<PreparedTransform, ServeError> {
        Ok(PreparedTransform(
            ReadyTransform::new(&self.step.plugin, &self.step.config, &self.state).await?,
        ))
    }

    /// Applies the transform to `data` in place, in slices of `batch_rows` rows, each in a
    /// transformer of its own; returns the schema of the columns it wrote.
    pub async fn apply_all(
        &self,
        data: &mut Batch,
        batch_rows: usize,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Vec<Field>, ServeError> {
        let mut outs = Vec::new();
        {
            let v = view(data, &self.step.reads)?;
            for (start, end) in slices(&v, batch_rows) {
                let part = slice_rows(&v, start, end);
                outs.push(self.prepare().await?.apply(&self.step, &part).await?);
                progress((end - start) as u64);
            }
        }
        let schema = outs.first().map(schema_of).unwrap_or_default();
        let out = concat(&schema, outs).map_err(ServeError::Other)?;
        merge_columns(data, out);
        Ok(schema)
    }
}

/// A transformer that has not been called yet: a fresh copy of the plugin's snapshot when it
/// can be prepared (contract 0.1.1), otherwise a fresh instance given its state.
pub struct PreparedTransform(ReadyTransform);

impl PreparedTransform {
    /// Transforms the columns of `data` the step reads and consumes the instance; returns the
    /// columns the transform wrote.
    pub async fn apply(self, step: &TransformStep, data: &Batch) -> Result<Batch, ServeError> {
        let v = view(data, &step.reads)?;
        Ok(self.0.apply(&v).await?)
    }
}

/// A model adapter with an artifact.
#[derive(Clone)]
pub struct ModelStep {
    /// The adapter.
    pub plugin: Plugin,
    /// The artifact.
    pub artifact: Blob,
    /// The configuration `load` gets (JSON).
    pub load_config: String,
    /// The feature columns it reads, in order.
    pub features: Vec<String>,
}

impl ModelStep {
    /// Trains a model with `plugin` in an instance of its own and returns its artifact.
    pub async fn train(
        plugin: &Plugin,
        features: &Batch,
        labels: &Column,
        hyperparameters: &str,
    ) -> Result<Vec<u8>, ServeError> {
        let mut inst = ModelInstance::new(plugin).await?;
        Ok(inst.train(features, labels, hyperparameters).await?)
    }

    /// The model loaded from its artifact, not yet called.
    pub async fn prepare(&self) -> Result<PreparedModel, ServeError> {
        Ok(PreparedModel(
            ReadyModel::new(&self.plugin, &self.artifact, &self.load_config).await?,
        ))
    }

    /// What the model says it expects and returns (in an instance of its own).
    pub async fn describe(&self) -> Result<ModelInfo, ServeError> {
        let mut inst = ModelInstance::new(&self.plugin).await?;
        let handle = inst.load(&self.artifact, &self.load_config).await?;
        Ok(inst.describe(handle).await?)
    }

    /// The model's features of `data` (which holds them among other columns).
    pub fn features_of(&self, data: &Batch) -> Result<Batch, ServeError> {
        select(data, &self.features)
            .map_err(|e| ServeError::Columns(format!("model features: {e}")))
    }

    /// Predicts `features` in slices of `batch_rows` rows, each in a model of its own.
    pub async fn predict_all(
        &self,
        features: &Batch,
        batch_rows: usize,
    ) -> Result<Batch, ServeError> {
        let mut outs = Vec::new();
        for (start, end) in slices(features, batch_rows) {
            let part = slice_rows(features, start, end);
            outs.push(self.prepare().await?.predict(&part).await?);
        }
        let schema = outs.first().map(schema_of).unwrap_or_default();
        concat(&schema, outs).map_err(ServeError::Other)
    }
}

/// A loaded model that has not predicted yet: a fresh copy of the plugin's snapshot when it
/// can be prepared (contract 0.1.1), otherwise a fresh instance given its artifact.
pub struct PreparedModel(ReadyModel);

impl PreparedModel {
    /// Predicts and consumes the instance.
    pub async fn predict(self, features: &Batch) -> Result<Batch, ServeError> {
        Ok(self.0.predict(features).await?)
    }
}

/// A whole learned pipeline: the validators, the learned transforms and the model, with the
/// input schema requests must match.
#[derive(Clone)]
pub struct Steps {
    /// The label column (ignored in requests).
    pub label: String,
    /// The columns a request must provide.
    pub input: Vec<Field>,
    /// The validators, in order.
    pub validators: Vec<ValidatorStep>,
    /// The learned transforms, in order.
    pub transforms: Vec<LearnedTransform>,
    /// The model, if the pipeline has one.
    pub model: Option<ModelStep>,
}

/// One use's worth of instances for a [`Steps`]: built, never called, consumed by one call.
pub struct InstanceSet {
    validators: Vec<PreparedValidator>,
    transforms: Vec<PreparedTransform>,
    model: Option<PreparedModel>,
}

impl Steps {
    /// Builds a fresh set of instances: each validator instantiated, each transformer built
    /// from its state, the model loaded.
    pub async fn prepare(&self) -> Result<InstanceSet, ServeError> {
        let mut validators = Vec::with_capacity(self.validators.len());
        for v in &self.validators {
            validators.push(v.prepare().await?);
        }
        let mut transforms = Vec::with_capacity(self.transforms.len());
        for t in &self.transforms {
            transforms.push(t.prepare().await?);
        }
        let model = match &self.model {
            Some(m) => Some(m.prepare().await?),
            None => None,
        };
        Ok(InstanceSet {
            validators,
            transforms,
            model,
        })
    }

    /// Checks raw rows against the input schema and, as `validation` says, the validators;
    /// then applies every transform. Returns all the columns, and the set's model, still
    /// unused.
    async fn transform_with(
        &self,
        set: InstanceSet,
        raw: &Batch,
        validation: Validation,
    ) -> Result<(Batch, Option<PreparedModel>), ServeError> {
        let label = self.label.as_str();
        let mut data = conform(raw, &self.input, &[label]).map_err(ServeError::Input)?;
        let mut violations = Vec::new();
        let validators = match validation {
            Validation::Skip => Vec::new(),
            Validation::Batch | Validation::RowByRow => set.validators,
        };
        for (inst, step) in validators.into_iter().zip(&self.validators) {
            let report = inst.validate(step, &data).await?;
            let truncated = report.truncated;
            let found = row_violations(step, report, label, None);
            if validation == Validation::RowByRow && !found.is_empty() {
                let rows: std::collections::BTreeSet<u32> = if truncated {
                    (0..data.num_rows).collect()
                } else {
                    found.iter().filter_map(|v| v.row).collect()
                };
                violations.extend(self.alone(step, &data, rows).await?);
            } else {
                violations.extend(found);
            }
        }
        if !violations.is_empty() {
            return Err(ServeError::Rejected(violations));
        }
        for (inst, learned) in set.transforms.into_iter().zip(&self.transforms) {
            let out = inst.apply(&learned.step, &data).await?;
            merge_columns(&mut data, out);
        }
        Ok((data, set.model))
    }

    /// What each of `rows` breaks when `step` checks it alone, in an instance of its own: the
    /// rules about the row, without those about the rows beside it (uniqueness, null
    /// fractions). The purity check holds every validator to finding in a batch whatever a
    /// row breaks alone, so only the rows the batch flagged need a second look (all of them
    /// when its report was cut short).
    async fn alone(
        &self,
        step: &ValidatorStep,
        data: &Batch,
        rows: std::collections::BTreeSet<u32>,
    ) -> Result<Vec<RequestViolation>, ServeError> {
        let mut kept = Vec::new();
        for r in rows {
            let one = slice_rows(data, r as usize, r as usize + 1);
            let report = step.validate(&one).await?;
            kept.extend(row_violations(step, report, &self.label, Some(r)));
        }
        Ok(kept)
    }

    /// Raw rows to the full transformed batch, with the instances of `set`; the validators
    /// judge the rows as one batch.
    pub async fn transform(&self, set: InstanceSet, raw: &Batch) -> Result<Batch, ServeError> {
        Ok(self.transform_with(set, raw, Validation::Batch).await?.0)
    }

    /// Raw rows to the full transformed batch without the validators: the features of data
    /// as it comes, for drift checks.
    pub async fn transform_unchecked(
        &self,
        set: InstanceSet,
        raw: &Batch,
    ) -> Result<Batch, ServeError> {
        Ok(self.transform_with(set, raw, Validation::Skip).await?.0)
    }

    /// The model's features and outputs for raw rows, with the instances of `set`, the
    /// validators judging as `validation` says.
    pub async fn predict(
        &self,
        set: InstanceSet,
        raw: &Batch,
        validation: Validation,
    ) -> Result<Prediction, ServeError> {
        let model = self.model.as_ref().ok_or(ServeError::NoModel)?;
        let (data, prepared) = self.transform_with(set, raw, validation).await?;
        let features = model.features_of(&data)?;
        let outputs = prepared
            .ok_or(ServeError::NoModel)?
            .predict(&features)
            .await?;
        Ok(Prediction { features, outputs })
    }
}

/// How the validators judge the rows of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Not at all (drift checks of data as it comes).
    Skip,
    /// As one batch: rules about the batch (uniqueness, null fractions) apply, as in
    /// training and batch scoring.
    Batch,
    /// Each row on its own, as online requests are judged: a request is refused only for
    /// what a row breaks by itself.
    RowByRow,
}

/// The violations of `report` that name a row, other than the label's, as request
/// violations; `row` replaces their row (a report on one row taken out of a batch).
fn row_violations(
    step: &ValidatorStep,
    report: Report,
    label: &str,
    row: Option<u32>,
) -> Vec<RequestViolation> {
    report
        .violations
        .into_iter()
        .filter(|x| x.row.is_some() && x.column.as_deref() != Some(label))
        .map(|x| RequestViolation {
            validator: step.plugin.name().to_string(),
            rule: x.rule,
            field: x.column,
            row: row.or(x.row),
            problem: x.message,
        })
        .collect()
}
