//! `ferry plugin install`: resolve, download, check and pin plugins in `ferry.lock`.

use std::path::{Path, PathBuf};

use ferry_host::lockfile::{LockFile, LockedPlugin};
use ferry_host::runtime::{LoadOptions, Runtime};
use ferry_registry::{PluginSpec, TrustPolicy, VersionRecord};

use super::source::Source;

use crate::cli::{Exit, RegistryArgs, exit};

/// Where a project keeps its installed components.
pub fn plugin_path(project: &Path, record: &LockedPlugin) -> PathBuf {
    project
        .join(".ferry")
        .join("plugins")
        .join(format!("{}-{}.wasm", record.name, record.version))
}

async fn fetch(
    runtime: &Runtime,
    source: &Source,
    project: &Path,
    record: &VersionRecord,
    trust: &TrustPolicy,
) -> Result<LockedPlugin, Exit> {
    let signatures = source.signatures(record).await?;
    trust.check(&record.name, &record.digest, &signatures)?;
    // The registry checks the bytes against the digest it stored; load them to be sure this
    // host can run them before the lock file points at them.
    let bytes = source.download(record).await?;
    runtime
        .load(
            &format!("{}@{}", record.name, record.version),
            &bytes,
            &LoadOptions::default(),
        )
        .await?;
    let locked = LockedPlugin {
        name: record.name.clone(),
        version: record.version.to_string(),
        digest: record.digest.clone(),
    };
    let path = plugin_path(project, &locked);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&path, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let sigs_path = signatures_path(&path);
    let sigs = serde_json::to_vec_pretty(&signatures)?;
    std::fs::write(&sigs_path, sigs)
        .map_err(|e| anyhow::anyhow!("{}: {e}", sigs_path.display()))?;
    Ok(locked)
}

pub async fn run(
    runtime: &Runtime,
    args: &RegistryArgs,
    specs: &[String],
    project: &Path,
    locked: bool,
    trust: Option<&Path>,
) -> Result<u8, Exit> {
    let trust = read_trust(project, trust)?;
    let lock_path = project.join("ferry.lock");
    let mut lock = LockFile::read(&lock_path)?;
    let source = args.source(runtime).await?;
    if locked {
        if lock.plugins.is_empty() {
            return Err(anyhow::anyhow!("{} pins no plugins", lock_path.display()).into());
        }
        for p in &lock.plugins {
            let spec = PluginSpec::parse(&format!("{}@{}#{}", p.name, p.version, p.digest))?;
            let record = source.resolve(&spec).await?;
            fetch(runtime, &source, project, &record, &trust).await?;
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
        let pinned = fetch(runtime, &source, project, record, &trust).await?;
        println!(
            "installed {} {} ({})",
            pinned.name, pinned.version, pinned.digest
        );
        lock.pin(pinned);
    }
    lock.write(&lock_path)?;
    Ok(exit::OK)
}

/// The trust policy: the file given, else the project's `ferry-trust.toml`, else none.
fn read_trust(project: &Path, given: Option<&Path>) -> Result<TrustPolicy, Exit> {
    let default = project.join("ferry-trust.toml");
    let path = match given {
        Some(p) => p.to_path_buf(),
        None if default.exists() => default,
        None => return Ok(TrustPolicy::default()),
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let policy: TrustPolicy =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for rule in &policy.rules {
        for key in &rule.keys {
            ferry_registry::parse_key(key)?;
        }
    }
    Ok(policy)
}

/// Where the signatures of an installed component are kept: beside it, so that loading it
/// later can check them again.
pub fn signatures_path(component: &Path) -> PathBuf {
    component.with_extension("sigs.json")
}
