//! `ferry runs restore`: restores a deleted run.

use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry runs restore`.
pub async fn run(runtime: &Runtime, id: String, registry: RegistryArgs) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    r.set_run_deleted(&id, false).await?;
    r.audit("run.restore", &format!("run:{id}"), "").await?;
    println!("restored run {id}");
    Ok(exit::OK)
}
