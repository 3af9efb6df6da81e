//! Registering a model version: everything its lineage pins is checked against what is stored
//! (plugins, states and artifact by digest) and, when it names a run, against the run's own
//! record of its transforms.

use ferry_registry::{ModelVersion, NewModelVersion, Registry, RegistryError};

use super::PipelineError;
use crate::store::Store;
use ferry_core::lineage::Lineage;

/// Registers a version from `lineage` in `store`: checked here for the local registry, by the
/// server for a remote Ferry (which checks exactly as [`register_version`] does).
pub async fn register_in(
    store: &Store,
    name: &str,
    description: &str,
    lineage: &Lineage,
    user: &str,
    version_description: &str,
) -> Result<ModelVersion, PipelineError> {
    match store {
        Store::Local(registry) => {
            register_version(
                registry,
                name,
                description,
                lineage,
                user,
                version_description,
            )
            .await
        }
        Store::Remote(c) => {
            let lineage =
                serde_json::to_value(lineage).map_err(|e| PipelineError::Other(e.to_string()))?;
            Ok(
                c.register_version(name, description, &lineage, version_description)
                    .await?,
            )
        }
    }
}

/// Registers a model version after checking everything its lineage pins (plugins, states and
/// artifact by digest) and, when it names a run, that its transforms are the run's.
pub async fn register_version(
    registry: &Registry,
    name: &str,
    description: &str,
    lineage: &Lineage,
    user: &str,
    version_description: &str,
) -> Result<ModelVersion, PipelineError> {
    if lineage.model.is_none() {
        return Err(PipelineError::Spec(
            "the lineage has no model to register".into(),
        ));
    }
    super::pinned::check_lineage(registry, lineage).await?;
    if let Some(run) = &lineage.run_id {
        let recorded = registry
            .read_artifact(run, "lineage.json")
            .await
            .map_err(|e| {
                PipelineError::Skew(format!(
                    "run {run}: no recorded lineage to check against ({e})"
                ))
            })?;
        let recorded =
            Lineage::parse(&String::from_utf8_lossy(&recorded)).map_err(PipelineError::Skew)?;
        if recorded.transforms.len() != lineage.transforms.len() {
            return Err(PipelineError::Skew(format!(
                "run {run} learned {} transform(s), the lineage has {}",
                recorded.transforms.len(),
                lineage.transforms.len()
            )));
        }
        for (i, (a, b)) in recorded
            .transforms
            .iter()
            .zip(&lineage.transforms)
            .enumerate()
        {
            if a.plugin != b.plugin {
                return Err(PipelineError::Skew(format!(
                    "transform {}: run {run} used {} but the lineage pins {}",
                    i + 1,
                    a.plugin,
                    b.plugin
                )));
            }
            if a.state_digest != b.state_digest || a.config != b.config {
                return Err(PipelineError::Skew(format!(
                    "transform {} ({}): run {run} learned state {} but the lineage pins {}{}",
                    i + 1,
                    a.plugin.name,
                    a.state_digest,
                    b.state_digest,
                    if a.config != b.config {
                        " (and another configuration)"
                    } else {
                        ""
                    }
                )));
            }
        }
        if recorded.input_schema != lineage.input_schema
            || recorded.validators != lineage.validators
        {
            return Err(PipelineError::Skew(format!(
                "run {run}: the lineage's input schema or validators differ from the run's"
            )));
        }
    }
    match registry
        .create_registered_model(name, description, &[])
        .await
    {
        Ok(_) | Err(RegistryError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let source = match &lineage.run_id {
        Some(run) => registry.run(run).await?.info.artifact_uri + "/model",
        None => String::new(),
    };
    let text = serde_json::to_string(lineage).map_err(|e| PipelineError::Other(e.to_string()))?;
    Ok(registry
        .create_model_version(
            name,
            NewModelVersion {
                source,
                run_id: lineage.run_id.clone(),
                user_id: user.to_string(),
                description: version_description.to_string(),
                lineage: Some(text),
                tags: Vec::new(),
            },
        )
        .await?)
}
