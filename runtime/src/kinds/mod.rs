//! Typed instances, one per plugin kind. Each call is armed with the plugin's deadline, and
//! every failure comes back as a [`PluginError`]; an instance that failed is discarded.
//!
//! A kind's calls are a trait ([`ValidatorCalls`], [`TransformCalls`], [`ModelCalls`],
//! [`DeployerCalls`], [`AlertSinkCalls`]) that both backends implement: components through
//! their WIT bindings (`component.rs`), Extism modules through JSON exports (`extism.rs`). An
//! instance holds one backend and makes every call through its kind's trait; what all
//! backends share (the kind check, the output checks, discarding) is done here once.

mod component;
mod extism;
mod ready;

pub use ready::{ReadyModel, ReadyTransform, ReadyValidator};

use ferry_extism_pdk::wire as w;
use wasmtime::component::ResourceAny;

use super::bindings::types::{
    Alert, Batch, Column, Deployment, DeploymentPlan, DeploymentStatus, Field, ModelInfo, Report,
};
use super::bindings::{alert_sink, deployer, model, transform, validator};
use super::check;
use super::error::{Failure, PluginError};
use super::plugin::Plugin;
use super::prepared::KindPre;
use super::session::{Session, timed};
use crate::manifest::PluginKind;

/// A validator's calls, as a backend makes them.
trait ValidatorCalls {
    /// Finishes starting the instance, before any call that may not draw random numbers.
    async fn start(&self, s: &mut Session) -> Result<(), PluginError>;
    async fn validate(
        &self,
        s: &mut Session,
        config: &str,
        data: &Batch,
    ) -> Result<Report, PluginError>;
}

/// A feature transform's calls, as a backend makes them.
trait TransformCalls {
    async fn new_analyzer(
        &self,
        s: &mut Session,
        config: &str,
        input: &[Field],
    ) -> Result<Handle, PluginError>;
    async fn update(
        &self,
        s: &mut Session,
        analyzer: Handle,
        data: &Batch,
    ) -> Result<(), PluginError>;
    async fn finish(&self, s: &mut Session, analyzer: Handle) -> Result<Vec<u8>, PluginError>;
    async fn new_transformer(
        &self,
        s: &mut Session,
        config: &str,
        state: &[u8],
    ) -> Result<Handle, PluginError>;
    async fn apply(
        &self,
        s: &mut Session,
        transformer: Handle,
        data: &Batch,
    ) -> Result<Batch, PluginError>;
    async fn output_schema(
        &self,
        s: &mut Session,
        config: &str,
        input: &[Field],
    ) -> Result<Vec<Field>, PluginError>;
}

/// A model adapter's calls, as a backend makes them.
trait ModelCalls {
    async fn train(
        &self,
        s: &mut Session,
        features: &Batch,
        labels: &Column,
        config: &str,
    ) -> Result<Vec<u8>, PluginError>;
    async fn load(
        &self,
        s: &mut Session,
        artifact: &[u8],
        config: &str,
    ) -> Result<Handle, PluginError>;
    async fn describe(&self, s: &mut Session, model: Handle) -> Result<ModelInfo, PluginError>;
    async fn predict(
        &self,
        s: &mut Session,
        model: Handle,
        features: &Batch,
    ) -> Result<Batch, PluginError>;
}

