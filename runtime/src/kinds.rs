//! Typed instances, one per plugin kind. Each call is armed with the plugin's deadline, and
//! every failure comes back as a [`PluginError`]; an instance that failed is discarded.

use ferry_extism_pdk::wire as w;
use wasmtime::component::ResourceAny;

use super::bindings::types::{
    Alert, Batch, Column, Deployment, DeploymentPlan, DeploymentStatus, Field, ModelInfo, Report,
};
use super::bindings::{alert_sink, deployer, model, transform, validator};
use super::check;
use super::error::{Failure, PluginError};
use super::extism::ExtismInstance;
use super::extism::convert::{Bytes, ToWire};
use super::plugin::Plugin;
use super::prepared::KindPre;
use super::session::{Session, timed};
use crate::manifest::PluginKind;

/// How an instance runs: a component's bindings, or an Extism module.
enum Backend<B> {
    Component(B),
    Extism(ExtismInstance),
}

macro_rules! instantiate {
    ($plugin:expr, $variant:ident, $kind:expr) => {{
        let plugin: &Plugin = $plugin;
        plugin.expect_kind($kind)?;
        let mut session = Session::new(plugin.sandbox())?;
        let backend = match plugin.pre() {
            KindPre::$variant(pre) => {
                let limit = session.arm("instantiate")?;
                let out = timed(limit, pre.instantiate_async(&mut session.store)).await;
                Backend::Component(session.settle_plain("instantiate", out)?)
            }
            KindPre::Extism(x) => Backend::Extism(ExtismInstance::new(&mut session, x).await?),
            _ => unreachable!("a plugin's pre-instance matches its kind"),
        };
        (session, backend)
    }};
}

/// A handle to an object living in an instance.
#[derive(Debug, Clone, Copy)]
enum Handle {
    Resource(ResourceAny),
    Extism(w::Handle),
}

impl Handle {
    fn resource(self, session: &Session, op: &'static str) -> Result<ResourceAny, PluginError> {
        match self {
            Handle::Resource(r) => Ok(r),
            Handle::Extism(_) => Err(mixed(session, op)),
        }
    }

    fn extism(self, session: &Session, op: &'static str) -> Result<w::Handle, PluginError> {
        match self {
            Handle::Extism(h) => Ok(h),
            Handle::Resource(_) => Err(mixed(session, op)),
        }
    }
}

fn mixed(session: &Session, op: &'static str) -> PluginError {
    session.plugin.error(
        op,
        Failure::Host("a handle from another instance was passed to this one".into()),
    )
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
    backend: Backend<validator::ValidatorPlugin>,
}

impl ValidatorInstance {
    /// A new instance of `plugin`. A language runtime may finish starting on its first call
    /// (componentize-py seeds Python's `random` there), and random draws are refused during
    /// `validate`; so a component is first asked for its manifest, a call that may draw.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (mut session, backend) = instantiate!(plugin, Validator, PluginKind::Validator);
        if let Backend::Component(b) = &backend {
            let iface = b.ferry_plugin_plugin();
            let limit = session.arm("get-manifest")?;
            let out = timed(limit, iface.call_get_manifest(&mut session.store)).await;
            session.settle_plain("get-manifest", out)?;
        }
        Ok(Self { session, backend })
    }

    /// Checks `data` against the rules in `config` (JSON).
    pub async fn validate(&mut self, config: &str, data: &Batch) -> Result<Report, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_validator();
                call!(self, "validate", |store| iface
                    .call_validate(store, config, data))
            }
            Backend::Extism(x) => {
                let input = w::ValidateCall {
                    config: config.to_string(),
                    data: data.to_wire(),
                };
                x.call::<_, w::Report, _>(&mut self.session, "validate", "validate", &input)
                    .await
            }
        }
    }

    /// Whether the instance can still be called.
    pub fn is_usable(&self) -> bool {
        self.session.is_usable()
    }
}

