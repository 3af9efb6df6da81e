//! Models trained elsewhere (scikit-learn exported to ONNX, XGBoost, ...) served behind the
//! features of a Ferry run: the run's validators and learned transforms, pinned by digest,
//! followed by the model through an adapter plugin. Either registered as a new version from a
//! file, or attached to a version the MLflow client registered.

use ferry_registry::{ModelVersion, Registry, RegistryError};

use super::PipelineError;
use super::pinned::{PluginPolicy, check_lineage, load_resolved};
use crate::store::Store;
use ferry_core::data::CsvReader;
use ferry_core::lineage::{Lineage, ModelLineage, PinnedPlugin};
use ferry_core::metrics::task_name;
use ferry_core::steps::{ModelStep, purity};
use ferry_runtime::Runtime;

/// A model trained elsewhere and the Ferry run whose features it reads.
#[derive(Debug, Clone)]
pub struct ExternalModel {
    /// The run whose transforms computed the features the model was trained on.
    pub run: String,
    /// The model adapter, from the registry (e.g. `onnx`, `xgboost@0.1`).
    pub plugin: String,
    /// The feature columns in the order the model reads them (empty: what the adapter
    /// describes).
    pub features: Vec<String>,
    /// The adapter's load configuration (JSON).
    pub load_config: String,
}

/// The lineage of `model` (whose artifact is `artifact`, stored under `artifact_digest`): the
/// run's recorded pipeline, then the model as the adapter describes it. Refused when the
/// adapter cannot load the artifact, when the features do not match what the model reads, or
/// when the run's pipeline does not compute one of them.
pub async fn external_lineage(
    runtime: &Runtime,
    registry: &Registry,
    model: &ExternalModel,
    artifact: &[u8],
    artifact_digest: &str,
    options: &PluginPolicy,
) -> Result<Lineage, PipelineError> {
    let run = &model.run;
    let recorded = registry
        .read_artifact(run, "lineage.json")
        .await
        .map_err(|e| match e {
            RegistryError::NotFound(_) => {
                PipelineError::Registry(RegistryError::NotFound(format!(
                    "run {run}: no lineage.json (only `ferry train` runs have a pipeline to attach)"
                )))
            }
            e => e.into(),
        })?;
    let mut lineage =
        Lineage::parse(&String::from_utf8_lossy(&recorded)).map_err(PipelineError::Skew)?;
    let adapter = load_resolved(
        runtime,
        &Store::Local(registry.clone()),
        &model.plugin,
        options,
    )
    .await?;
    let mut step = ModelStep {
        plugin: adapter.clone(),
        artifact: artifact.into(),
        load_config: model.load_config.clone(),
        features: Vec::new(),
    };
    let info = step.describe().await?;
    let features: Vec<String> = if model.features.is_empty() {
        info.inputs.iter().map(|f| f.name.clone()).collect()
    } else {
        model.features.clone()
    };
    if !info.inputs.is_empty() && info.inputs.len() != features.len() {
        return Err(PipelineError::Spec(format!(
            "features: {} columns named but the model reads {}",
            features.len(),
            info.inputs.len()
        )));
    }
    let available: Vec<&str> = lineage
        .input_schema
        .iter()
        .map(|f| f.name.as_str())
        .chain(
            lineage
                .transforms
                .iter()
                .flat_map(|t| t.writes.iter().map(|f| f.name.as_str())),
        )
        .collect();
    if let Some(missing) = features.iter().find(|f| !available.contains(&f.as_str())) {
        return Err(PipelineError::Spec(format!(
            "features: `{missing}` is not computed by run {run}'s pipeline; it has {}",
            available.join(", ")
        )));
    }
    step.features = features.clone();
    check_on_run_features(registry, run, &step).await?;
    lineage.model = Some(ModelLineage {
        plugin: PinnedPlugin::of(&adapter),
        artifact_digest: artifact_digest.to_string(),
        load_config: model.load_config.clone(),
        hyperparameters: None,
        features,
        task: task_name(info.task).into(),
        outputs: info.outputs.iter().map(|o| o.name.clone()).collect(),
    });
    Ok(lineage)
}

