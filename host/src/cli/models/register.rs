//! `ferry models register`: registers a model trained elsewhere with the features of a Ferry run.

use ferry_host::runtime::Runtime;
use ferry_pipeline::external::{ExternalModel, external_lineage};
use ferry_pipeline::register::register_version;
use ferry_registry::digest_of;

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
    let mut lineage = external_lineage(
        runtime,
        &r,
        &model,
        &bytes,
        &digest_of(&bytes),
        &sandbox.policy()?,
    )
    .await?;
    let stored = r
        .log_artifact(
            &run,
            &format!(
                "models/{name}/{}",
                artifact
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or("model.bin")
            ),
            &bytes,
        )
        .await?;
    if let Some(m) = lineage.model.as_mut() {
        m.artifact_digest = stored.digest;
    }
    let mv = register_version(&r, &name, "", &lineage, &local_actor(), &description).await?;
    if let Some(a) = &alias {
        r.set_model_alias(&name, a, mv.version).await?;
    }
    r.audit(
        &local_actor(),
        "model.register",
        &format!("{name}/{}", mv.version),
        "ok",
        "",
        &format!("run {run}, external artifact"),
    )
    .await?;
    println!("registered {name} version {} (run {run})", mv.version);
    Ok(exit::OK)
}
