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
