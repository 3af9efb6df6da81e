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
use ferry_sdk::target::{Layout, write_atomically};
use ferry_sdk::{Deployer, Deployment, DeploymentPlan, DeploymentStatus};

pub use render::{Settings, render};

/// Where the operator's output directory appears inside the sandbox.
pub const DEPLOY_DIR: &str = "/deploy";

/// Between the YAML documents of one rendering.
const SEPARATOR: &str = "---\n";

fn layout(name: &str) -> Result<Layout> {
    Layout::new(DEPLOY_DIR, name, "yaml")
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
        let layout = layout(&target.name)?;
        let live = fs::read_to_string(layout.live_path()).unwrap_or_default();
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
            layout.version_path(&target.model_version),
            target.model_version,
            layout.live_path()
        ));
        Ok(DeploymentPlan { actions })
    }

    fn apply(target: &Deployment) -> Result<DeploymentStatus> {
        let objects = render(target)?;
        let settings = Settings::parse(&target.settings)?;
        let layout = layout(&target.name)?;
        fs::create_dir_all(format!("{}/versions", layout.dir()))
            .map_err(|e| io("creating the deployment folder", e))?;
        write_atomically(
            &layout.version_path(&target.model_version),
            yaml(&objects)?.as_bytes(),
        )?;
        layout.make_live(&target.model_version)?;
        let mut state = layout.state()?;
        state.promote(&target.model_version, settings.keep);
        state.save(&layout.state_path())?;
        let message = format!(
            "version {} is rendered to {} ({}); apply it with kubectl apply -f",
            target.model_version,
            layout.live_path(),
            objects
                .iter()
                .map(render::Object::id)
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(state.status(&target.name, message))
    }

    fn status(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        let state = layout(name)?.state()?;
        Ok(state.status(name, state.summary()))
    }

    fn rollback(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        let layout = layout(name)?;
        let live = layout.live_path();
        layout.roll_back(|_| format!("{live} holds its objects again"))
    }
}

ferry_sdk::export_deployer!(KubernetesDeployer);
