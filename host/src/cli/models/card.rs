//! `ferry models card`: prints or writes a version's model card.

use std::path::PathBuf;

use ferry_host::pipeline::card::model_card;
use ferry_host::pipeline::lineage::Lineage;
use ferry_host::runtime::Runtime;

use super::split_ref;
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
    let lineage = v
        .lineage
        .as_deref()
        .map(Lineage::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let card = model_card(&r.registered_model(name).await?.0, &v, lineage.as_ref());
    match out {
        Some(path) => {
            std::fs::write(&path, card).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => print!("{card}"),
    }
    Ok(exit::OK)
}
