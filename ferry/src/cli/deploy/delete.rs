//! `ferry deploy delete`: deletes a deployment and its history.

use ferry_pipeline::store::{Store, audit_local};
use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry deploy delete`.
pub async fn run(runtime: &Runtime, name: String, registry: RegistryArgs) -> Result<u8, Exit> {
    match registry.store(runtime).await? {
        Store::Local(r) => {
            r.delete_deployment(&name).await?;
            audit_local(&r, "deployment.delete", &format!("deployment:{name}"), "").await?;
        }
        Store::Remote(c) => {
            c.delete_deployment(&name).await?;
        }
    }
    println!("deleted deployment {name}");
    Ok(exit::OK)
}
