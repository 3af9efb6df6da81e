//! `ferry deploy update`: writes and serves a deployment's next revision.

use ferry_ops::deploy::{self, revision_json};
use ferry_pipeline::store::{Store, audit_local};
use ferry_runtime::Runtime;

use super::{SpecArgs, print_revision};
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
    let spec = spec.spec()?;
    let v = match registry.store(runtime).await? {
        Store::Local(r) => {
            let rev = deploy::update(&r, &name, spec, &local_actor(), revision).await?;
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