/// An analyzer living in a transform instance.
#[derive(Debug, Clone, Copy)]
pub struct AnalyzerHandle(Handle);

/// A transformer living in a transform instance.
#[derive(Debug, Clone, Copy)]
pub struct TransformerHandle(Handle);

/// A transform instance.
pub struct TransformInstance {
    session: Session,
    backend: Backend<transform::TransformPlugin>,
}

impl TransformInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, backend) = instantiate!(plugin, Transform, PluginKind::Transform);
        Ok(Self { session, backend })
    }

    /// Starts an analysis.
    pub async fn new_analyzer(
        &mut self,
        config: &str,
        input: &[Field],
    ) -> Result<AnalyzerHandle, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_transform();
                let input = input.to_vec();
                call!(self, "new-analyzer", |store| iface
                    .call_new_analyzer(store, config, &input))
                .map(|r| AnalyzerHandle(Handle::Resource(r)))
            }
            Backend::Extism(x) => {
                let input = w::SchemaCall {
                    config: config.to_string(),
                    input: input.to_wire(),
                };
                x.call::<_, w::Handle, u32>(
                    &mut self.session,
                    "new-analyzer",
                    "analyzer_new",
                    &input,
                )
                .await
                .map(|h| AnalyzerHandle(Handle::Extism(h)))
            }
        }
    }

    /// Adds a batch to an analysis.
    pub async fn update(
        &mut self,
        analyzer: AnalyzerHandle,
        data: &Batch,
    ) -> Result<(), PluginError> {
        const OP: &str = "analyzer.update";
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_transform().analyzer();
                let analyzer = analyzer.0.resource(&self.session, OP)?;
                call!(self, "analyzer.update", |store| iface
                    .call_update(store, analyzer, data))
            }
            Backend::Extism(x) => {
                let input = w::UpdateCall {
                    analyzer: analyzer.0.extism(&self.session, OP)?,
                    data: data.to_wire(),
                };
                x.call::<_, (), _>(&mut self.session, OP, "analyzer_update", &input)
                    .await
            }
        }
    }

    /// Ends an analysis and returns the learned state.
    pub async fn finish(&mut self, analyzer: AnalyzerHandle) -> Result<Vec<u8>, PluginError> {
        const OP: &str = "analyzer.finish";
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_transform().analyzer();
                let analyzer = analyzer.0.resource(&self.session, OP)?;
                call!(self, "analyzer.finish", |store| iface
                    .call_finish(store, analyzer))
            }
            Backend::Extism(x) => {
                let input = w::FinishCall {
                    analyzer: analyzer.0.extism(&self.session, OP)?,
                };
                x.call::<_, Bytes, _>(&mut self.session, OP, "analyzer_finish", &input)
                    .await
            }
        }
    }

    /// Builds a transformer from a learned state.
    pub async fn new_transformer(
        &mut self,
        config: &str,
        state: &[u8],
    ) -> Result<TransformerHandle, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_transform();
                call!(self, "new-transformer", |store| iface
                    .call_new_transformer(store, config, state))
                .map(|r| TransformerHandle(Handle::Resource(r)))
            }
            Backend::Extism(x) => {
                let input = w::TransformerCall {
                    config: config.to_string(),
                    state: state.to_vec(),
                };
                x.call::<_, w::Handle, u32>(
                    &mut self.session,
                    "new-transformer",
                    "transformer_new",
                    &input,
                )
                .await
                .map(|h| TransformerHandle(Handle::Extism(h)))
            }
        }
    }

    /// Transforms a batch; the result has exactly as many rows.
    pub async fn apply(
        &mut self,
        transformer: TransformerHandle,
        data: &Batch,
    ) -> Result<Batch, PluginError> {
        const OP: &str = "transformer.apply";
        let out = match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_transform().transformer();
                let transformer = transformer.0.resource(&self.session, OP)?;
                call!(self, "transformer.apply", |store| iface.call_apply(
                    store,
                    transformer,
                    data
                ))?
            }
            Backend::Extism(x) => {
                let input = w::ApplyCall {
                    transformer: transformer.0.extism(&self.session, OP)?,
                    data: data.to_wire(),
                };
                x.call::<_, w::Batch, _>(&mut self.session, OP, "transformer_apply", &input)
                    .await?
            }
        };
        checked(&mut self.session, OP, out, Some(data.num_rows))
    }

    /// The schema `apply` produces for `input`.
    pub async fn output_schema(
        &mut self,
        config: &str,
        input: &[Field],
    ) -> Result<Vec<Field>, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_transform();
                let input = input.to_vec();
                call!(self, "output-schema", |store| iface
                    .call_output_schema(store, config, &input))
            }
            Backend::Extism(x) => {
                let input = w::SchemaCall {
                    config: config.to_string(),
                    input: input.to_wire(),
                };
                x.call::<_, Vec<w::Field>, _>(
                    &mut self.session,
                    "output-schema",
                    "output_schema",
                    &input,
                )
                .await
            }
        }
    }

    /// Whether the instance can still be called.
    pub fn is_usable(&self) -> bool {
        self.session.is_usable()
    }
}

