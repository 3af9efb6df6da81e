//! One trait per plugin kind.

use crate::{
    Alert, Batch, Column, Deployment, DeploymentPlan, DeploymentStatus, ManifestBuilder, ModelInfo,
    Report, Result, Schema, unsupported,
};

/// What every plugin provides: its manifest.
pub trait Plugin {
    /// The plugin's manifest; start from [`manifest!`](crate::manifest).
    fn manifest() -> ManifestBuilder;
}

/// A validator checks a batch against rules given as JSON configuration.
pub trait Validator: Plugin {
    /// Returns every violation found in `batch` (see [`crate::Report`]).
    fn validate(config: &str, batch: &Batch) -> Result<Report>;

    /// Called once for `config` before the host snapshots the instance (contract 0.1.1); every
    /// later `validate` with the same `config` runs in a fresh copy of the memory this left.
    /// Check the configuration here and keep what is costly to build from it (compiled
    /// patterns, sets) where `validate` finds it again. Defaults to doing nothing.
    fn prepare(config: &str) -> Result<()> {
        let _ = config;
        Ok(())
    }
}

/// A feature transform, in two phases: analyse, then apply.
pub trait Transform: Plugin {
    /// Learns state from training batches.
    type Analyzer: Analyzer + 'static;
    /// Applies learned state.
    type Transformer: Transformer + 'static;
    /// Starts an analysis for data of the given schema.
    fn new_analyzer(config: &str, input: Schema) -> Result<Self::Analyzer>;
    /// Builds a transformer from configuration and the state an analyzer finished with.
    fn new_transformer(config: &str, state: &[u8]) -> Result<Self::Transformer>;
    /// The columns `apply` writes for data of the given schema.
    fn output_schema(config: &str, input: &Schema) -> Result<Schema>;
}

/// The analysis phase of a transform.
pub trait Analyzer {
    /// Adds one batch to the analysis.
    fn update(&mut self, batch: &Batch) -> Result<()>;
    /// Returns the learned state. Called once, after the last batch.
    fn finish(&mut self) -> Result<Vec<u8>>;
}

/// The apply phase of a transform.
pub trait Transformer {
    /// Returns the columns this transform writes for `batch`, with as many rows.
    fn apply(&self, batch: &Batch) -> Result<Batch>;
}

/// A model adapter.
pub trait Model: Plugin {
    /// A loaded model.
    type Predictor: Predictor + 'static;
    /// Loads a model from its artifact.
    fn load(artifact: &[u8], config: &str) -> Result<Self::Predictor>;
    /// Trains a model and returns its artifact. Defaults to `unsupported`.
    fn train(features: &Batch, labels: &Column, config: &str) -> Result<Vec<u8>> {
        let _ = (features, labels, config);
        Err(unsupported("this model adapter cannot train"))
    }
}

/// A loaded model.
pub trait Predictor {
    /// The model's task, inputs and outputs.
    fn describe(&self) -> ModelInfo;
    /// Predicts a batch of features.
    fn predict(&self, features: &Batch) -> Result<Batch>;
}

/// A deployer puts a model somewhere it can serve.
pub trait Deployer: Plugin {
    /// The steps `apply` would take.
    fn plan(target: &Deployment) -> Result<DeploymentPlan>;
    /// Deploys.
    fn apply(target: &Deployment) -> Result<DeploymentStatus>;
    /// The state of deployment `name`.
    fn status(name: &str, settings: &str) -> Result<DeploymentStatus>;
    /// Returns deployment `name` to its previous version.
    fn rollback(name: &str, settings: &str) -> Result<DeploymentStatus>;
}

/// An alert sink delivers alerts.
pub trait AlertSink: Plugin {
    /// Delivers one alert.
    fn deliver(config: &str, alert: &Alert) -> Result<()>;
}
