//! The component backend: each kind's calls made through its generated WIT bindings.

use wasmtime::component::ResourceAny;

use super::{
    AlertSinkCalls, DeployerCalls, Handle, ModelCalls, TransformCalls, ValidatorCalls, mixed,
};
use crate::bindings::types::{
    Alert, Batch, Column, Deployment, DeploymentPlan, DeploymentStatus, Field, ModelInfo, Report,
};
use crate::bindings::{alert_sink, deployer, model, transform, validator};
use crate::error::PluginError;
use crate::session::{Session, timed};

/// Calls a guest function that returns `result<T, plugin-error>`, armed with the deadline.
macro_rules! call {
    ($s:ident, $op:expr, |$store:ident| $call:expr) => {{
        let limit = $s.arm($op)?;
        let $store = &mut $s.store;
        let out = timed(limit, $call).await;
        $s.settle($op, out)
    }};
}

/// The resource a handle names, or an error when it came from an Extism instance.
fn resource(handle: Handle, s: &Session, op: &'static str) -> Result<ResourceAny, PluginError> {
    match handle {
        Handle::Resource(r) => Ok(r),
        Handle::Extism(_) => Err(mixed(s, op)),
    }
}

impl ValidatorCalls for validator::ValidatorPlugin {
    async fn start(&self, s: &mut Session) -> Result<(), PluginError> {
        let iface = self.ferry_plugin_plugin();
        let limit = s.arm("get-manifest")?;
        let out = timed(limit, iface.call_get_manifest(&mut s.store)).await;
        s.settle_plain("get-manifest", out)?;
        Ok(())
    }

    async fn validate(
        &self,
        s: &mut Session,
        config: &str,
        data: &Batch,
    ) -> Result<Report, PluginError> {
        let iface = self.ferry_plugin_validator();
        call!(s, "validate", |store| iface
            .call_validate(store, config, data))
    }
}

impl TransformCalls for transform::TransformPlugin {
    async fn new_analyzer(
        &self,
        s: &mut Session,
        config: &str,
        input: &[Field],
    ) -> Result<Handle, PluginError> {
        let iface = self.ferry_plugin_transform();
        let input = input.to_vec();
        call!(s, "new-analyzer", |store| iface
            .call_new_analyzer(store, config, &input))
        .map(Handle::Resource)
    }

    async fn update(
        &self,
        s: &mut Session,
        analyzer: Handle,
        data: &Batch,
    ) -> Result<(), PluginError> {
        const OP: &str = "analyzer.update";
        let iface = self.ferry_plugin_transform().analyzer();
        let analyzer = resource(analyzer, s, OP)?;
        call!(s, OP, |store| iface.call_update(store, analyzer, data))
    }

    async fn finish(&self, s: &mut Session, analyzer: Handle) -> Result<Vec<u8>, PluginError> {
        const OP: &str = "analyzer.finish";
        let iface = self.ferry_plugin_transform().analyzer();
        let analyzer = resource(analyzer, s, OP)?;
        call!(s, OP, |store| iface.call_finish(store, analyzer))
    }

    async fn new_transformer(
        &self,
        s: &mut Session,
        config: &str,
        state: &[u8],
    ) -> Result<Handle, PluginError> {
        let iface = self.ferry_plugin_transform();
        call!(s, "new-transformer", |store| iface
            .call_new_transformer(store, config, state))
        .map(Handle::Resource)
    }

    async fn apply(
        &self,
        s: &mut Session,
        transformer: Handle,
        data: &Batch,
    ) -> Result<Batch, PluginError> {
        const OP: &str = "transformer.apply";
        let iface = self.ferry_plugin_transform().transformer();
        let transformer = resource(transformer, s, OP)?;
        call!(s, OP, |store| iface.call_apply(store, transformer, data))
    }

    async fn output_schema(
        &self,
        s: &mut Session,
        config: &str,
        input: &[Field],
    ) -> Result<Vec<Field>, PluginError> {
        let iface = self.ferry_plugin_transform();
        let input = input.to_vec();
        call!(s, "output-schema", |store| iface
            .call_output_schema(store, config, &input))
    }
}

impl ModelCalls for model::ModelPlugin {
    async fn train(
        &self,
        s: &mut Session,
        features: &Batch,
        labels: &Column,
        config: &str,
    ) -> Result<Vec<u8>, PluginError> {
        let iface = self.ferry_plugin_model();
        call!(s, "train", |store| iface
            .call_train(store, features, labels, config))
    }

    async fn load(
        &self,
        s: &mut Session,
        artifact: &[u8],
        config: &str,
    ) -> Result<Handle, PluginError> {
        let iface = self.ferry_plugin_model();
        call!(s, "load", |store| iface.call_load(store, artifact, config)).map(Handle::Resource)
    }

    async fn describe(&self, s: &mut Session, model: Handle) -> Result<ModelInfo, PluginError> {
        const OP: &str = "predictor.describe";
        let iface = self.ferry_plugin_model().predictor();
        let model = resource(model, s, OP)?;
        let limit = s.arm(OP)?;
        let out = timed(limit, iface.call_describe(&mut s.store, model)).await;
        s.settle_plain(OP, out)
    }

    async fn predict(
        &self,
        s: &mut Session,
        model: Handle,
        features: &Batch,
    ) -> Result<Batch, PluginError> {
        const OP: &str = "predictor.predict";
        let iface = self.ferry_plugin_model().predictor();
        let model = resource(model, s, OP)?;
        call!(s, OP, |store| iface.call_predict(store, model, features))
    }
}

impl DeployerCalls for deployer::DeployerPlugin {
    async fn plan(
        &self,
        s: &mut Session,
        target: &Deployment,
    ) -> Result<DeploymentPlan, PluginError> {
        let iface = self.ferry_plugin_deployer();
        call!(s, "plan", |store| iface.call_plan(store, target))
    }

    async fn apply(
        &self,
        s: &mut Session,
        target: &Deployment,
    ) -> Result<DeploymentStatus, PluginError> {
        let iface = self.ferry_plugin_deployer();
        call!(s, "apply", |store| iface.call_apply(store, target))
    }

    async fn status(
        &self,
        s: &mut Session,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        let iface = self.ferry_plugin_deployer();
        call!(s, "status", |store| iface
            .call_status(store, name, settings))
    }

    async fn rollback(
        &self,
        s: &mut Session,
        name: &str,
        settings: &str,
    ) -> Result<DeploymentStatus, PluginError> {
        let iface = self.ferry_plugin_deployer();
        call!(s, "rollback", |store| iface
            .call_rollback(store, name, settings))
    }
}

impl AlertSinkCalls for alert_sink::AlertSinkPlugin {
    async fn deliver(
        &self,
        s: &mut Session,
        config: &str,
        alert: &Alert,
    ) -> Result<(), PluginError> {
        let iface = self.ferry_plugin_alert_sink();
        call!(s, "deliver", |store| iface
            .call_deliver(store, config, alert))
    }
}
