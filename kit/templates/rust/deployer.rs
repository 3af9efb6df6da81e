//! A deployer: writes each version's artifacts under the granted `/deploy` folder and keeps
//! which version is live, and the history a rollback returns to, in a state file.

use ferry_sdk::prelude::*;
use ferry_sdk::target::{Layout, check_segment, write_atomically};
use ferry_sdk::{Deployment, DeploymentPlan, DeploymentStatus};
use serde::Deserialize;

const DEPLOY_DIR: &str = "/deploy";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Earlier versions kept for rollback.
    #[serde(default = "ten")]
    keep: usize,
}

fn ten() -> usize {
    10
}

fn checked(target: &Deployment) -> Result<(Settings, Layout)> {
    let settings: Settings = parse_config(&target.settings)?;
    check_segment("model version", &target.model_version)?;
    Ok((settings, Layout::new(DEPLOY_DIR, &target.name, "json")?))
}

fn io(what: &str, e: std::io::Error) -> PluginError {
    internal_error(format!("{what}: {e} (was {DEPLOY_DIR} granted writable?)"))
}

pub struct Folder;

impl Plugin for Folder {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!(env!("CARGO_PKG_NAME"))
            .keywords(["deploy"])
            .directory(DEPLOY_DIR, true, "where deployments are written")
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Deployer for Folder {
    fn plan(target: &Deployment) -> Result<DeploymentPlan> {
        let (_, layout) = checked(target)?;
        let dir = format!("{}/versions/{}", layout.dir(), target.model_version);
        let mut actions: Vec<String> = target
            .artifacts
            .iter()
            .map(|a| format!("write {dir}/{}", a.path))
            .collect();
        actions.push(format!("make version {} live", target.model_version));
        Ok(DeploymentPlan { actions })
    }

    fn apply(target: &Deployment) -> Result<DeploymentStatus> {
        let (settings, layout) = checked(target)?;
        let dir = format!("{}/versions/{}", layout.dir(), target.model_version);
        std::fs::create_dir_all(&dir).map_err(|e| io("creating the version's folder", e))?;
        for a in &target.artifacts {
            for segment in a.path.split('/') {
                check_segment("artifact path", segment)?;
            }
            let path = format!("{dir}/{}", a.path);
            if let Some((parent, _)) = path.rsplit_once('/') {
                std::fs::create_dir_all(parent).map_err(|e| io("creating a folder", e))?;
            }
            write_atomically(&path, &a.contents)?;
        }
        let mut state = layout.state()?;
        state.promote(&target.model_version, settings.keep);
        state.save(&layout.state_path())?;
        Ok(state.status(&target.name, state.summary()))
    }

    fn status(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        let state = Layout::new(DEPLOY_DIR, name, "json")?.state()?;
        Ok(state.status(name, state.summary()))
    }

    fn rollback(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        let layout = Layout::new(DEPLOY_DIR, name, "json")?;
        let mut state = layout.state()?;
        let (from, back) = state.step_back(name)?;
        state.save(&layout.state_path())?;
        let from = from.unwrap_or_else(|| "nothing".into());
        Ok(state.status(name, format!("rolled back from {from} to {back}")))
    }
}

ferry_sdk::export_deployer!(Folder);
