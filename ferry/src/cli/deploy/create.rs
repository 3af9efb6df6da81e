//! `ferry deploy create`: creates a deployment.

use ferry_ops::deploy::{self, Gate, revision_json};
use ferry_pipeline::store::{Store, audit_local};
use ferry_runtime::Runtime;

use super::{SpecArgs, print_revision};
use crate::cli::{Exit, RegistryArgs, exit, local_actor};

/// Runs `ferry deploy create`.
pub async fn run(
    runtime: &Runtime,
    name: String,
    spec: SpecArgs,
    json: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let trust = spec.trust()?;
    let spec = spec.spec(None)?;
    let v = match registry.store(runtime).await? {
        Store::Local(r) => {
            let gate = Gate {
                runtime,
                trust: trust.as_ref(),
            };
            let rev = deploy::create(&r, gate, &name, spec, &local_actor()).await?;
            audit_local(
                &r,
                "deployment.create",
                &format!("deployment:{name}"),
                "revision 1",
            )
            .await?;
            revision_json(&rev)
        }
        Store::Remote(c) => c.create_deployment(&name, &spec).await?,
    };
    print_revision(&v, json);
    Ok(exit::OK)
}
