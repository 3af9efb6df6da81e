//! `kubernetes`: renders the objects that run a deployment as `ferry serve` replicas sharing
//! one PostgreSQL and one blob store: a ConfigMap, a Deployment (readiness on `/v1/ready`,
//! liveness on `/v1/health`, rolling updates that never drop below the replicas at rest), a
//! Service, a HorizontalPodAutoscaler and a PodDisruptionBudget.
//!
//! The plugin writes manifests for `kubectl apply -f` or a GitOps controller; it holds no
//! cluster credentials. In the granted `/deploy` directory, `/deploy/<name>/versions/<version>.yaml`
//! is each version's rendering, `/deploy/<name>/<name>.yaml` the live one, and
//! `/deploy/<name>/state.json` the live version and the history a rollback returns to.

mod render;

use std::fs;

use ferry_sdk::prelude::*;
use ferry_sdk::target::{TargetState, check_segment, write_atomically};
use ferry_sdk::{Deployer, Deployment, DeploymentPlan, DeploymentStatus};

pub use render::{Settings, render};

/// Where the operator's output directory appears inside the sandbox.
pub const DEPLOY_DIR: &str = "/deploy";

/// Between the YAML documents of one rendering.
const SEPARATOR: &str = "---\n";

fn root(name: &str) -> String {
    format!("{DEPLOY_DIR}/{name}")
}

fn state_path(name: &str) -> String {
    format!("{}/state.json", root(name))
}

fn version_path(name: &str, version: &str) -> String {
    format!("{}/versions/{version}.yaml", root(name))
}

fn live_path(name: &str) -> String {
    format!("{}/{name}.yaml", root(name))
}

fn io(what: &str, e: std::io::Error) -> PluginError {
    internal_error(format!("{what}: {e} (was {DEPLOY_DIR} granted writable?)"))
}

fn yaml(objects: &[render::Object]) -> Result<String> {
    let mut out = String::new();
    for o in objects {
        out.push_str(SEPARATOR);
        out.push_str(
            &serde_saphyr::to_string(&o.body)
                .map_err(|e| internal_error(format!("rendering {}: {e}", o.id())))?,
        );
    }
    Ok(out)
}

fn switch_live(name: &str, version: &str) -> Result<()> {
    let bytes = fs::read(version_path(name, version))
        .map_err(|e| io(&format!("reading the rendering of version {version}"), e))?;
    write_atomically(&live_path(name), &bytes)
}

pub struct KubernetesDeployer;

impl Plugin for KubernetesDeployer {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("kubernetes")
            .keywords(["deploy", "kubernetes", "gitops", "autoscaling"])
            .directory(DEPLOY_DIR, true, "where the rendered manifests are written")
            .timeout_ms(60_000)
            .memory_mib(512)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Deployer for KubernetesDeployer {
    fn plan(target: &Deployment) -> Result<DeploymentPlan> {
        let objects = render(target)?;
        let live = fs::read_to_string(live_path(&target.name)).unwrap_or_default();
        let live: Vec<&str> = live.split(SEPARATOR).filter(|d| !d.is_empty()).collect();
        let mut actions = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            let doc = yaml(std::slice::from_ref(o))?;
            let verb = match live.get(i) {
                None => "create",
                Some(old) if SEPARATOR.to_string() + old == doc => "keep",
                Some(_) => "update",
            };
            actions.push(format!("{verb} {} in namespace {}", o.id(), o.namespace));
        }
        actions.push(format!(
            "write {} and make version {} live as {}",
            version_path(&target.name, &target.model_version),
            target.model_version,
            live_path(&target.name)
        ));
        Ok(DeploymentPlan { actions })
    }

    fn apply(target: &Deployment) -> Result<DeploymentStatus> {
        let objects = render(target)?;
        let settings = Settings::parse(&target.settings)?;
        fs::create_dir_all(format!("{}/versions", root(&target.name)))
            .map_err(|e| io("creating the deployment folder", e))?;
        write_atomically(
            &version_path(&target.name, &target.model_version),
            yaml(&objects)?.as_bytes(),
        )?;
        switch_live(&target.name, &target.model_version)?;
        let mut state = TargetState::load(&state_path(&target.name))?;
        state.promote(&target.model_version, settings.keep);
        state.save(&state_path(&target.name))?;
        let message = format!(
            "version {} is rendered to {} ({}); apply it with kubectl apply -f",
            target.model_version,
            live_path(&target.name),
            objects
                .iter()
                .map(render::Object::id)
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(state.status(&target.name, message))
    }

    fn status(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        check_segment("deployment name", name)?;
        let state = TargetState::load(&state_path(name))?;
        Ok(state.status(name, state.summary()))
    }

    fn rollback(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        check_segment("deployment name", name)?;
        let mut state = TargetState::load(&state_path(name))?;
        let (from, back) = state.step_back(name)?;
        switch_live(name, &back)?;
        state.save(&state_path(name))?;
        let message = format!(
            "rolled back from {} to {back}: {} holds version {back}'s objects again",
            from.unwrap_or_else(|| "nothing".into()),
            live_path(name)
        );
        Ok(state.status(name, message))
    }
}

ferry_sdk::export_deployer!(KubernetesDeployer);
