//! `ferry deploy history`: shows a deployment's revisions, oldest first.

use ferry_ops::deploy::revision_json;
use ferry_pipeline::store::Store;
use ferry_runtime::Runtime;
use serde_json::Value;

use super::{print_json, print_revision};
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry deploy history`.
pub async fn run(
    runtime: &Runtime,
    name: String,
    json: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let all = match registry.store(runtime).await? {
        Store::Local(r) => Value::Array(
            r.deployment_revisions(&name)
                .await?
                .iter()
                .map(revision_json)
                .collect(),
        ),
        Store::Remote(c) => c.deployment_revisions(&name).await?,
    };
    if json {
        print_json(&all);
    } else {
        for r in all.as_array().into_iter().flatten() {
            print_revision(r, false);
        }
    }
    Ok(exit::OK)
}
