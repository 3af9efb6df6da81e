//! `ferry models attach`: gives a version the MLflow client registered the pipeline of a Ferry run.

use ferry_core::lineage::Lineage;
use ferry_pipeline::external::{ExternalModel, attach_pipeline};
use ferry_pipeline::store::Store;
use ferry_runtime::Runtime;

use super::{AttachArgs, split_ref};
use crate::cli::{Exit, exit, read_config};

/// Runs `ferry models attach`.
pub async fn run(runtime: &Runtime, args: AttachArgs) -> Result<u8, Exit> {
    let AttachArgs {
        model,
        run,
        plugin,
        features,
        file,
        load_config,
        registry,
        sandbox,
    } = args;
    let (name, reference) = split_ref(&model);
    let Some(reference) = reference else {
        return Err(anyhow::anyhow!("give the version as NAME@VERSION (or @ALIAS)").into());
    };
    let r = registry.store(runtime).await?;
    let version = r.model_version(name, reference).await?.version;
    let load_config = read_config(load_config.as_ref())?;
    let mv = match &r {
        Store::Local(local) => {
            let external = ExternalModel {
                run: run.clone(),
                plugin,
                features,
                load_config,
            };
            let mv = attach_pipeline(
                runtime,
                local,
                name,
                version,
                &external,
                file.as_deref(),
                &sandbox.policy()?,
            )
            .await?;
            r.audit(
                "model.attach",
                &format!("{name}/{version}"),
                &format!("run {run}"),
            )
            .await?;
            mv
        }
        Store::Remote(c) => {
            let body = serde_json::json!({
                "run": run,
                "plugin": plugin,
                "features": features,
                "file": file,
                "load_config": load_config,
            });
            c.attach(name, version, &body).await?
        }
    };
    let model = Lineage::parse(mv.lineage.as_deref().unwrap_or_default())
        .ok()
        .and_then(|l| l.model);
    println!(
        "{name} version {version} now serves run {run}'s pipeline{}",
        model
            .map(|m| format!(" with {} reading {}", m.plugin, m.features.join(", ")))
            .unwrap_or_default()
    );
    Ok(exit::OK)
}
