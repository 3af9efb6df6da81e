//! Plugins installed into a project (`ferry plugin install`): resolved in a registry, held to
//! the project's trust policy, loaded once to be sure this host runs them, and written with
//! their signatures into the project's plugin folder; and a plugin file checked against a
//! trust policy by the signatures kept beside it.

use std::path::{Path, PathBuf};

use ferry_pipeline::PipelineError;
use ferry_pipeline::store::Store;
use ferry_registry::{PluginSignature, TrustPolicy, VersionRecord};
use ferry_runtime::{LoadOptions, Plugin, Runtime};

use crate::lockfile::LockedPlugin;

/// Where a project keeps its installed components.
pub fn plugins_folder(project: &Path) -> PathBuf {
    project.join(".ferry").join("plugins")
}

/// The file name of an installed component, inside the plugin folder.
pub fn plugin_file(record: &LockedPlugin) -> PathBuf {
    PathBuf::from(format!("{}-{}.wasm", record.name, record.version))
}

/// Where the signatures of an installed component are kept: beside it, so that loading it
/// later can check them again.
pub fn signatures_path(component: &Path) -> PathBuf {
    component.with_extension("sigs.json")
}

/// Installs `record` from `source` into `project`'s plugin folder, with its signatures, once
/// `trust` accepts them and this host has loaded the bytes; returns what `ferry.lock` pins.
pub async fn install(
    runtime: &Runtime,
    source: &Store,
    project: &Path,
    record: &VersionRecord,
    trust: &TrustPolicy,
) -> Result<LockedPlugin, PipelineError> {
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
    let at = |e: std::io::Error| PipelineError::Other(format!("{}: {e}", folder.display()));
    std::fs::create_dir_all(&folder).map_err(at)?;
    let dir =
        cap_std::fs::Dir::open_ambient_dir(&folder, cap_std::ambient_authority()).map_err(at)?;
    let component = plugin_file(&locked);
    let sigs =
        serde_json::to_vec_pretty(&signatures).map_err(|e| PipelineError::Other(e.to_string()))?;
    for (file, contents) in [
        (component.clone(), bytes.as_slice()),
        (signatures_path(&component), sigs.as_slice()),
    ] {
        dir.write(&file, contents).map_err(|e| {
            PipelineError::Other(format!(
                "cannot write {} in {}: {e} (a plugin's files stay inside the project's plugin folder)",
                file.display(),
                folder.display()
            ))
        })?;
    }
    Ok(locked)
}

/// The trust policy in the TOML file at `path`.
pub fn read_trust_file(path: &Path) -> Result<TrustPolicy, PipelineError> {
    let failed =
        |e: &dyn std::fmt::Display| PipelineError::Other(format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| failed(&e))?;
    toml::from_str(&text).map_err(|e| failed(&e))
}

/// A project's trust policy: the file given, else the project's `ferry-trust.toml`, else the
/// empty policy (which accepts any validly signed or unsigned plugin). Every key it names
/// must parse.
pub fn project_trust(project: &Path, given: Option<&Path>) -> Result<TrustPolicy, PipelineError> {
    let default = project.join("ferry-trust.toml");
    let path = match given {
        Some(p) => p.to_path_buf(),
        None if default.exists() => default,
        None => return Ok(TrustPolicy::default()),
    };
    let policy = read_trust_file(&path)?;
    for rule in &policy.rules {
        for key in &rule.keys {
            ferry_registry::parse_key(key)?;
        }
    }
    Ok(policy)
}

/// Checks a plugin loaded from `file` against `policy`, with the signatures kept beside the
/// file ([`signatures_path`]; none when there is no such file).
pub fn check_file(plugin: &Plugin, file: &Path, policy: &TrustPolicy) -> Result<(), PipelineError> {
    let sigs_path = signatures_path(file);
    let signatures: Vec<PluginSignature> = match std::fs::read(&sigs_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| PipelineError::Other(format!("{}: {e}", sigs_path.display())))?,
        Err(_) => Vec::new(),
    };
    policy.check(plugin.name(), plugin.digest(), &signatures)?;
    Ok(())
}
