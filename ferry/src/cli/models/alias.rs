//! `ferry models alias`: points an alias at a version, or removes it.

use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry models alias`.
pub async fn run(
    runtime: &Runtime,
    name: String,
    alias: String,
    version: Option<i64>,
    delete: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    if delete {
        r.delete_alias(&name, &alias).await?;
        r.audit("model.alias.delete", &format!("{name}@{alias}"), "")
            .await?;
        println!("removed alias {alias} of {name}");
    } else {
        let version = version.ok_or_else(|| {
            Exit::from(anyhow::anyhow!(
                "give the version the alias points to, or --delete"
            ))
        })?;
        r.set_alias(&name, &alias, version).await?;
        r.audit(
            "model.alias.set",
            &format!("{name}@{alias}"),
            &format!("version {version}"),
        )
        .await?;
        println!("{name}@{alias} -> version {version}");
    }
    Ok(exit::OK)
}