/// A model loaded in a model instance.
#[derive(Debug, Clone, Copy)]
pub struct PredictorHandle(Handle);

/// A model-adapter instance.
pub struct ModelInstance {
    session: Session,
    backend: Backend<model::ModelPlugin>,
}

impl ModelInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, backend) = instantiate!(plugin, Model, PluginKind::Model);
        Ok(Self { session, backend })
    }

    /// Trains a model and returns its artifact.
    pub async fn train(
        &mut self,
        features: &Batch,
        labels: &Column,
        config: &str,
    ) -> Result<Vec<u8>, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_model();
                call!(self, "train", |store| iface
                    .call_train(store, features, labels, config))
            }
            Backend::Extism(x) => {
                let input = w::TrainCall {
                    features: features.to_wire(),
                    labels: labels.to_wire(),
                    config: config.to_string(),
                };
                x.call::<_, Bytes, _>(&mut self.session, "train", "train", &input)
                    .await
            }
        }
    }

    /// Loads a model from its artifact.
    pub async fn load(
        &mut self,
        artifact: &[u8],
        config: &str,
    ) -> Result<PredictorHandle, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_model();
                call!(self, "load", |store| iface
                    .call_load(store, artifact, config))
                .map(|r| PredictorHandle(Handle::Resource(r)))
            }
            Backend::Extism(x) => {
                let input = w::LoadCall {
                    artifact: artifact.to_vec(),
                    config: config.to_string(),
                };
                x.call::<_, w::Handle, u32>(&mut self.session, "load", "load", &input)
                    .await
                    .map(|h| PredictorHandle(Handle::Extism(h)))
            }
        }
    }

    /// What a loaded model expects and returns.
    pub async fn describe(&mut self, model: PredictorHandle) -> Result<ModelInfo, PluginError> {
        const OP: &str = "predictor.describe";
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_model().predictor();
                let model = model.0.resource(&self.session, OP)?;
                let limit = self.session.arm(OP)?;
                let out = timed(limit, iface.call_describe(&mut self.session.store, model)).await;
                self.session.settle_plain(OP, out)
            }
            Backend::Extism(x) => {
                let input = w::DescribeCall {
                    predictor: model.0.extism(&self.session, OP)?,
                };
                x.call::<_, w::ModelInfo, _>(&mut self.session, OP, "predictor_describe", &input)
                    .await
            }
        }
    }

    /// Predicts a batch; the result has exactly as many rows.
    pub async fn predict(
        &mut self,
        model: PredictorHandle,
        features: &Batch,
    ) -> Result<Batch, PluginError> {
        const OP: &str = "predictor.predict";
        let out = match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_model().predictor();
                let model = model.0.resource(&self.session, OP)?;
                call!(self, "predictor.predict", |store| iface
                    .call_predict(store, model, features))?
            }
            Backend::Extism(x) => {
                let input = w::PredictCall {
                    predictor: model.0.extism(&self.session, OP)?,
                    features: features.to_wire(),
                };
                x.call::<_, w::Batch, _>(&mut self.session, OP, "predictor_predict", &input)
                    .await?
            }
        };
        checked(&mut self.session, OP, out, Some(features.num_rows))
    }

    /// Whether the instance can still be called.
    pub fn is_usable(&self) -> bool {
        self.session.is_usable()
    }
}