/// A deployer's calls, as a backend makes them.
trait DeployerCalls {
    async fn plan(
        &self,
        s: &mut Session,
        target: &Deployment,
    ) -> Result<DeploymentPlan, PluginError>;
    async fn apply(
        &self,
        s: &mut Session,
        target: &Deployment,
    ) -> Result<DeploymentStatus, PluginError>;
    async fn status(
        &self,
        s: &mut Session,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError>;
    async fn rollback(
        &self,
        s: &mut Session,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError>;
}

/// An alert sink's calls, as a backend makes them.
trait AlertSinkCalls {
    async fn deliver(
        &self,
        s: &mut Session,
        config: &str,
        alert: &Alert,
    ) -> Result<(), PluginError>;
}

/// How an instance runs: a component's bindings, or an Extism module.
enum Backend<B> {
    Component(B),
    Extism(extism::Extism),
}

/// Makes a call through a kind's trait on whichever backend the instance has.
macro_rules! on_backend {
    ($self:ident, $kind:ident::$method:ident($($arg:expr),*)) => {{
        let session = &mut $self.session;
        match &$self.backend {
            Backend::Component(b) => $kind::$method(b, session, $($arg),*).await,
            Backend::Extism(x) => $kind::$method(x, session, $($arg),*).await,
        }
    }};
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
            KindPre::Extism(x) => Backend::Extism(extism::Extism::new(&mut session, x).await?),
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

/// The error of a handle passed to an instance of the other backend.
fn mixed(session: &Session, op: &'static str) -> PluginError {
    session.plugin.error(
        op,
        Failure::Host("a handle from another instance was passed to this one".into()),
    )
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
        let (session, backend) = instantiate!(plugin, Validator, PluginKind::Validator);
        let mut instance = Self { session, backend };
        on_backend!(instance, ValidatorCalls::start())?;
        Ok(instance)
    }

    /// Checks `data` against the rules in `config` (JSON).
    pub async fn validate(&mut self, config: &str, data: &Batch) -> Result<Report, PluginError> {
        on_backend!(self, ValidatorCalls::validate(config, data))
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
        on_backend!(self, TransformCalls::new_analyzer(config, input)).map(AnalyzerHandle)
    }

    /// Adds a batch to an analysis.
    pub async fn update(
        &mut self,
        analyzer: AnalyzerHandle,
        data: &Batch,
    ) -> Result<(), PluginError> {
        on_backend!(self, TransformCalls::update(analyzer.0, data))
    }

    /// Ends an analysis and returns the learned state.
    pub async fn finish(&mut self, analyzer: AnalyzerHandle) -> Result<Vec<u8>, PluginError> {
        on_backend!(self, TransformCalls::finish(analyzer.0))
    }

    /// Builds a transformer from a learned state.
    pub async fn new_transformer(
        &mut self,
        config: &str,
        state: &[u8],
    ) -> Result<TransformerHandle, PluginError> {
        on_backend!(self, TransformCalls::new_transformer(config, state)).map(TransformerHandle)
    }

    /// Transforms a batch; the result has exactly as many rows.
    pub async fn apply(
        &mut self,
        transformer: TransformerHandle,
        data: &Batch,
    ) -> Result<Batch, PluginError> {
        let out = on_backend!(self, TransformCalls::apply(transformer.0, data))?;
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
        on_backend!(self, TransformCalls::output_schema(config, input))
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
        on_backend!(self, ModelCalls::train(features, labels, config))
    }

    /// Loads a model from its artifact.
    pub async fn load(
        &mut self,
        artifact: &[u8],
        config: &str,
    ) -> Result<PredictorHandle, PluginError> {
        on_backend!(self, ModelCalls::load(artifact, config)).map(PredictorHandle)
    }

    /// What a loaded model expects and returns.
    pub async fn describe(&mut self, model: PredictorHandle) -> Result<ModelInfo, PluginError> {
        on_backend!(self, ModelCalls::describe(model.0))
    }

    /// Predicts a batch; the result has exactly as many rows.
    pub async fn predict(
        &mut self,
        model: PredictorHandle,
        features: &Batch,
    ) -> Result<Batch, PluginError> {
        let out = on_backend!(self, ModelCalls::predict(model.0, features))?;
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
        on_backend!(self, DeployerCalls::plan(target))
    }

    /// Deploys.
    pub async fn apply(&mut self, target: &Deployment) -> Result<DeploymentStatus, PluginError> {
        on_backend!(self, DeployerCalls::apply(target))
    }

    /// The state of deployment `name`.
    pub async fn status(
        &mut self,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        on_backend!(self, DeployerCalls::status(name, settings))
    }

    /// Returns deployment `name` to its previous version.
    pub async fn rollback(
        &mut self,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        on_backend!(self, DeployerCalls::rollback(name, settings))
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
        on_backend!(self, AlertSinkCalls::deliver(config, alert))
    }
}
