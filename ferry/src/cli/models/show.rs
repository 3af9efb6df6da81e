//! `ferry models show`: shows a model's versions, or one version's card with its lineage.

use ferry_runtime::Runtime;

use super::{card_of, print_version, split_ref};
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry models show`.
pub async fn run(
    runtime: &Runtime,
    model: String,
    json: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    let (name, reference) = split_ref(&model);
    match reference {
        None => {
            let (m, versions) = r.registered_model(name).await?;
            if json {
                let mut v = serde_json::to_value(&m)?;
                v["versions"] = serde_json::to_value(&versions)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(exit::OK);
            }
            println!("{} — {}", m.name, m.description);
            for (k, v) in &m.tags {
                println!("tag {k} = {v}");
            }
            println!(
                "{:<5} {:<10} {:<20} {:<32} DESCRIPTION",
                "VER", "STAGE", "ALIASES", "RUN"
            );
            for v in &versions {
                print_version(v);
            }
        }
        Some(reference) => {
            let v = r.model_version(name, reference).await?;
            if json {
                let mut value = serde_json::to_value(&v)?;
                if let Some(l) = &v.lineage {
                    value["lineage"] = serde_json::from_str(l)?;
                }
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(exit::OK);
            }
            print!("{}", card_of(&r, name, &v).await?);
        }
    }
    Ok(exit::OK)
}
