//! `ferry models card`: prints or writes a version's model card.

use std::path::PathBuf;

use ferry_runtime::Runtime;

use super::{card_of, split_ref};
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry models card`.
pub async fn run(
    runtime: &Runtime,
    model: String,
    out: Option<PathBuf>,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    let (name, reference) = split_ref(&model);
    let v = r.model_version(name, reference.unwrap_or("latest")).await?;
    let card = card_of(&r, name, &v).await?;
    match out {
        Some(path) => {
            std::fs::write(&path, card).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => print!("{card}"),
    }
    Ok(exit::OK)
}
