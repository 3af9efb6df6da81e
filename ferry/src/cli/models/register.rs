//! `ferry models register`: registers a model trained elsewhere with the features of a Ferry run.

use ferry_pipeline::external::{ExternalModel, ExternalVersion, register_external};
use ferry_pipeline::store::audit_local;
use ferry_runtime::Runtime;

use super::RegisterArgs;
use crate::cli::{Exit, exit, local_actor, read_config};

/// Runs `ferry models register`.
pub async fn run(runtime: &Runtime, args: RegisterArgs) -> Result<u8, Exit> {
    let RegisterArgs {
        name,
        run,
        artifact,
        plugin,
        features,
        load_config,
        description,
        alias,
        registry,
        sandbox,
    } = args;
    let r = registry
        .local(
            runtime,
            "ferry models register",
            "log the model with the MLflow client (or PUT it to the run's artifacts), register it, then attach the run's pipeline with `ferry models attach NAME@VERSION --run RUN --registry URL`",
        )
        .await?;
    let bytes =
        std::fs::read(&artifact).map_err(|e| anyhow::anyhow!("{}: {e}", artifact.display()))?;
    let model = ExternalModel {
        run: run.clone(),
        plugin,
        features,
        load_config: read_config(load_config.as_ref())?,
    };
    let file_name = artifact
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("model.bin");
    let version = ExternalVersion {
        name: &name,
        bytes: &bytes,
        file_name,
        description: &description,
        alias: alias.as_deref(),
        actor: &local_actor(),
    };
    let mv = register_external(runtime, &r, &model, version, &sandbox.policy()?).await?;
    audit_local(
        &r,
        "model.register",
        &format!("{name}/{}", mv.version),
        &format!("run {run}, external artifact"),
    )
    .await?;
    println!("registered {name} version {} (run {run})", mv.version);
    Ok(exit::OK)
}
