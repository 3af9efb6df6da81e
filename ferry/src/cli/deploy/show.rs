//! `ferry deploy show`: shows a deployment, with its breakers and shadow counters from a remote
//! Ferry.

use ferry_ops::deploy::{Deployments, deployment_json};
use ferry_pipeline::store::Store;
use ferry_runtime::Runtime;

use super::{print_json, targets_line};
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry deploy show`.
pub async fn run(
    runtime: &Runtime,
    name: String,
    json: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let v = match registry.store(runtime).await? {
        Store::Local(r) => {
            let d = r.deployment(&name).await?;
            let live = Deployments::default().get(&d)?;
            deployment_json(&d, Some(&live))
        }
        Store::Remote(c) => c.deployment(&name).await?,
    };
    if json {
        print_json(&v);
    } else {
        println!("{} revision {}", name, v["revision"]);
        println!("  {}", targets_line(&v["spec"]));
        let s = &v["spec"];
        println!(
            "  timeout {} ms; breaker opens after {} failures in {} ms, probes after {} ms",
            s["timeout_ms"],
            s["breaker"]["failures"],
            s["breaker"]["window_ms"],
            s["breaker"]["open_ms"]
        );
        for t in v["status"]["targets"].as_array().into_iter().flatten() {
            println!(
                "  {}: circuit {}",
                t["target"].as_str().unwrap_or("?"),
                t["breaker"]["state"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(exit::OK)
}
