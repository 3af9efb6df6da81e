//! `ferry runs delete`: marks a run deleted.

use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry runs delete`.
pub async fn run(runtime: &Runtime, id: String, registry: RegistryArgs) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    r.set_run_deleted(&id, true).await?;
    r.audit("run.delete", &format!("run:{id}"), "").await?;
    println!("deleted run {id} (ferry runs restore {id} brings it back)");
    Ok(exit::OK)
}
