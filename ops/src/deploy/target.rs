//! Handing a deployment to a deployer plugin: everything its primary version needs to serve,
//! gathered from the store by digest and checked against it. The plugins, the learned states,
//! the model artifact and the lineage that pins them all travel as artifacts, so a target
//! holds a version whole.

use std::collections::BTreeSet;

use ferry_registry::digest_of;
use serde_json::{Value, json};

use super::DeploymentSpec;
use ferry_core::lineage::{Lineage, PinnedPlugin};
use ferry_pipeline::PipelineError;
use ferry_pipeline::PluginPolicy;
use ferry_pipeline::pinned::{blob, check_pinned};
use ferry_pipeline::store::Store;
use ferry_runtime::bindings::types::{Artifact, Deployment, DeploymentStatus, PluginRef};
use ferry_runtime::{DeployerInstance, Plugin};

fn plugin_ref(p: &PinnedPlugin) -> PluginRef {
    PluginRef {
        name: p.name.clone(),
        version: p.version.clone(),
        digest: p.digest.clone(),
    }
}

fn artifact(path: String, contents: Vec<u8>) -> Artifact {
    Artifact {
        digest: digest_of(&contents),
        path,
        contents,
    }
}

/// What a deployer is given for deployment `name`: the version its primary target serves,
/// with `settings` (JSON) for the target. Every plugin the version pins is held to `policy`'s
/// trust policy first, as serving holds it: a deployer never packages what would not serve.
pub async fn deployment_for(
    store: &Store,
    name: &str,
    spec: &DeploymentSpec,
    settings: &str,
    policy: &PluginPolicy,
) -> Result<Deployment, PipelineError> {
    let primary = spec
        .targets
        .first()
        .ok_or_else(|| PipelineError::Invalid(format!("deployment {name:?} has no target")))?;
    let (model, resolved) = primary.key().ok_or_else(|| {
        PipelineError::Invalid(format!(
            "deployment {name:?}: its primary target was never resolved"
        ))
    })?;
    let version = store
        .model_version(&model, &resolved.number.to_string())
        .await?;
    if version.created_at != resolved.created_at {
        return Err(PipelineError::Skew(format!(
            "version {} of {model:?} is not the one deployment {name:?} was written with",
            resolved.number
        )));
    }
    let text = version.lineage.as_deref().ok_or_else(|| {
        PipelineError::NoLineage(format!(
            "version {} of {model:?} has no lineage to deploy",
            resolved.number
        ))
    })?;
    let lineage = Lineage::parse(text).map_err(PipelineError::Skew)?;
    let model_step = lineage.model.as_ref().ok_or_else(|| {
        PipelineError::Invalid(format!(
            "version {} of {model:?} has no model to deploy",
            resolved.number
        ))
    })?;
    let mut artifacts = vec![artifact("lineage.json".into(), text.as_bytes().to_vec())];
    let mut seen = BTreeSet::new();
    // Validators, transforms, then the model: every component once, by digest.
    let pins = lineage.plugins();
    for p in &pins {
        check_pinned(store, p, policy).await?;
    }
    for p in &pins {
        if seen.insert(p.digest.clone()) {
            let bytes = blob(
                store,
                &p.digest,
                &format!("plugin {}@{}", p.name, p.version),
            )
            .await?;
            artifacts.push(artifact(
                format!("plugins/{}-{}.wasm", p.name, p.version),
                bytes,
            ));
        }
    }
    let pipeline = pins[..pins.len() - 1]
        .iter()
        .map(|p| plugin_ref(p))
        .collect();
    for (i, t) in lineage.transforms.iter().enumerate() {
        let what = format!("the state of transform {} ({})", i + 1, t.plugin.name);
        let bytes = blob(store, &t.state_digest, &what).await?;
        artifacts.push(artifact(
            format!("states/{}-{}.state", i + 1, t.plugin.name),
            bytes,
        ));
    }
    let bytes = blob(store, &model_step.artifact_digest, "the model artifact").await?;
    artifacts.push(artifact("model/model.bin".into(), bytes));
    Ok(Deployment {
        name: name.to_string(),
        model_name: model,
        model_version: resolved.number.to_string(),
        model_plugin: plugin_ref(&model_step.plugin),
        pipeline,
        artifacts,
        settings: settings.to_string(),
    })
}

