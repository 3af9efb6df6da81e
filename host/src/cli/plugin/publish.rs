//! `ferry plugin publish`: check a component and publish it, locally or to a remote Ferry.

use std::path::Path;

use ferry_host::client::RemoteRegistry;
use ferry_host::publish;
use ferry_host::runtime::Runtime;
use ferry_registry::Published;

use crate::cli::{Exit, RegistryArgs, exit};

pub async fn run(runtime: &Runtime, args: &RegistryArgs, file: &Path) -> Result<u8, Exit> {
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(url) = &args.registry {
        // The server checks everything again; checking here first gives the clearest error.
        runtime
            .load(&file.display().to_string(), &bytes, &Default::default())
            .await?;
        let size = bytes.len();
        eprintln!("uploading {} ({size} bytes) to {url}", file.display());
        let (created, r) = RemoteRegistry::new(url, args.token.clone())?
            .publish(bytes)
            .await?;
        if created {
            println!(
                "published {} {} ({}, {} bytes, {}) to {url}",
                r.name, r.version, r.kind, r.size, r.digest
            );
        } else {
            println!(
                "{} {} is already published with these bytes ({})",
                r.name, r.version, r.digest
            );
        }
        return Ok(exit::OK);
    }
    let registry = args.open(runtime).await?;
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
