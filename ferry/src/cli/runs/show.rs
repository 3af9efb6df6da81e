//! `ferry runs show`: shows a run: its parameters, metrics, tags and files.

use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry runs show`.
pub async fn run(
    runtime: &Runtime,
    id: String,
    json: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    let run = r.run(&id).await?;
    let artifacts = r.artifacts(&id).await?;
    if json {
        let mut value = serde_json::to_value(&run)?;
        value["artifacts"] = serde_json::to_value(&artifacts)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(exit::OK);
    }
    let i = &run.info;
    println!(
        "run {} ({}) in experiment {}: {} by {}",
        i.id,
        i.name,
        i.experiment_id,
        i.status.name(),
        i.user_id
    );
    println!(
        "started {} ended {}",
        i.start_time,
        i.end_time
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into())
    );
    println!("artifacts: {}", i.artifact_uri);
    for (k, v) in &run.params {
        println!("param  {k} = {v}");
    }
    for m in &run.metrics {
        println!("metric {} = {} (step {})", m.key, m.value, m.step);
    }
    for (k, v) in &run.tags {
        println!("tag    {k} = {v}");
    }
    for a in &artifacts {
        println!("file   {} ({} bytes, {})", a.path, a.size, a.digest);
    }
    Ok(exit::OK)
}
