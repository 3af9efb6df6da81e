//! The Extism backend: each kind's calls made as JSON through an Extism module's exports.

use ferry_extism_pdk::wire as w;

use super::{
    AlertSinkCalls, DeployerCalls, Handle, ModelCalls, TransformCalls, ValidatorCalls, mixed,
};
use crate::bindings::types::{
    Alert, Batch, Column, Deployment, DeploymentPlan, DeploymentStatus, Field, ModelInfo, Report,
};
use crate::error::PluginError;
use crate::extism::ExtismInstance;
use crate::extism::convert::{Bytes, ToWire};
use crate::extism::pre::ExtismPre;
use crate::session::Session;

/// An Extism module's instance, the backend of any kind.
pub(super) struct Extism(ExtismInstance);

impl Extism {
    /// Instantiates `pre` in `session`'s store.
    pub(super) async fn new(session: &mut Session, pre: &ExtismPre) -> Result<Self, PluginError> {
        ExtismInstance::new(session, pre).await.map(Self)
    }
}

/// The Extism handle a handle names, or an error when it came from a component.
fn extism(handle: Handle, s: &Session, op: &'static str) -> Result<w::Handle, PluginError> {
    match handle {
        Handle::Extism(h) => Ok(h),
        Handle::Resource(_) => Err(mixed(s, op)),
    }
}

impl ValidatorCalls for Extism {
    async fn start(&self, _: &mut Session) -> Result<(), PluginError> {
        Ok(())
    }

    async fn validate(
        &self,
        s: &mut Session,
        config: &str,
        data: &Batch,
    ) -> Result<Report, PluginError> {
        let input = w::ValidateCall {
            config: config.to_string(),
            data: data.to_wire(),
        };
        self.0
            .call::<_, w::Report, _>(s, "validate", "validate", &input)
            .await
    }
}

impl TransformCalls for Extism {
    async fn new_analyzer(
        &self,
        s: &mut Session,
        config: &str,
        input: &[Field],
    ) -> Result<Handle, PluginError> {
        let input = w::SchemaCall {
            config: config.to_string(),
            input: input.to_wire(),
        };
        self.0
            .call::<_, w::Handle, u32>(s, "new-analyzer", "analyzer_new", &input)
            .await
            .map(Handle::Extism)
    }

    async fn update(
        &self,
        s: &mut Session,
        analyzer: Handle,
        data: &Batch,
    ) -> Result<(), PluginError> {
        const OP: &str = "analyzer.update";
        let input = w::UpdateCall {
            analyzer: extism(analyzer, s, OP)?,
            data: data.to_wire(),
        };
        self.0
            .call::<_, (), _>(s, OP, "analyzer_update", &input)
            .await
    }

    async fn finish(&self, s: &mut Session, analyzer: Handle) -> Result<Vec<u8>, PluginError> {
        const OP: &str = "analyzer.finish";
        let input = w::FinishCall {
            analyzer: extism(analyzer, s, OP)?,
        };
        self.0
            .call::<_, Bytes, _>(s, OP, "analyzer_finish", &input)
            .await
    }

    async fn new_transformer(
        &self,
        s: &mut Session,
        config: &str,
        state: &[u8],
    ) -> Result<Handle, PluginError> {
        let input = w::TransformerCall {
            config: config.to_string(),
            state: state.to_vec(),
        };
        self.0
            .call::<_, w::Handle, u32>(s, "new-transformer", "transformer_new", &input)
            .await
            .map(Handle::Extism)
    }

    async fn apply(
        &self,
        s: &mut Session,
        transformer: Handle,
        data: &Batch,
    ) -> Result<Batch, PluginError> {
        const OP: &str = "transformer.apply";
        let input = w::ApplyCall {
            transformer: extism(transformer, s, OP)?,
            data: data.to_wire(),
        };
        self.0
            .call::<_, w::Batch, _>(s, OP, "transformer_apply", &input)
            .await
    }

    async fn output_schema(
        &self,
        s: &mut Session,
        config: &str,
        input: &[Field],
    ) -> Result<Vec<Field>, PluginError> {
        let input = w::SchemaCall {
            config: config.to_string(),
            input: input.to_wire(),
        };
        self.0
            .call::<_, Vec<w::Field>, _>(s, "output-schema", "output_schema", &input)
            .await
    }
}

impl ModelCalls for Extism {
    async fn train(
        &self,
        s: &mut Session,
        features: &Batch,
        labels: &Column,
        config: &str,
    ) -> Result<Vec<u8>, PluginError> {
        let input = w::TrainCall {
            features: features.to_wire(),
            labels: labels.to_wire(),
            config: config.to_string(),
        };
        self.0
            .call::<_, Bytes, _>(s, "train", "train", &input)
            .await
    }

    async fn load(
        &self,
        s: &mut Session,
        artifact: &[u8],
        config: &str,
    ) -> Result<Handle, PluginError> {
        let input = w::LoadCall {
            artifact: artifact.to_vec(),
            config: config.to_string(),
        };
        self.0
            .call::<_, w::Handle, u32>(s, "load", "load", &input)
            .await
            .map(Handle::Extism)
    }

    async fn describe(&self, s: &mut Session, model: Handle) -> Result<ModelInfo, PluginError> {
        const OP: &str = "predictor.describe";
        let input = w::DescribeCall {
            predictor: extism(model, s, OP)?,
        };
        self.0
            .call::<_, w::ModelInfo, _>(s, OP, "predictor_describe", &input)
            .await
    }

    async fn predict(
        &self,
        s: &mut Session,
        model: Handle,
        features: &Batch,
    ) -> Result<Batch, PluginError> {
        const OP: &str = "predictor.predict";
        let input = w::PredictCall {
            predictor: extism(model, s, OP)?,
            features: features.to_wire(),
        };
        self.0
            .call::<_, w::Batch, _>(s, OP, "predictor_predict", &input)
            .await
    }
}

impl DeployerCalls for Extism {
    async fn plan(
        &self,
        s: &mut Session,
        target: &Deployment,
    ) -> Result<DeploymentPlan, PluginError> {
        let input = w::TargetCall {
            target: target.to_wire(),
        };
        self.0
            .call::<_, w::DeploymentPlan, _>(s, "plan", "plan", &input)
            .await
    }

    async fn apply(
        &self,
        s: &mut Session,
        target: &Deployment,
    ) -> Result<DeploymentStatus, PluginError> {
        let input = w::TargetCall {
            target: target.to_wire(),
        };
        self.0
            .call::<_, w::DeploymentStatus, _>(s, "apply", "apply", &input)
            .await
    }

    async fn status(
        &self,
        s: &mut Session,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        let input = w::NamedCall {
            name: name.to_string(),
            settings: settings.to_string(),
        };
        self.0
            .call::<_, w::DeploymentStatus, _>(s, "status", "status", &input)
            .await
    }

    async fn rollback(
        &self,
        s: &mut Session,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        let input = w::NamedCall {
            name: name.to_string(),
            settings: settings.to_string(),
        };
        self.0
            .call::<_, w::DeploymentStatus, _>(s, "rollback", "rollback", &input)
            .await
    }
}

impl AlertSinkCalls for Extism {
    async fn deliver(
        &self,
        s: &mut Session,
        config: &str,
        alert: &Alert,
    ) -> Result<(), PluginError> {
        let input = w::DeliverCall {
            config: config.to_string(),
            alert: alert.to_wire(),
        };
        self.0
            .call::<_, (), _>(s, "deliver", "deliver", &input)
            .await
    }
}
