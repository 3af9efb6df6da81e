//! A deployer that works, almost: its plan already writes to the target, and its rollback
//! reports success and changes nothing. `ferry plugin test` must fail exactly `plan` and
//! `rollback`.

use ferry_sdk::prelude::*;
use ferry_sdk::target::{Layout, TargetState, check_segment};
use ferry_sdk::{Deployment, DeploymentPlan, DeploymentStatus};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {}

fn layout(name: &str) -> Result<Layout> {
    Layout::new("/deploy", name, "txt")
}

fn io(e: std::io::Error) -> PluginError {
    internal_error(e.to_string())
}

pub struct CarelessDeployer;

impl Plugin for CarelessDeployer {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("careless-deployer")
            .directory("/deploy", true, "where deployments are written")
            .config_schema(r#"{"type": "object", "additionalProperties": false, "properties": {}}"#)
    }
}

impl Deployer for CarelessDeployer {
    fn plan(target: &Deployment) -> Result<DeploymentPlan> {
        let _: Settings = parse_config(&target.settings)?;
        check_segment("deployment name", &target.name)?;
        let dir = layout(&target.name)?;
        std::fs::create_dir_all(dir.dir()).map_err(io)?;
        std::fs::write(format!("{}/planned", dir.dir()), &target.model_version).map_err(io)?;
        Ok(DeploymentPlan {
            actions: vec![format!("make version {} live", target.model_version)],
        })
    }

    fn apply(target: &Deployment) -> Result<DeploymentStatus> {
        let _: Settings = parse_config(&target.settings)?;
        check_segment("deployment name", &target.name)?;
        let dir = layout(&target.name)?;
        std::fs::create_dir_all(dir.dir()).map_err(io)?;
        let mut state = dir.state()?;
        state.promote(&target.model_version, 10);
        state.save(&dir.state_path())?;
        Ok(state.status(&target.name, state.summary()))
    }

    fn status(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        let state: TargetState = layout(name)?.state()?;
        Ok(state.status(name, state.summary()))
    }

    fn rollback(name: &str, settings: &str) -> Result<DeploymentStatus> {
        let mut status = Self::status(name, settings)?;
        status.message = "rolled back".into();
        Ok(status)
    }
}

ferry_sdk::export_deployer!(CarelessDeployer);
