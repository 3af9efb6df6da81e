//! `edge-bundle`: deploys a model version as one file that `ferry edge` serves with no
//! registry, database or network: the plugin components, the learned states, the model
//! artifact, the lineage, the input schema and a manifest of digests, signed with the
//! publisher's ed25519 key when `sign_with` names one.
//!
//! Layout in the granted `/deploy` directory: `/deploy/<name>/versions/<version>.ferry` holds
//! each version's bundle, `/deploy/<name>/<name>.ferry` is the live one (what edge devices
//! fetch), and `/deploy/<name>/state.json` names the live version and the history a rollback
//! returns to. Every file is written under a temporary name and renamed into place.

use std::fs;

use ferry_bundle::{BundleContents, ModelPin, PluginPin, digest_of};
use ferry_sdk::prelude::*;
use ferry_sdk::target::{Layout, check_segment, write_atomically};
use ferry_sdk::{Deployer, Deployment, DeploymentPlan, DeploymentStatus, PluginRef};
use serde::Deserialize;

/// Where the operator's output directory appears inside the sandbox.
pub const DEPLOY_DIR: &str = "/deploy";
/// Where the operator's signing keys appear, read-only.
pub const KEYS_DIR: &str = "/keys";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    keep: Option<usize>,
    sign_with: Option<String>,
}

fn layout(name: &str) -> Result<Layout> {
    Layout::new(DEPLOY_DIR, name, "ferry")
}

fn io(what: &str, e: std::io::Error) -> PluginError {
    internal_error(format!("{what}: {e} (was {DEPLOY_DIR} granted writable?)"))
}

fn settings(text: &str) -> Result<Settings> {
    let s: Settings = parse_config(text)?;
    if let Some(file) = &s.sign_with {
        check_segment("sign_with", file)?;
    }
    Ok(s)
}

fn signing_key(s: &Settings) -> Result<Option<ferry_bundle::integrity::SigningKey>> {
    let Some(file) = &s.sign_with else {
        return Ok(None);
    };
    let path = format!("{KEYS_DIR}/{file}");
    let text = fs::read_to_string(&path).map_err(|e| {
        config_error(format!(
            "sign_with: reading {path}: {e} (grant the key folder with --allow-dir {KEYS_DIR}=DIR:ro)"
        ))
    })?;
    ferry_bundle::integrity::parse_signing_key(&text)
        .map(Some)
        .map_err(|e| config_error(format!("sign_with: {path}: {e}")))
}

fn pin(p: &PluginRef) -> PluginPin {
    PluginPin {
        name: p.name.clone(),
        version: p.version.clone(),
        digest: p.digest.clone(),
    }
}

fn check(target: &Deployment) -> Result<Settings> {
    check_segment("deployment name", &target.name)?;
    check_segment("model version", &target.model_version)?;
    for a in &target.artifacts {
        if digest_of(&a.contents) != a.digest {
            return Err(input_error(
                &a.path,
                None,
                format!("artifact {} does not match its digest {}", a.path, a.digest),
            ));
        }
    }
    settings(&target.settings)
}

fn contents(target: &Deployment) -> Result<BundleContents> {
    let lineage = target
        .artifacts
        .iter()
        .find(|a| a.path == "lineage.json")
        .ok_or_else(|| input_error("lineage.json", None, "the deployment carries no lineage"))?;
    let lineage: serde_json::Value = serde_json::from_slice(&lineage.contents)
        .map_err(|e| input_error("lineage.json", None, format!("not JSON: {e}")))?;
    let mut plugins: Vec<PluginPin> = target.pipeline.iter().map(pin).collect();
    plugins.push(pin(&target.model_plugin));
    Ok(BundleContents {
        deployment: target.name.clone(),
        model: ModelPin {
            name: target.model_name.clone(),
            version: target.model_version.clone(),
        },
        plugins,
        input_schema: lineage
            .get("input_schema")
            .cloned()
            .unwrap_or(serde_json::Value::Null),
        files: target
            .artifacts
            .iter()
            .map(|a| (a.path.clone(), a.contents.clone()))
            .collect(),
    })
}

pub struct EdgeBundleDeployer;

impl Plugin for EdgeBundleDeployer {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("edge-bundle")
            .keywords(["deploy", "edge", "bundle", "offline", "signed"])
            .directory(DEPLOY_DIR, true, "where bundles are written")
            .directory(
                KEYS_DIR,
                false,
                "the publisher's signing key, when bundles are signed",
            )
            .timeout_ms(120_000)
            .memory_mib(2048)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl Deployer for EdgeBundleDeployer {
    fn plan(target: &Deployment) -> Result<DeploymentPlan> {
        let s = check(target)?;
        let key = signing_key(&s)?;
        let layout = layout(&target.name)?;
        let file = layout.version_path(&target.model_version);
        let total: usize = target.artifacts.iter().map(|a| a.contents.len()).sum();
        let mut actions = vec![format!(
            "write {file}: {} files, {total} bytes before compression, {}",
            target.artifacts.len(),
            match &key {
                Some(k) => format!(
                    "signed by {}",
                    ferry_bundle::integrity::key_id(&k.verifying_key())
                ),
                None => "unsigned".to_string(),
            }
        )];
        actions.extend(
            target
                .artifacts
                .iter()
                .map(|a| format!("  holding {} ({})", a.path, a.digest)),
        );
        actions.push(format!(
            "make version {} live as {}",
            target.model_version,
            layout.live_path()
        ));
        Ok(DeploymentPlan { actions })
    }

    fn apply(target: &Deployment) -> Result<DeploymentStatus> {
        let s = check(target)?;
        let key = signing_key(&s)?;
        let layout = layout(&target.name)?;
        let bundle = ferry_bundle::write(&contents(target)?, key.as_ref())
            .map_err(|e| internal_error(e.to_string()))?;
        fs::create_dir_all(format!("{}/versions", layout.dir()))
            .map_err(|e| io("creating the deployment folder", e))?;
        write_atomically(&layout.version_path(&target.model_version), &bundle)?;
        layout.make_live(&target.model_version)?;
        let mut state = layout.state()?;
        state.promote(&target.model_version, s.keep.unwrap_or(10));
        state.save(&layout.state_path())?;
        let message = format!(
            "version {} is live as {} ({} bytes, {})",
            target.model_version,
            layout.live_path(),
            bundle.len(),
            digest_of(&bundle)
        );
        Ok(state.status(&target.name, message))
    }

    fn status(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        let layout = layout(name)?;
        let state = layout.state()?;
        let message = match fs::read(layout.live_path()) {
            Ok(bytes) => format!(
                "{}; {} is {}",
                state.summary(),
                layout.live_path(),
                digest_of(&bytes)
            ),
            Err(_) => state.summary(),
        };
        Ok(state.status(name, message))
    }

    fn rollback(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        let layout = layout(name)?;
        let live = layout.live_path();
        layout.roll_back(|bytes| format!("{live} is {}", digest_of(bytes)))
    }
}

ferry_sdk::export_deployer!(EdgeBundleDeployer);
