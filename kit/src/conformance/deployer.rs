//! A deployer's behaviour, in fresh folders for the directories it asks for: a plan that takes
//! no action, apply that makes a version live and keeps the one before, a rollback that
//! returns to it, a status that agrees each time, and refusals of bad settings.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::scratch::Scratch;
use super::verdict::{
    Tripwire, UNKNOWN_KEY, limits_point, refused_config, unable, with_unknown_key,
};
use super::{Outcome, Point};
use ferry_core::steps::purity::example_config;
use ferry_runtime::bindings::types::{Artifact, Deployment, DeploymentStatus, PluginRef};
use ferry_runtime::{DeployerInstance, Plugin, PluginError};

/// The deployment the kit makes, then makes again at a second version.
const NAME: &str = "ferry-conformance";

fn artifact(path: &str, contents: Vec<u8>) -> Artifact {
    Artifact {
        path: path.into(),
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&contents))),
        contents,
    }
}

/// A deployment of model version `version` carrying a lineage and a model artifact, as
/// `ferry deploy` hands one over.
fn target(name: &str, version: &str, settings: &str) -> Deployment {
    let model_bin = format!("ferry plugin test: model version {version}").into_bytes();
    let model = PluginRef {
        name: "ferry-conformance-model".into(),
        version: "0.1.0".into(),
        digest: format!("sha256:{}", hex::encode(Sha256::digest(b"model plugin"))),
    };
    let lineage = json!({
        "model": NAME,
        "version": version,
        "input_schema": [{ "name": "x", "type": "float64", "nullable": false }],
    });
    Deployment {
        name: name.into(),
        model_name: NAME.into(),
        model_version: version.into(),
        model_plugin: model,
        pipeline: Vec::new(),
        artifacts: vec![
            artifact("lineage.json", lineage.to_string().into_bytes()),
            artifact("model/model.bin", model_bin),
        ],
        settings: settings.into(),
    }
}

async fn instance(plugin: &Plugin) -> Result<DeployerInstance, PluginError> {
    DeployerInstance::new(plugin).await
}

async fn plan(plugin: &Plugin, t: &Deployment) -> Result<Vec<String>, PluginError> {
    Ok(instance(plugin).await?.plan(t).await?.actions)
}

async fn apply(plugin: &Plugin, t: &Deployment) -> Result<DeploymentStatus, PluginError> {
    instance(plugin).await?.apply(t).await
}

async fn status(plugin: &Plugin, settings: &str) -> Result<DeploymentStatus, PluginError> {
    instance(plugin).await?.status(NAME, settings).await
}

async fn rollback(plugin: &Plugin, settings: &str) -> Result<DeploymentStatus, PluginError> {
    instance(plugin).await?.rollback(NAME, settings).await
}

fn live(s: &DeploymentStatus) -> String {
    s.active_version.as_deref().unwrap_or("none").to_string()
}

