//! A deployer that reaches for files, variables and the network as its settings name, to show
//! that a plugin that acts on the world gets exactly what it asked for and was granted.
//! `status(name, {"do": "..."})` picks the action; the status message says what happened.

use ferry_sdk::prelude::*;
use ferry_sdk::{Deployment, DeploymentPlan, DeploymentStatus};
use serde::Deserialize;

#[derive(Deserialize)]
struct Settings {
    #[serde(rename = "do")]
    action: String,
}

#[cfg(target_arch = "wasm32")]
fn random_u64() -> u64 {
    wasip2::random::random::get_random_u64()
}

#[cfg(not(target_arch = "wasm32"))]
fn random_u64() -> u64 {
    0
}

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
        ferry_sdk::manifest!("hostile-deployer")
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

ferry_sdk::export_deployer!(HostileDeployer);
