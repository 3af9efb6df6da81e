//! `ferry plugin install`: resolve, download, check and pin plugins in `ferry.lock`.

use std::path::{Path, PathBuf};

use ferry_host::runtime::{LoadOptions, Runtime};
use ferry_kit::lockfile::{LockFile, LockedPlugin};
use ferry_registry::{PluginSpec, TrustPolicy, VersionRecord};

use ferry_pipeline::store::Store;

use crate::cli::{Exit, RegistryArgs, exit};

/// Where a project keeps its installed components.
fn plugins_folder(project: &Path) -> PathBuf {
    project.join(".ferry").join("plugins")
}

/// The file name of an installed component, inside the plugin folder.
fn plugin_file(record: &LockedPlugin) -> PathBuf {
    PathBuf::from(format!("{}-{}.wasm", record.name, record.version))
}

async fn fetch(
    runtime: &Runtime,
    source: &Store,
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
    // The names come from a registry (possibly a remote one) and a lock file: write through a
    // directory handle opened on the project's plugin folder, so that no name, `..` or symlink
    // planted there can put a file anywhere else.
    let folder = plugins_folder(project);
    std::fs::create_dir_all(&folder).map_err(|e| anyhow::anyhow!("{}: {e}", folder.display()))?;
    let dir = cap_std::fs::Dir::open_ambient_dir(&folder, cap_std::ambient_authority())
        .map_err(|e| anyhow::anyhow!("{}: {e}", folder.display()))?;
    let component = plugin_file(&locked);
    let sigs = serde_json::to_vec_pretty(&signatures)?;
    for (file, contents) in [
        (component.clone(), bytes.as_slice()),
        (signatures_path(&component), sigs.as_slice()),
    ] {
        dir.write(&file, contents).map_err(|e| {
            anyhow::anyhow!(
                "cannot write {} in {}: {e} (a plugin's files stay inside the project's plugin folder)",
                file.display(),
                folder.display()
            )
        })?;
    }
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
    let source = args.store(runtime).await?;
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
