//! `ferry plugin publish`: check a component and publish it.

use std::path::Path;

use ferry_host::publish;
use ferry_host::runtime::Runtime;
use ferry_registry::Published;

use crate::cli::{Exit, RegistryArgs, exit};

pub async fn run(runtime: &Runtime, args: &RegistryArgs, file: &Path) -> Result<u8, Exit> {
    let registry = args.open(runtime).await?;
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let outcome = publish::publish_audited(
        runtime,
        &registry,
        &file.display().to_string(),
        &bytes,
        &format!("local:{user}"),
        Some(&user),
        "cli",
    )
    .await?;
    let r = outcome.record();
    match outcome {
        Published::Created(_) => println!(
            "published {} {} ({}, {} bytes, {})",
            r.name, r.version, r.kind, r.size, r.digest
        ),
        Published::Unchanged(_) => println!(
            "{} {} is already published with these bytes ({})",
            r.name, r.version, r.digest
        ),
    }
    Ok(exit::OK)
}
