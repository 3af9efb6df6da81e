//! Serving a model version: the validators, transforms (built from their stored states) and
//! model its lineage pins, nothing else, with pooled instances reused across requests.

use std::sync::Mutex;

use super::PipelineError;
use super::lineage::Lineage;
use super::pinned::{blob, load_pinned};
use crate::data::{FieldProblem, columns_view, conform, describe_problems, merge_columns, select};
use crate::runtime::bindings::types::{Batch, Field};
use crate::runtime::{
    LoadOptions, ModelInstance, Plugin, PluginError, PredictorHandle, Runtime, TransformInstance,
    TransformerHandle, ValidatorInstance,
};

/// Idle instance sets kept per served version.
const MAX_IDLE: usize = 16;

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

/// Why a request could not be answered.
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

struct Instances {
    validators: Vec<ValidatorInstance>,
    transforms: Vec<(TransformInstance, TransformerHandle)>,
    model: Option<(ModelInstance, PredictorHandle)>,
}

impl Instances {
    fn usable(&self) -> bool {
        self.validators.iter().all(|v| v.is_usable())
            && self.transforms.iter().all(|(t, _)| t.is_usable())
            && self.model.as_ref().is_none_or(|(m, _)| m.is_usable())
    }
}

/// A model version ready to serve.
pub struct ServingPipeline {
    lineage: Lineage,
    input: Vec<Field>,
    validators: Vec<Plugin>,
    transforms: Vec<(Plugin, Vec<u8>)>,
    model: Option<(Plugin, Vec<u8>)>,
    pool: Mutex<Vec<Instances>>,
}

impl ServingPipeline {
    /// Loads everything `lineage` pins from the registry, refusing any plugin, state or
    /// artifact whose digest does not match.
    pub async fn load(
        runtime: &Runtime,
        registry: &ferry_registry::Registry,
        lineage: Lineage,
        options: &LoadOptions,
    ) -> Result<Self, PipelineError> {
        let input = lineage.input_fields().map_err(PipelineError::Skew)?;
        let mut validators = Vec::new();
        for v in &lineage.validators {
            validators.push(load_pinned(runtime, registry, &v.plugin, options).await?);
        }
        let mut transforms = Vec::new();
        for (i, t) in lineage.transforms.iter().enumerate() {
            let plugin = load_pinned(runtime, registry, &t.plugin, options).await?;
            let state = blob(
                registry,
                &t.state_digest,
                &format!("the state of transform {} ({})", i + 1, t.plugin.name),
            )
            .await?;
            transforms.push((plugin, state));
        }
        let model = match &lineage.model {
            Some(m) => {
                let plugin = load_pinned(runtime, registry, &m.plugin, options).await?;
                let artifact = blob(registry, &m.artifact_digest, "the model artifact").await?;
                Some((plugin, artifact))
            }
            None => None,
        };
        let this = Self {
            lineage,
            input,
            validators,
            transforms,
            model,
            pool: Mutex::new(Vec::new()),
        };
        // Build one set now, so a version that cannot start fails here and not on a request.
        let first = this.instances().await.map_err(|e| match e {
            ServeError::Plugin(p) => PipelineError::Plugin(p),
            other => PipelineError::Other(other.to_string()),
        })?;
        this.give_back(first);
        Ok(this)
    }

    /// The lineage it serves.
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// The columns a request must provide.
    pub fn input_schema(&self) -> &[Field] {
        &self.input
    }

    async fn new_instances(&self) -> Result<Instances, ServeError> {
        let mut validators = Vec::with_capacity(self.validators.len());
        for p in &self.validators {
            validators.push(ValidatorInstance::new(p).await?);
        }
        let mut transforms = Vec::with_capacity(self.transforms.len());
        for ((plugin, state), t) in self.transforms.iter().zip(&self.lineage.transforms) {
            let mut inst = TransformInstance::new(plugin).await?;
            let handle = inst.new_transformer(&t.config, state).await?;
            transforms.push((inst, handle));
        }
        let model = match (&self.model, &self.lineage.model) {
            (Some((plugin, artifact)), Some(m)) => {
                let mut inst = ModelInstance::new(plugin).await?;
                let handle = inst.load(artifact, &m.load_config).await?;
                Some((inst, handle))
            }
            _ => None,
        };
        Ok(Instances {
            validators,
            transforms,
            model,
        })
    }

    async fn instances(&self) -> Result<Instances, ServeError> {
        let pooled = self
            .pool
            .lock()
            .map_err(|_| ServeError::Other("pool poisoned".into()))?
            .pop();
        match pooled {
            Some(i) => Ok(i),
            None => self.new_instances().await,
        }
    }

    fn give_back(&self, instances: Instances) {
        if instances.usable()
            && let Ok(mut pool) = self.pool.lock()
            && pool.len() < MAX_IDLE
        {
            pool.push(instances);
        }
    }

    /// Instance sets waiting in the pool.
    pub fn idle(&self) -> usize {
        self.pool.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Checks and transforms raw rows into the full transformed batch.
    pub async fn transform(&self, raw: &Batch) -> Result<Batch, ServeError> {
        let mut inst = self.instances().await?;
        let out = self.run_transforms(&mut inst, raw).await;
        self.give_back(inst);
        out
    }

    /// The model's inputs and outputs for raw rows.
    pub async fn predict(&self, raw: &Batch) -> Result<Prediction, ServeError> {
        let model = self.lineage.model.as_ref().ok_or(ServeError::NoModel)?;
        let mut inst = self.instances().await?;
        let out = async {
            let data = self.run_transforms(&mut inst, raw).await?;
            let features = select(&data, &model.features)
                .map_err(|e| ServeError::Other(format!("after the transforms: {e}")))?;
            let (m, handle) = inst.model.as_mut().ok_or(ServeError::NoModel)?;
            let outputs = m.predict(*handle, &features).await?;
            Ok(Prediction { features, outputs })
        }
        .await;
        self.give_back(inst);
        out
    }

    async fn run_transforms(&self, inst: &mut Instances, raw: &Batch) -> Result<Batch, ServeError> {
        let label = self.lineage.label.as_str();
        let mut data = conform(raw, &self.input, &[label]).map_err(ServeError::Input)?;
        let mut violations = Vec::new();
        for ((v, lin), plugin) in inst
            .validators
            .iter_mut()
            .zip(&self.lineage.validators)
            .zip(&self.validators)
        {
            let view = columns_view(&data, lin.reads.as_deref()).map_err(ServeError::Other)?;
            let report = v.validate(&lin.config, &view).await?;
            violations.extend(
                report
                    .violations
                    .into_iter()
                    // A request is judged row by row: rules about the whole batch (null
                    // fractions, row counts) and about the label apply to training data.
                    .filter(|x| x.row.is_some() && x.column.as_deref() != Some(label))
                    .map(|x| RequestViolation {
                        validator: plugin.name().to_string(),
                        rule: x.rule,
                        field: x.column,
                        row: x.row,
                        problem: x.message,
                    }),
            );
        }
        if !violations.is_empty() {
            return Err(ServeError::Rejected(violations));
        }
        for ((t, handle), lin) in inst.transforms.iter_mut().zip(&self.lineage.transforms) {
            let view = columns_view(&data, lin.reads.as_deref()).map_err(ServeError::Other)?;
            let out = t.apply(*handle, &view).await?;
            merge_columns(&mut data, out);
        }
        Ok(data)
    }
}