pub(super) async fn points(plugin: &Plugin) -> Vec<Point> {
    let scratch = match Scratch::for_plugin(plugin) {
        Ok(s) => s,
        Err(e) => return vec![unable(format!("creating the kit's folders: {e}"))],
    };
    let plugin = match plugin.with_grants(&scratch.grants()) {
        Ok(p) => p,
        Err(e) => return vec![unable(format!("granting the kit's folders: {e}"))],
    };
    let settings = example_config(&plugin);
    let mut trips = Tripwire::default();
    let mut points = Vec::new();

    let v1 = target(NAME, "1", &settings);
    let before = scratch.snapshot();
    let planned = match plan(&plugin, &v1).await {
        Ok(actions) if actions.is_empty() => Outcome::Failed("the plan lists no action".into()),
        Ok(actions) => {
            let after = scratch.snapshot();
            let written: Vec<&String> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(v))
                .map(|(k, _)| k)
                .collect();
            if written.is_empty() && after.len() == before.len() {
                Outcome::Passed(format!(
                    "{} actions, nothing written: {}",
                    actions.len(),
                    actions.first().map(String::as_str).unwrap_or_default()
                ))
            } else {
                Outcome::Failed(format!(
                    "planning wrote {}",
                    written
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        Err(e) => trips.outcome("plan", "settings", e),
    };
    let runnable = !matches!(planned, Outcome::Skipped(_));
    points.push(Point {
        check: "plan",
        asks: "plan lists what apply would do and takes none of it",
        outcome: planned,
    });

    let (applied, rolled) = if runnable {
        apply_and_roll_back(&plugin, &settings, &mut trips).await
    } else {
        let why = "its example settings were refused at plan";
        (Outcome::Skipped(why.into()), Outcome::Skipped(why.into()))
    };
    points.push(Point {
        check: "apply",
        asks: "apply makes version 1, then version 2 live, keeps 1 in the history, and status agrees",
        outcome: applied,
    });
    points.push(Point {
        check: "rollback",
        asks: "rollback returns to version 1, and status agrees",
        outcome: rolled,
    });

    points.push(Point {
        check: "bad-config",
        asks: "unparsable settings are refused as a configuration error",
        outcome: refused_config(
            plan(&plugin, &target(NAME, "1", "{")).await,
            None,
            &mut trips,
        ),
    });
    let unknown = match with_unknown_key(&plugin, &settings) {
        Ok(with_key) => {
            let t = target(NAME, "1", &with_key);
            refused_config(plan(&plugin, &t).await, Some(UNKNOWN_KEY), &mut trips)
        }
        Err(skip) => skip,
    };
    points.push(Point {
        check: "unknown-key",
        asks: "a key the schema does not allow is refused as a configuration error",
        outcome: unknown,
    });

    let escape = target("../ferry-conformance-escape", "1", &settings);
    let outcome = match apply(&plugin, &escape).await {
        Err(e) if !e.failure.is_misbehaviour() => {
            Outcome::Passed(format!("refused: {}", e.failure))
        }
        Err(e) => {
            trips.note("bad-name", &e);
            Outcome::Failed(e.failure.to_string())
        }
        Ok(s) => {
            let outside = scratch.escaped();
            if outside.is_empty() {
                Outcome::Passed(format!(
                    "accepted, and nothing was written outside its folders (live: {})",
                    live(&s)
                ))
            } else {
                Outcome::Failed(format!("wrote outside its folders: {}", outside.join(", ")))
            }
        }
    };
    points.push(Point {
        check: "bad-name",
        asks: "a deployment named `../…` is refused or kept inside the granted folders, never a trap",
        outcome,
    });

    points.push(limits_point(&plugin, trips.0));
    points
}

async fn apply_and_roll_back(
    plugin: &Plugin,
    settings: &str,
    trips: &mut Tripwire,
) -> (Outcome, Outcome) {
    let not_reached = || Outcome::Skipped("apply did not succeed".into());
    let mut history = Vec::new();
    for version in ["1", "2"] {
        match apply(plugin, &target(NAME, version, settings)).await {
            Ok(s) if s.active_version.as_deref() == Some(version) => history = s.history,
            Ok(s) => {
                return (
                    Outcome::Failed(format!(
                        "after applying version {version}, the status says {} is live",
                        live(&s)
                    )),
                    not_reached(),
                );
            }
            Err(e) => return (trips.outcome("apply", "settings", e), not_reached()),
        }
    }
    if history.first().map(String::as_str) != Some("1") {
        return (
            Outcome::Failed(format!(
                "after applying versions 1 and 2, the history is {history:?}: rollback has nowhere to go"
            )),
            not_reached(),
        );
    }
    let applied = match status(plugin, settings).await {
        Ok(s) if s.active_version.as_deref() == Some("2") => Outcome::Passed(format!(
            "version 2 live, history {:?}: {}",
            s.history, s.message
        )),
        Ok(s) => Outcome::Failed(format!(
            "apply said version 2 is live; status says {}",
            live(&s)
        )),
        Err(e) => {
            trips.note("status", &e);
            Outcome::Failed(format!("status after apply: {}", e.failure))
        }
    };
    let rolled = match rollback(plugin, settings).await {
        Ok(s) if s.active_version.as_deref() == Some("1") => match status(plugin, settings).await {
            Ok(t) if t.active_version.as_deref() == Some("1") => {
                Outcome::Passed(format!("version 1 live again: {}", s.message))
            }
            Ok(t) => Outcome::Failed(format!(
                "rollback said version 1 is live; status says {}",
                live(&t)
            )),
            Err(e) => {
                trips.note("status", &e);
                Outcome::Failed(format!("status after rollback: {}", e.failure))
            }
        },
        Ok(s) => Outcome::Failed(format!(
            "after rolling back from version 2, the status says {} is live",
            live(&s)
        )),
        Err(e) => {
            trips.note("rollback", &e);
            Outcome::Failed(e.failure.to_string())
        }
    };
    (applied, rolled)
}
