//! `ferry plugin install`: resolve, download, check and pin plugins in `ferry.lock`.

use std::path::Path;

use ferry_kit::install::{install, project_trust};
use ferry_kit::lockfile::LockFile;
use ferry_registry::PluginSpec;
use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

pub async fn run(
    runtime: &Runtime,
    args: &RegistryArgs,
    specs: &[String],
    project: &Path,
    locked: bool,
    trust: Option<&Path>,
) -> Result<u8, Exit> {
    let trust = project_trust(project, trust)?;
    let lock_path = project.join("ferry.lock");
    let mut lock = LockFile::read(&lock_path)?;
    let source = args.store(runtime).await?;
    if locked {
        if lock.plugins.is_empty() {
            return Err(anyhow::anyhow!("{} pins no plugins", lock_path.display()).into());
        }
        for p in &lock.plugins {
            let spec = PluginSpec::parse(&format!("{}@{}#{}", p.name, p.version, p.digest))?;
            let record = source.resolve(&spec).await?;
            install(runtime, &source, project, &record, &trust).await?;
            println!("installed {} {} ({})", p.name, p.version, p.digest);
        }
        return Ok(exit::OK);
    }
    if specs.is_empty() {
        return Err(anyhow::anyhow!(
            "name the plugins to install (e.g. standard-scaler@^0.1), or pass --locked"
        )
        .into());
    }
    let mut resolved = Vec::new();
    for s in specs {
        resolved.push(source.resolve(&PluginSpec::parse(s)?).await?);
    }
    for record in &resolved {
        let pinned = install(runtime, &source, project, record, &trust).await?;
        println!(
            "installed {} {} ({})",
            pinned.name, pinned.version, pinned.digest
        );
        lock.pin(pinned);
    }
    lock.write(&lock_path)?;
    Ok(exit::OK)
}
