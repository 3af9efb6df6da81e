//! Typed instances, one per plugin kind. Each call is armed with the plugin's deadline, and
//! every failure comes back as a [`PluginError`]; an instance that failed is discarded.

use wasmtime::component::ResourceAny;

use super::bindings::types::{
    Alert, Batch, Column, Deployment, DeploymentPlan, DeploymentStatus, Field, ModelInfo, Report,
};
use super::bindings::{alert_sink, deployer, model, transform, validator};
use super::check;
use super::error::PluginError;
use super::plugin::{KindPre, Plugin};
use super::session::{Session, timed};
use crate::manifest::PluginKind;

macro_rules! instantiate {
    ($plugin:expr, $variant:ident, $kind:expr) => {{
        let plugin: &Plugin = $plugin;
        plugin.expect_kind($kind)?;
        let KindPre::$variant(pre) = plugin.pre() else {
            unreachable!("a plugin's pre-instance matches its kind")
        };
        let mut session = Session::new(plugin.sandbox())?;
        let limit = session.arm("instantiate")?;
        let out = timed(limit, pre.instantiate_async(&mut session.store)).await;
        let bindings = session.settle_plain("instantiate", out)?;
        (session, bindings)
    }};
}

/// Calls a guest function that returns `result<T, plugin-error>`.
macro_rules! call {
    ($self:ident, $op:literal, |$store:ident| $call:expr) => {{
        let limit = $self.session.arm($op)?;
        let $store = &mut $self.session.store;
        let out = timed(limit, $call).await;
        $self.session.settle($op, out)
    }};
}

/// Checks a returned batch, discarding the instance when it breaks the contract.
fn checked(
    session: &mut Session,
    op: &'static str,
    batch: Batch,
    expected: Option<u32>,
) -> Result<Batch, PluginError> {
    let max = session.plugin.limits.max_output_rows;
    check::output_batch(&batch, expected, max).map_err(|failure| {
        session.discard();
        session.plugin.error(op, failure)
    })?;
    Ok(batch)
}

/// A validator instance.
pub struct ValidatorInstance {
    session: Session,
    bindings: validator::ValidatorPlugin,
}

impl ValidatorInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, bindings) = instantiate!(plugin, Validator, PluginKind::Validator);
        Ok(Self { session, bindings })
    }

    /// Checks `data` against the rules in `config` (JSON).
    pub async fn validate(&mut self, config: &str, data: &Batch) -> Result<Report, PluginError> {
        let iface = self.bindings.ferry_plugin_validator();
        call!(self, "validate", |store| iface
            .call_validate(store, config, data))
    }

    /// Whether the instance can still be called.
    pub fn is_usable(&self) -> bool {
        self.session.is_usable()
    }
}

/// An analyzer living in a transform instance.
#[derive(Debug, Clone, Copy)]
pub struct AnalyzerHandle(ResourceAny);

/// A transformer living in a transform instance.
#[derive(Debug, Clone, Copy)]
pub struct TransformerHandle(ResourceAny);

/// A transform instance.
pub struct TransformInstance {
    session: Session,
    bindings: transform::TransformPlugin,
}

impl TransformInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, bindings) = instantiate!(plugin, Transform, PluginKind::Transform);
        Ok(Self { session, bindings })
    }

    /// Starts an analysis.
    pub async fn new_analyzer(
        &mut self,
        config: &str,
        input: &[Field],
    ) -> Result<AnalyzerHandle, PluginError> {
        let iface = self.bindings.ferry_plugin_transform();
        let input = input.to_vec();
        call!(self, "new-analyzer", |store| iface
            .call_new_analyzer(store, config, &input))
        .map(AnalyzerHandle)
    }

    /// Adds a batch to an analysis.
    pub async fn update(
        &mut self,
        analyzer: AnalyzerHandle,
        data: &Batch,
    ) -> Result<(), PluginError> {
        let iface = self.bindings.ferry_plugin_transform().analyzer();
        call!(self, "analyzer.update", |store| iface
            .call_update(store, analyzer.0, data))
    }

    /// Ends an analysis and returns the learned state.
    pub async fn finish(&mut self, analyzer: AnalyzerHandle) -> Result<Vec<u8>, PluginError> {
        let iface = self.bindings.ferry_plugin_transform().analyzer();
        call!(self, "analyzer.finish", |store| iface
            .call_finish(store, analyzer.0))
    }

    /// Builds a transformer from a learned state.
    pub async fn new_transformer(
        &mut self,
        config: &str,
        state: &[u8],
    ) -> Result<TransformerHandle, PluginError> {
        let iface = self.bindings.ferry_plugin_transform();
        call!(self, "new-transformer", |store| iface
            .call_new_transformer(store, config, state))
        .map(TransformerHandle)
    }

    /// Transforms a batch; the result has exactly as many rows.
    pub async fn apply(
        &mut self,
        transformer: TransformerHandle,
        data: &Batch,
    ) -> Result<Batch, PluginError> {
        let iface = self.bindings.ferry_plugin_transform().transformer();
        let out = call!(self, "transformer.apply", |store| iface.call_apply(
            store,
            transformer.0,
            data
        ))?;
        checked(
            &mut self.session,
            "transformer.apply",
            out,
            Some(data.num_rows),
        )
    }

    /// The schema `apply` produces for `input`.
    pub async fn output_schema(
        &mut self,
        config: &str,
        input: &[Field],
    ) -> Result<Vec<Field>, PluginError> {
        let iface = self.bindings.ferry_plugin_transform();
        let input = input.to_vec();
        call!(self, "output-schema", |store| iface
            .call_output_schema(store, config, &input))
    }

    /// Whether the instance can still be called.
    pub fn is_usable(&self) -> bool {
        self.session.is_usable()
    }
}

