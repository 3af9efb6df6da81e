//! `ferry deploy list`: lists deployments.

use ferry_ops::deploy::deployment_json;
use ferry_pipeline::store::Store;
use ferry_runtime::Runtime;
use serde_json::Value;

use super::{print_json, targets_line};
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry deploy list`.
pub async fn run(runtime: &Runtime, json: bool, registry: RegistryArgs) -> Result<u8, Exit> {
    let all = match registry.store(runtime).await? {
        Store::Local(r) => Value::Array(
            r.deployments()
                .await?
                .iter()
                .map(|d| deployment_json(d, None))
                .collect(),
        ),
        Store::Remote(c) => c.deployments().await?,
    };
    if json {
        print_json(&all);
    } else {
        for d in all.as_array().into_iter().flatten() {
            println!(
                "{:<24} r{:<4} {}",
                d["name"].as_str().unwrap_or("?"),
                d["revision"],
                targets_line(&d["spec"])
            );
        }
    }
    Ok(exit::OK)
}
