//! `ferry deploy update`: writes and serves a deployment's next revision.

use ferry_ops::deploy::{self, DeploymentSpec, Gate, revision_json};
use ferry_pipeline::store::{Store, audit_local};
use ferry_runtime::Runtime;

use super::{SpecArgs, pinned, print_revision};
use crate::cli::{Exit, RegistryArgs, exit, local_actor};

/// Runs `ferry deploy update`.
pub async fn run(
    runtime: &Runtime,
    name: String,
    spec: SpecArgs,
    revision: Option<i64>,
    json: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let store = registry.store(runtime).await?;
    let base = if spec.whole() {
        None
    } else {
        let current = match &store {
            Store::Local(r) => r.deployment(&name).await?.spec,
            Store::Remote(c) => c.deployment(&name).await?["spec"].to_string(),
        };
        let current: DeploymentSpec = serde_json::from_str(&current).map_err(|e| {
            anyhow::anyhow!("deployment {name:?}: its current specification cannot be read: {e}")
        })?;
        Some(pinned(current))
    };
    let trust = spec.trust()?;
    let spec = spec.spec(base)?;
    let v = match store {
        Store::Local(r) => {
            let gate = Gate {
                runtime,
                trust: trust.as_ref(),
            };
            let rev = deploy::update(&r, gate, &name, spec, &local_actor(), revision).await?;
            audit_local(
                &r,
                "deployment.update",
                &format!("deployment:{name}"),
                &format!("revision {}", rev.revision),
            )
            .await?;
            revision_json(&rev)
        }
        Store::Remote(c) => c.update_deployment(&name, &spec, revision).await?,
    };
    print_revision(&v, json);
    Ok(exit::OK)
}