/// A model loaded in a model instance.
#[derive(Debug, Clone, Copy)]
pub struct PredictorHandle(ResourceAny);

/// A model-adapter instance.
pub struct ModelInstance {
    session: Session,
    bindings: model::ModelPlugin,
}

impl ModelInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, bindings) = instantiate!(plugin, Model, PluginKind::Model);
        Ok(Self { session, bindings })
    }

    /// Trains a model and returns its artifact.
    pub async fn train(
        &mut self,
        features: &Batch,
        labels: &Column,
        config: &str,
    ) -> Result<Vec<u8>, PluginError> {
        let iface = self.bindings.ferry_plugin_model();
        call!(self, "train", |store| iface
            .call_train(store, features, labels, config))
    }

    /// Loads a model from its artifact.
    pub async fn load(
        &mut self,
        artifact: &[u8],
        config: &str,
    ) -> Result<PredictorHandle, PluginError> {
        let iface = self.bindings.ferry_plugin_model();
        call!(self, "load", |store| iface
            .call_load(store, artifact, config))
        .map(PredictorHandle)
    }

    /// What a loaded model expects and returns.
    pub async fn describe(&mut self, model: PredictorHandle) -> Result<ModelInfo, PluginError> {
        let iface = self.bindings.ferry_plugin_model().predictor();
        let limit = self.session.arm("predictor.describe")?;
        let out = timed(limit, iface.call_describe(&mut self.session.store, model.0)).await;
        self.session.settle_plain("predictor.describe", out)
    }

    /// Predicts a batch; the result has exactly as many rows.
    pub async fn predict(
        &mut self,
        model: PredictorHandle,
        features: &Batch,
    ) -> Result<Batch, PluginError> {
        let iface = self.bindings.ferry_plugin_model().predictor();
        let out = call!(self, "predictor.predict", |store| iface
            .call_predict(store, model.0, features))?;
        checked(
            &mut self.session,
            "predictor.predict",
            out,
            Some(features.num_rows),
        )
    }

    /// Whether the instance can still be called.
    pub fn is_usable(&self) -> bool {
        self.session.is_usable()
    }
}

/// A deployer instance.
pub struct DeployerInstance {
    session: Session,
    bindings: deployer::DeployerPlugin,
}

impl DeployerInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, bindings) = instantiate!(plugin, Deployer, PluginKind::Deployer);
        Ok(Self { session, bindings })
    }

    /// The steps `apply` would take.
    pub async fn plan(&mut self, target: &Deployment) -> Result<DeploymentPlan, PluginError> {
        let iface = self.bindings.ferry_plugin_deployer();
        call!(self, "plan", |store| iface.call_plan(store, target))
    }

    /// Deploys.
    pub async fn apply(&mut self, target: &Deployment) -> Result<DeploymentStatus, PluginError> {
        let iface = self.bindings.ferry_plugin_deployer();
        call!(self, "apply", |store| iface.call_apply(store, target))
    }

    /// The state of deployment `name`.
    pub async fn status(
        &mut self,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        let iface = self.bindings.ferry_plugin_deployer();
        call!(self, "status", |store| iface
            .call_status(store, name, settings))
    }

    /// Returns deployment `name` to its previous version.
    pub async fn rollback(
        &mut self,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        let iface = self.bindings.ferry_plugin_deployer();
        call!(self, "rollback", |store| iface
            .call_rollback(store, name, settings))
    }
}

/// An alert-sink instance.
pub struct AlertSinkInstance {
    session: Session,
    bindings: alert_sink::AlertSinkPlugin,
}

impl AlertSinkInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, bindings) = instantiate!(plugin, AlertSink, PluginKind::AlertSink);
        Ok(Self { session, bindings })
    }

    /// Delivers an alert.
    pub async fn deliver(&mut self, config: &str, alert: &Alert) -> Result<(), PluginError> {
        let iface = self.bindings.ferry_plugin_alert_sink();
        call!(self, "deliver", |store| iface
            .call_deliver(store, config, alert))
    }
}
