//! `ferry deploy create`: creates a deployment.

use ferry_ops::deploy::{self, revision_json};
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
    let spec = spec.spec()?;
    let v = match registry.store(runtime).await? {
        Store::Local(r) => {
            let rev = deploy::create(&r, &name, spec, &local_actor()).await?;
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
