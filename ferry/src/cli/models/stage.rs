//! `ferry models stage`: moves a version to a stage.

use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry models stage`.
pub async fn run(
    runtime: &Runtime,
    name: String,
    version: i64,
    stage: String,
    archive_existing: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    let v = r
        .transition_stage(&name, version, &stage, archive_existing)
        .await?;
    r.audit("model.stage", &format!("{name}/{version}"), &v.stage)
        .await?;
    println!("{name} version {version}: {}", v.stage);
    Ok(exit::OK)
}