/// The purity check of a model trained elsewhere, on the features its run computed for the
/// first rows of its data (`features/sample.csv`; runs from before it was kept are not
/// checked).
async fn check_on_run_features(
    registry: &Registry,
    run: &str,
    model: &ModelStep,
) -> Result<(), PipelineError> {
    let bytes = match registry.read_artifact(run, "features/sample.csv").await {
        Ok(b) => b,
        Err(RegistryError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Some(sample) = CsvReader::from_bytes("features/sample.csv", bytes, purity::SAMPLE_ROWS)
        .and_then(|mut r| r.next_batch())?
    else {
        return Ok(());
    };
    let features = model
        .features_of(&sample)
        .map_err(|e| PipelineError::Spec(format!("run {run}'s feature sample: {e}")))?;
    purity::check_model(model, &features).await?;
    Ok(())
}

/// The model file named by an MLflow `MLmodel` file: the first flavor's `data` entry (the
/// `onnx`, `xgboost` and `python_function` flavors all name it so).
pub fn mlmodel_data_file(mlmodel: &str) -> Option<String> {
    let mut in_flavors = false;
    for line in mlmodel.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if indent == 0 && !trimmed.is_empty() {
            in_flavors = trimmed == "flavors:";
            continue;
        }
        if in_flavors
            && indent >= 4
            && let Some(value) = trimmed.strip_prefix("data:")
        {
            let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
            if !value.is_empty() {
                return Some(value.to_string());
            }
        }
    }
    None
}

/// Attaches `model`'s pipeline to a version registered without one (through the MLflow API),
/// so that Ferry serves it by name, version and alias. The model file is read from the
/// version's files in the artifact store: `file` when given, else the file its `MLmodel`
/// names. A version that already has a lineage keeps it.
pub async fn attach_pipeline(
    runtime: &Runtime,
    registry: &Registry,
    name: &str,
    version: i64,
    model: &ExternalModel,
    file: Option<&str>,
    options: &PluginPolicy,
) -> Result<ModelVersion, PipelineError> {
    let v = registry.model_version(name, version).await?;
    if v.lineage.is_some() {
        return Err(RegistryError::Conflict(format!(
            "version {version} of model {name:?} already has a lineage; register a new version to serve another pipeline"
        ))
        .into());
    }
    let dir = registry.version_artifact_dir(&v).await?;
    let file = match file {
        Some(f) => f.trim_matches('/').to_string(),
        None => {
            let mlmodel = match registry.artifact_file(&format!("{dir}/MLmodel")).await {
                Ok(info) => registry.blobs().get(&info.digest).await?,
                Err(RegistryError::NotFound(_)) => {
                    return Err(PipelineError::Spec(format!(
                        "version {version} of {name:?} has no MLmodel file in {dir}; name the model file{}",
                        listing(registry, &dir).await
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            match mlmodel_data_file(&String::from_utf8_lossy(&mlmodel)) {
                Some(f) => f,
                None => {
                    return Err(PipelineError::Spec(format!(
                        "the MLmodel file of version {version} of {name:?} names no data file; name the model file{}",
                        listing(registry, &dir).await
                    )));
                }
            }
        }
    };
    let info = match registry.artifact_file(&format!("{dir}/{file}")).await {
        Ok(info) => info,
        Err(RegistryError::NotFound(_)) => {
            return Err(RegistryError::NotFound(format!(
                "file {file:?} among the files of version {version} of {name:?}{}",
                listing(registry, &dir).await
            ))
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let bytes = registry.blobs().get(&info.digest).await?;
    let lineage = external_lineage(runtime, registry, model, &bytes, &info.digest, options).await?;
    check_lineage(registry, &lineage).await?;
    let text = serde_json::to_string(&lineage).map_err(|e| PipelineError::Other(e.to_string()))?;
    Ok(registry.set_version_lineage(name, version, &text).await?)
}

/// ` (it has: a, b, c)`: the files of a version's folder, for error messages.
async fn listing(registry: &Registry, dir: &str) -> String {
    match registry.list_artifact_dir(dir).await {
        Ok(entries) if !entries.is_empty() => format!(
            " (it has: {})",
            entries
                .iter()
                .map(|e| e.path.rsplit('/').next().unwrap_or(&e.path))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => " (it has no files)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::mlmodel_data_file;

    #[test]
    fn the_data_file_of_an_mlmodel() {
        let onnx = "artifact_path: model\nflavors:\n  onnx:\n    code: null\n    data: model.onnx\n    onnx_version: 1.19.0\n  python_function:\n    data: model.onnx\n    env:\n      conda: conda.yaml\n    loader_module: mlflow.onnx\nmlflow_version: 3.17.2\n";
        assert_eq!(mlmodel_data_file(onnx).as_deref(), Some("model.onnx"));
        let sklearn = "flavors:\n  python_function:\n    model_path: model.pkl\n  sklearn:\n    pickled_model: model.pkl\nmodel_uuid: x\n";
        assert_eq!(mlmodel_data_file(sklearn), None);
        assert_eq!(
            mlmodel_data_file("data: top.bin\nflavors:\n  xgboost:\n    data: 'model.ubj'\n"),
            Some("model.ubj".into())
        );
        assert_eq!(mlmodel_data_file(""), None);
    }
}

/// What [`register_external`] registers: the model, its file and where the version goes.
#[derive(Debug, Clone, Copy)]
pub struct ExternalVersion<'a> {
    /// The registered model the version joins.
    pub name: &'a str,
    /// The model file's bytes.
    pub bytes: &'a [u8],
    /// The model file's name, under which it is stored among the run's artifacts
    /// (`models/{name}/{file_name}`).
    pub file_name: &'a str,
    /// The version's description.
    pub description: &'a str,
    /// An alias to point at the new version.
    pub alias: Option<&'a str>,
    /// Who registers it.
    pub actor: &'a str,
}

/// Registers a model file trained elsewhere as a new version: its lineage checked as
/// [`external_lineage`] checks it, the file stored among the run's artifacts, the version
/// registered with the stored file's digest, and the alias, if any, pointed at it.
pub async fn register_external(
    runtime: &Runtime,
    registry: &Registry,
    model: &ExternalModel,
    version: ExternalVersion<'_>,
    options: &PluginPolicy,
) -> Result<ModelVersion, PipelineError> {
    let ExternalVersion {
        name,
        bytes,
        file_name,
        description,
        alias,
        actor,
    } = version;
    let digest = ferry_registry::digest_of(bytes);
    let mut lineage = external_lineage(runtime, registry, model, bytes, &digest, options).await?;
    let stored = registry
        .log_artifact(&model.run, &format!("models/{name}/{file_name}"), bytes)
        .await?;
    if let Some(m) = lineage.model.as_mut() {
        m.artifact_digest = stored.digest;
    }
    let mv =
        super::register::register_version(registry, name, "", &lineage, actor, description).await?;
    if let Some(a) = alias {
        registry.set_model_alias(name, a, mv.version).await?;
    }
    Ok(mv)
}
