//! `directory`: deploys a model's files into the granted `/deploy` directory.
//!
//! Layout: `/deploy/<name>/versions/<model-version>/` holds the artifacts and a
//! `deployment.json`; `/deploy/<name>/state.json` names the active version and the history a
//! rollback returns to. Files are written under a temporary name and renamed into place, so
//! a reader never sees half a deployment.

use std::fs;

use ferry_sdk::prelude::*;
use ferry_sdk::{Deployer, Deployment, DeploymentPlan, DeploymentStatus};
use serde::{Deserialize, Serialize};

/// Where the operator's directory appears inside the sandbox.
pub const DEPLOY_DIR: &str = "/deploy";

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    active: Option<String>,
    history: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// How many earlier versions to keep for rollback (default 10).
    keep: Option<usize>,
}

fn safe_segment(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(config_error(format!(
            "{what} {s:?} may only hold letters, digits, `.`, `-` and `_`"
        )))
    }
}

fn safe_relative_path(p: &str) -> Result<()> {
    if p.starts_with('/') || p.is_empty() {
        return Err(config_error(format!(
            "artifact path {p:?} must be relative"
        )));
    }
    for seg in p.split('/') {
        safe_segment("artifact path segment", seg)?;
    }
    Ok(())
}

fn io(what: &str, e: std::io::Error) -> PluginError {
    internal_error(format!("{what}: {e} (was {DEPLOY_DIR} granted writable?)"))
}

fn root(name: &str) -> String {
    format!("{DEPLOY_DIR}/{name}")
}

fn read_state(name: &str) -> Result<State> {
    match fs::read(format!("{}/state.json", root(name))) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| internal_error(format!("state.json of {name} is damaged: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(io("reading state.json", e)),
    }
}

fn write_state(name: &str, state: &State) -> Result<()> {
    let dir = root(name);
    let tmp = format!("{dir}/.state.json.tmp");
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| internal_error(e.to_string()))?;
    fs::write(&tmp, bytes).map_err(|e| io("writing state.json", e))?;
    fs::rename(&tmp, format!("{dir}/state.json")).map_err(|e| io("replacing state.json", e))
}

fn status_of(name: &str, state: State, message: String) -> DeploymentStatus {
    DeploymentStatus {
        name: name.to_string(),
        active_version: state.active,
        history: state.history,
        message,
    }
}

fn check(target: &Deployment) -> Result<Settings> {
    safe_segment("deployment name", &target.name)?;
    safe_segment("model version", &target.model_version)?;
    for a in &target.artifacts {
        safe_relative_path(&a.path)?;
        if a.path == "deployment.json" {
            return Err(config_error(
                "an artifact may not be called deployment.json",
            ));
        }
    }
    parse_config(&target.settings)
}

pub struct DirectoryDeployer;

impl Plugin for DirectoryDeployer {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("directory")
            .keywords(["deploy", "filesystem", "edge"])
            .directory(DEPLOY_DIR, true, "where deployments are written")
            .timeout_ms(60_000)
            .memory_mib(1024)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Deployer for DirectoryDeployer {
    fn plan(target: &Deployment) -> Result<DeploymentPlan> {
        check(target)?;
        let dir = format!("{}/versions/{}", root(&target.name), target.model_version);
        let mut actions: Vec<String> = target
            .artifacts
            .iter()
            .map(|a| format!("write {dir}/{} ({} bytes)", a.path, a.contents.len()))
            .collect();
        actions.push(format!("write {dir}/deployment.json"));
        actions.push(format!(
            "make {} version {} active",
            target.name, target.model_version
        ));
        Ok(DeploymentPlan { actions })
    }

    fn apply(target: &Deployment) -> Result<DeploymentStatus> {
        let settings = check(target)?;
        let base = root(&target.name);
        fs::create_dir_all(format!("{base}/versions"))
            .map_err(|e| io("creating the deployment folder", e))?;
        let dir = format!("{base}/versions/{}", target.model_version);
        let tmp = format!("{base}/versions/.{}.tmp", target.model_version);
        let _ = fs::remove_dir_all(&tmp);
        for a in &target.artifacts {
            let path = format!("{tmp}/{}", a.path);
            if let Some(parent) = std::path::Path::new(&path).parent() {
                fs::create_dir_all(parent).map_err(|e| io("creating a folder", e))?;
            }
            fs::write(&path, &a.contents).map_err(|e| io(&format!("writing {}", a.path), e))?;
        }
        let meta = serde_json::json!({
            "name": target.name,
            "model": { "name": target.model_name, "version": target.model_version, "plugin": { "name": target.model_plugin.name, "version": target.model_plugin.version, "digest": target.model_plugin.digest } },
            "pipeline": target.pipeline.iter().map(|p| serde_json::json!({"name": p.name, "version": p.version, "digest": p.digest})).collect::<Vec<_>>(),
            "artifacts": target.artifacts.iter().map(|a| serde_json::json!({"path": a.path, "digest": a.digest, "size": a.contents.len()})).collect::<Vec<_>>(),
        });
        fs::create_dir_all(&tmp).map_err(|e| io("creating a folder", e))?;
        fs::write(
            format!("{tmp}/deployment.json"),
            serde_json::to_vec_pretty(&meta).map_err(|e| internal_error(e.to_string()))?,
        )
        .map_err(|e| io("writing deployment.json", e))?;
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&tmp, &dir).map_err(|e| io("moving the new version into place", e))?;

        let mut state = read_state(&target.name)?;
        if let Some(previous) = state.active.take()
            && previous != target.model_version
        {
            state.history.retain(|v| *v != previous);
            state.history.insert(0, previous);
        }
        state.history.retain(|v| *v != target.model_version);
        state.history.truncate(settings.keep.unwrap_or(10));
        state.active = Some(target.model_version.clone());
        write_state(&target.name, &state)?;
        Ok(status_of(
            &target.name,
            state,
            format!("version {} is active", target.model_version),
        ))
    }

    fn status(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        safe_segment("deployment name", name)?;
        let state = read_state(name)?;
        let message = match &state.active {
            Some(v) => format!("version {v} is active"),
            None => "not deployed".to_string(),
        };
        Ok(status_of(name, state, message))
    }

    fn rollback(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        safe_segment("deployment name", name)?;
        let mut state = read_state(name)?;
        if state.history.is_empty() {
            return Err(input_error(
                name,
                None,
                "there is no earlier version to roll back to",
            ));
        }
        let back = state.history.remove(0);
        let from = state.active.replace(back.clone());
        write_state(name, &state)?;
        let message = format!(
            "rolled back from {} to {back}",
            from.unwrap_or_else(|| "nothing".into())
        );
        Ok(status_of(name, state, message))
    }
}

ferry_sdk::export_deployer!(DirectoryDeployer);
