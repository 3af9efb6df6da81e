//! `ferry runs download`: downloads one of a run's files.

use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry runs download`.
pub async fn run(
    runtime: &Runtime,
    id: String,
    path: String,
    out: std::path::PathBuf,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let bytes = registry
        .store(runtime)
        .await?
        .read_artifact(&id, &path)
        .await?;
    std::fs::write(&out, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    println!("{} bytes into {}", bytes.len(), out.display());
    Ok(exit::OK)
}
