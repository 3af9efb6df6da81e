//! `ferry deploy rollback`: serves an earlier revision again.

use ferry_ops::deploy::{self, Gate, revision_json};
use ferry_pipeline::store::{Store, audit_local};
use ferry_runtime::Runtime;

use super::print_revision;
use crate::cli::{Exit, RegistryArgs, exit, local_actor};

/// Runs `ferry deploy rollback`.
pub async fn run(
    runtime: &Runtime,
    name: String,
    to: Option<i64>,
    json: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let v = match registry.store(runtime).await? {
        Store::Local(r) => {
            let trust = crate::cli::trust_policy(None)?;
            let gate = Gate {
                runtime,
                trust: trust.as_ref(),
            };
            let rev = deploy::rollback(&r, gate, &name, to, &local_actor()).await?;
            audit_local(
                &r,
                "deployment.rollback",
                &format!("deployment:{name}"),
                &format!("revision {} ({})", rev.revision, rev.reason),
            )
            .await?;
            revision_json(&rev)
        }
        Store::Remote(c) => c.rollback_deployment(&name, to).await?,
    };
    print_revision(&v, json);
    Ok(exit::OK)
}
