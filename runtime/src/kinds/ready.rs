//! Instances made ready for one computing call: a validator for one `validate`, a transform
//! for one `apply`, a model for one `predict`. A plugin that exports its kind's `prepared-*`
//! interface (contract 0.1.1) gets a fresh instance of its snapshot, taken once after
//! `prepare`; any other gets a fresh instance built as before (`new-transformer`, `load`).
//! Either way the instance has served no earlier call, and the call consumes it.

use wasmtime::component::{ComponentExportIndex, ComponentNamedList, Instance, Lift, Lower};

use super::{ModelInstance, TransformInstance, ValidatorInstance};
use super::{PredictorHandle, TransformerHandle, checked};
use crate::bindings::types::{self as wit, Batch, Report};
use crate::blob::Blob;
use crate::error::{Failure, PluginError};
use crate::manifest::PluginKind;
use crate::plugin::Plugin;
use crate::session::{Session, timed};
use crate::snapshot::{PrepareArgs, Snapshot};

/// A fresh instance of a plugin's snapshot.
struct FromSnapshot {
    session: Session,
    instance: Instance,
    call: ComponentExportIndex,
}

impl FromSnapshot {
    async fn new(plugin: &Plugin, snapshot: &Snapshot) -> Result<Self, PluginError> {
        let mut session = Session::new(plugin.sandbox())?;
        let limit = session.arm("instantiate")?;
        let out = timed(limit, snapshot.pre.instantiate_async(&mut session.store)).await;
        let instance = session.settle_plain("instantiate", out)?;
        session.plugin.metrics.instances_from_snapshots.inc();
        Ok(Self {
            session,
            instance,
            call: snapshot.call,
        })
    }

    /// Makes the snapshot's one call (`apply`, `predict` or `validate`) as `op`.
    async fn call<P, R>(&mut self, op: &'static str, params: P) -> Result<R, PluginError>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: Lift + Send + Sync + 'static,
    {
        let s = &mut self.session;
        let func = self
            .instance
            .get_typed_func::<P, (Result<R, wit::PluginError>,)>(&mut s.store, self.call)
            .map_err(|e| {
                s.discard();
                s.plugin.error(
                    op,
                    Failure::Host(format!("the snapshot's `{op}` has the wrong type: {e:#}")),
                )
            })?;
        let limit = s.arm(op)?;
        let out = timed(limit, async {
            Ok(func.call_async(&mut s.store, params).await?.0)
        })
        .await;
        s.settle(op, out)
    }
}

/// A validator instance ready for one `validate`.
pub struct ReadyValidator(ReadyV);

enum ReadyV {
    Plain(Box<ValidatorInstance>, String),
    Snapshot(FromSnapshot),
}

impl ReadyValidator {
    /// A fresh validator instance for `config`.
    pub async fn new(plugin: &Plugin, config: &str) -> Result<Self, PluginError> {
        plugin.expect_kind(PluginKind::Validator)?;
        Ok(Self(
            match plugin.snapshot(PrepareArgs::Validator { config }).await? {
                Some(s) => ReadyV::Snapshot(FromSnapshot::new(plugin, &s).await?),
                None => ReadyV::Plain(
                    Box::new(ValidatorInstance::new(plugin).await?),
                    config.to_string(),
                ),
            },
        ))
    }

    /// Checks `data` against the rules the instance was made ready with; consumes it.
    pub async fn validate(self, data: &Batch) -> Result<Report, PluginError> {
        match self.0 {
            ReadyV::Plain(mut inst, config) => inst.validate(&config, data).await,
            ReadyV::Snapshot(mut s) => s.call("validate", (data,)).await,
        }
    }
}

/// A transform instance ready for one `apply`.
pub struct ReadyTransform(ReadyT);

enum ReadyT {
    Plain(Box<TransformInstance>, TransformerHandle),
    Snapshot(FromSnapshot),
}

impl ReadyTransform {
    /// A fresh transform instance for `config` and the learned `state`.
    pub async fn new(plugin: &Plugin, config: &str, state: &Blob) -> Result<Self, PluginError> {
        plugin.expect_kind(PluginKind::Transform)?;
        Ok(Self(
            match plugin
                .snapshot(PrepareArgs::Transform { config, state })
                .await?
            {
                Some(s) => ReadyT::Snapshot(FromSnapshot::new(plugin, &s).await?),
                None => {
                    let mut inst = TransformInstance::new(plugin).await?;
                    let handle = inst.new_transformer(config, state).await?;
                    ReadyT::Plain(Box::new(inst), handle)
                }
            },
        ))
    }

    /// Transforms `data`; the result has exactly as many rows. Consumes the instance.
    pub async fn apply(self, data: &Batch) -> Result<Batch, PluginError> {
        const OP: &str = "transformer.apply";
        match self.0 {
            ReadyT::Plain(mut inst, handle) => inst.apply(handle, data).await,
            ReadyT::Snapshot(mut s) => {
                let out = s.call(OP, (data,)).await?;
                checked(&mut s.session, OP, out, Some(data.num_rows))
            }
        }
    }
}

/// A model instance ready for one `predict`.
pub struct ReadyModel(ReadyM);

enum ReadyM {
    Plain(Box<ModelInstance>, PredictorHandle),
    Snapshot(FromSnapshot),
}

impl ReadyModel {
    /// A fresh model instance with `artifact` loaded under `config`.
    pub async fn new(plugin: &Plugin, artifact: &Blob, config: &str) -> Result<Self, PluginError> {
        plugin.expect_kind(PluginKind::Model)?;
        Ok(Self(
            match plugin
                .snapshot(PrepareArgs::Model { artifact, config })
                .await?
            {
                Some(s) => ReadyM::Snapshot(FromSnapshot::new(plugin, &s).await?),
                None => {
                    let mut inst = ModelInstance::new(plugin).await?;
                    let handle = inst.load(artifact, config).await?;
                    ReadyM::Plain(Box::new(inst), handle)
                }
            },
        ))
    }

    /// Predicts `features`; the result has exactly as many rows. Consumes the instance.
    pub async fn predict(self, features: &Batch) -> Result<Batch, PluginError> {
        const OP: &str = "predictor.predict";
        match self.0 {
            ReadyM::Plain(mut inst, handle) => inst.predict(handle, features).await,
            ReadyM::Snapshot(mut s) => {
                let out = s.call(OP, (features,)).await?;
                checked(&mut s.session, OP, out, Some(features.num_rows))
            }
        }
    }
}
