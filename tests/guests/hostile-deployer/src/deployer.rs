//! The hostile deployer itself, shared by the component (`tests/guests/hostile-deployer`) and
//! the Extism module (`tests/extism-wasi/hostile-deployer`): each crate names its SDK `sdk` and
//! brings its own `random_u64`, so both backends face exactly the same hostile behaviour.

use serde::Deserialize;

use super::random_u64;
use super::sdk::prelude::*;
use super::sdk::{self, Deployment, DeploymentPlan, DeploymentStatus};

#[derive(Deserialize)]
struct Settings {
    #[serde(rename = "do")]
    action: String,
}

/// Does `action`; the answer says what happened.
fn act(action: &str) -> Result<String> {
    Ok(match action {
        "write-inside" => {
            std::fs::write("/out/inside.txt", b"ok")
                .map_err(|e| internal_error(format!("write /out/inside.txt: {e}")))?;
            "wrote /out/inside.txt".into()
        }
        "write-outside" => {
            let mut errors = Vec::new();
            for path in ["/out/../escape.txt", "/tmp/escape.txt", "/escape.txt"] {
                match std::fs::write(path, b"escaped") {
                    Ok(()) => panic!("WROTE {path}"),
                    Err(e) => errors.push(format!("{path}: {e}")),
                }
            }
            return Err(internal_error(errors.join("; ")));
        }
        "passwd" => match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => format!("READ /etc/passwd: {}", &text[..text.len().min(40)]),
            Err(e) => return Err(internal_error(format!("cannot read /etc/passwd: {e}"))),
        },
        "env" => {
            let seen: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            format!("SAW [{}]", seen.join(","))
        }
        "granted-env" => std::env::var("FERRY_GRANTED")
            .map_err(|_| internal_error("FERRY_GRANTED is not visible"))?,
        "clock" => {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!("wall {wall}")
        }
        "random" => format!("random {:016x}", random_u64()),
        other => return Err(config_error(format!("unknown action {other:?}"))),
    })
}

pub struct HostileDeployer;

impl Plugin for HostileDeployer {
    fn manifest() -> ManifestBuilder {
        sdk::manifest!("hostile-deployer")
            .directory("/out", true, "a folder the tests grant")
            .env("FERRY_GRANTED")
            .timeout_ms(2000)
    }
}

impl Deployer for HostileDeployer {
    fn plan(_target: &Deployment) -> Result<DeploymentPlan> {
        Ok(DeploymentPlan {
            actions: Vec::new(),
        })
    }

    fn apply(target: &Deployment) -> Result<DeploymentStatus> {
        Self::status(&target.name, &target.settings)
    }

    fn status(name: &str, settings: &str) -> Result<DeploymentStatus> {
        let settings: Settings = parse_config(settings)?;
        Ok(DeploymentStatus {
            name: name.to_string(),
            active_version: None,
            history: Vec::new(),
            message: act(&settings.action)?,
        })
    }

    fn rollback(name: &str, settings: &str) -> Result<DeploymentStatus> {
        Self::status(name, settings)
    }
}