/// A deployer's status as stored and shown: what is live on the target and what a rollback
/// returns to, with the plugin that reported it.
pub fn status_json(plugin: &str, digest: &str, action: &str, s: &DeploymentStatus) -> Value {
    json!({
        "plugin": plugin,
        "digest": digest,
        "action": action,
        "active_version": s.active_version,
        "history": s.history,
        "message": s.message,
    })
}

/// What `ferry deploy target` asks a deployer to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetAction {
    /// Report what is live on the target.
    Status,
    /// Return the target to its previous version.
    Rollback,
    /// Deploy the deployment's primary version.
    Apply,
}

impl TargetAction {
    /// The action's name as recorded and audited.
    pub fn name(self) -> &'static str {
        match self {
            TargetAction::Status => "status",
            TargetAction::Rollback => "rollback",
            TargetAction::Apply => "apply",
        }
    }
}

/// A deployer run against deployment `name`: the plan it made (for an apply), what it
/// reported, and the record stored for it.
pub struct TargetRun {
    /// The primary version deployed and the deployer's planned actions (only for an apply).
    pub plan: Option<(Deployment, Vec<String>)>,
    /// What the deployer reported.
    pub reported: DeploymentStatus,
    /// The record stored for the target ([`status_json`]).
    pub record: Value,
}

/// A deployment's target as a deployer plugin sees it: the store the deployment is read from
/// and recorded in, the target's settings (JSON) and the policy the version's pinned plugins
/// are held to.
pub struct Target<'a> {
    /// The store.
    pub store: &'a Store,
    /// The deployment.
    pub name: &'a str,
    /// The target's settings (JSON).
    pub settings: &'a str,
    /// The trust policy and limits for the version's pinned plugins.
    pub policy: &'a PluginPolicy,
}

impl Target<'_> {
    /// The deployment's primary version as the deployer is asked to deploy it, and the
    /// deployer's plan for it; nothing is changed on the target.
    pub async fn plan(
        &self,
        instance: &mut DeployerInstance,
    ) -> Result<(Deployment, Vec<String>), PipelineError> {
        let spec = self.store.deployment_spec(self.name).await?;
        let target =
            deployment_for(self.store, self.name, &spec, self.settings, self.policy).await?;
        let planned = instance.plan(&target).await?;
        Ok((target, planned.actions))
    }

    /// Runs `action` on the target through `deployer` and records what it reports in the
    /// store (see [`Store::record_deployment_target`]). An apply plans first; `planned` sees
    /// the plan before anything is applied.
    pub async fn run(
        &self,
        deployer: &Plugin,
        instance: &mut DeployerInstance,
        action: TargetAction,
        planned: impl FnOnce(&Deployment, &[String]),
    ) -> Result<TargetRun, PipelineError> {
        let (plan, reported) = match action {
            TargetAction::Status => (None, instance.status(self.name, self.settings).await?),
            TargetAction::Rollback => (None, instance.rollback(self.name, self.settings).await?),
            TargetAction::Apply => {
                let (target, actions) = self.plan(instance).await?;
                planned(&target, &actions);
                let reported = instance.apply(&target).await?;
                (Some((target, actions)), reported)
            }
        };
        let record = status_json(deployer.name(), deployer.digest(), action.name(), &reported);
        self.store
            .record_deployment_target(self.name, deployer.name(), action.name(), &record)
            .await?;
        Ok(TargetRun {
            plan,
            reported,
            record,
        })
    }
}