/// A deployer instance.
pub struct DeployerInstance {
    session: Session,
    backend: Backend<deployer::DeployerPlugin>,
}

impl DeployerInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, backend) = instantiate!(plugin, Deployer, PluginKind::Deployer);
        Ok(Self { session, backend })
    }

    /// The steps `apply` would take.
    pub async fn plan(&mut self, target: &Deployment) -> Result<DeploymentPlan, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_deployer();
                call!(self, "plan", |store| iface.call_plan(store, target))
            }
            Backend::Extism(x) => {
                let input = w::TargetCall {
                    target: target.to_wire(),
                };
                x.call::<_, w::DeploymentPlan, _>(&mut self.session, "plan", "plan", &input)
                    .await
            }
        }
    }

    /// Deploys.
    pub async fn apply(&mut self, target: &Deployment) -> Result<DeploymentStatus, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_deployer();
                call!(self, "apply", |store| iface.call_apply(store, target))
            }
            Backend::Extism(x) => {
                let input = w::TargetCall {
                    target: target.to_wire(),
                };
                x.call::<_, w::DeploymentStatus, _>(&mut self.session, "apply", "apply", &input)
                    .await
            }
        }
    }

    /// The state of deployment `name`.
    pub async fn status(
        &mut self,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_deployer();
                call!(self, "status", |store| iface
                    .call_status(store, name, settings))
            }
            Backend::Extism(x) => {
                let input = w::NamedCall {
                    name: name.to_string(),
                    settings: settings.to_string(),
                };
                x.call::<_, w::DeploymentStatus, _>(&mut self.session, "status", "status", &input)
                    .await
            }
        }
    }

    /// Returns deployment `name` to its previous version.
    pub async fn rollback(
        &mut self,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_deployer();
                call!(self, "rollback", |store| iface
                    .call_rollback(store, name, settings))
            }
            Backend::Extism(x) => {
                let input = w::NamedCall {
                    name: name.to_string(),
                    settings: settings.to_string(),
                };
                x.call::<_, w::DeploymentStatus, _>(
                    &mut self.session,
                    "rollback",
                    "rollback",
                    &input,
                )
                .await
            }
        }
    }
}

/// An alert-sink instance.
pub struct AlertSinkInstance {
    session: Session,
    backend: Backend<alert_sink::AlertSinkPlugin>,
}

impl AlertSinkInstance {
    /// A new instance of `plugin`.
    pub async fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let (session, backend) = instantiate!(plugin, AlertSink, PluginKind::AlertSink);
        Ok(Self { session, backend })
    }

    /// Delivers an alert.
    pub async fn deliver(&mut self, config: &str, alert: &Alert) -> Result<(), PluginError> {
        match &self.backend {
            Backend::Component(b) => {
                let iface = b.ferry_plugin_alert_sink();
                call!(self, "deliver", |store| iface
                    .call_deliver(store, config, alert))
            }
            Backend::Extism(x) => {
                let input = w::DeliverCall {
                    config: config.to_string(),
                    alert: alert.to_wire(),
                };
                x.call::<_, (), _>(&mut self.session, "deliver", "deliver", &input)
                    .await
            }
        }
    }
}
