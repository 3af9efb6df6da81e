//! `extism-directory-deployer`: the built-in `directory` deployer as an Extism plugin. Its
//! source is `plugins/directory`'s with `ferry_extism_pdk` for `ferry_sdk` (the crates share
//! their API) and a name of its own. It writes files, so it is built for WASI preview 1:
//! `cargo build --release --target wasm32-wasip1`, and the operator's grant of `/deploy` is
//! its allowed path.
//!
//! It deploys a model's files into the granted `/deploy` directory.
//!
//! Layout: `/deploy/<name>/versions/<model-version>/` holds the artifacts and a
//! `deployment.json`; `/deploy/<name>/state.json` names the active version and the history a
//! rollback returns to. Files are written under a temporary name and renamed into place, so
//! a reader never sees half a deployment.

use std::fs;

use ferry_extism_pdk::prelude::*;
use ferry_extism_pdk::target::{TargetState, check_segment, require_granted};
use ferry_extism_pdk::{Deployer, Deployment, DeploymentPlan, DeploymentStatus, PluginRef};
use serde::{Deserialize, Serialize};

/// Where the operator's directory appears inside the sandbox.
pub const DEPLOY_DIR: &str = "/deploy";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// How many earlier versions to keep for rollback (default 10).
    keep: Option<usize>,
}

fn safe_relative_path(p: &str) -> Result<()> {
    if p.starts_with('/') || p.is_empty() {
        return Err(config_error(format!(
            "artifact path {p:?} must be relative"
        )));
    }
    for seg in p.split('/') {
        check_segment("artifact path segment", seg)?;
    }
    Ok(())
}

fn io(what: &str, e: std::io::Error) -> PluginError {
    internal_error(format!("{what}: {e} (was {DEPLOY_DIR} granted writable?)"))
}

fn root(name: &str) -> String {
    format!("{DEPLOY_DIR}/{name}")
}

fn state_path(name: &str) -> String {
    format!("{}/state.json", root(name))
}

fn check(target: &Deployment) -> Result<Settings> {
    check_segment("deployment name", &target.name)?;
    require_granted(DEPLOY_DIR)?;
    check_segment("model version", &target.model_version)?;
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

/// `deployment.json`. Structs, not a JSON map, so its keys keep this order whatever
/// features `serde_json` was built with.
#[derive(Serialize)]
struct Meta<'a> {
    name: &'a str,
    model: ModelMeta<'a>,
    pipeline: Vec<PluginMeta<'a>>,
    artifacts: Vec<ArtifactMeta<'a>>,
}

#[derive(Serialize)]
struct ModelMeta<'a> {
    name: &'a str,
    version: &'a str,
    plugin: PluginMeta<'a>,
}

#[derive(Serialize)]
struct PluginMeta<'a> {
    name: &'a str,
    version: &'a str,
    digest: &'a str,
}

impl<'a> PluginMeta<'a> {
    fn of(p: &'a PluginRef) -> Self {
        PluginMeta {
            name: &p.name,
            version: &p.version,
            digest: &p.digest,
        }
    }
}

#[derive(Serialize)]
struct ArtifactMeta<'a> {
    path: &'a str,
    digest: &'a str,
    size: usize,
}

pub struct DirectoryDeployer;

impl Plugin for DirectoryDeployer {
    fn manifest() -> ManifestBuilder {
        ferry_extism_pdk::manifest!("extism-directory-deployer")
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
        let meta = Meta {
            name: &target.name,
            model: ModelMeta {
                name: &target.model_name,
                version: &target.model_version,
                plugin: PluginMeta::of(&target.model_plugin),
            },
            pipeline: target.pipeline.iter().map(PluginMeta::of).collect(),
            artifacts: target
                .artifacts
                .iter()
                .map(|a| ArtifactMeta {
                    path: &a.path,
                    digest: &a.digest,
                    size: a.contents.len(),
                })
                .collect(),
        };
        fs::create_dir_all(&tmp).map_err(|e| io("creating a folder", e))?;
        fs::write(
            format!("{tmp}/deployment.json"),
            serde_json::to_vec_pretty(&meta).map_err(|e| internal_error(e.to_string()))?,
        )
        .map_err(|e| io("writing deployment.json", e))?;
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&tmp, &dir).map_err(|e| io("moving the new version into place", e))?;

        let mut state = TargetState::load(&state_path(&target.name))?;
        state.promote(&target.model_version, settings.keep.unwrap_or(10));
        state.save(&state_path(&target.name))?;
        let message = state.summary();
        Ok(state.status(&target.name, message))
    }

    fn status(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        check_segment("deployment name", name)?;
        require_granted(DEPLOY_DIR)?;
        let state = TargetState::load(&state_path(name))?;
        Ok(state.status(name, state.summary()))
    }

    fn rollback(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        check_segment("deployment name", name)?;
        require_granted(DEPLOY_DIR)?;
        let mut state = TargetState::load(&state_path(name))?;
        let (from, back) = state.step_back(name)?;
        state.save(&state_path(name))?;
        let message = format!(
            "rolled back from {} to {back}",
            from.unwrap_or_else(|| "nothing".into())
        );
        Ok(state.status(name, message))
    }
}

ferry_extism_pdk::export_deployer!(DirectoryDeployer);
