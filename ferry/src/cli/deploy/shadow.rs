//! `ferry deploy shadow`: reads the shadow log.

use ferry_ops::deploy::sample_json;
use ferry_pipeline::store::Store;
use ferry_runtime::Runtime;

use super::print_json;
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry deploy shadow`.
pub async fn run(
    runtime: &Runtime,
    name: String,
    limit: i64,
    json: bool,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let v = match registry.store(runtime).await? {
        // The counters live in the server that mirrors; the sampled log is stored.
        Store::Local(r) => serde_json::json!({
            "counters": [],
            "samples": r
                .shadow_samples(&name, limit)
                .await?
                .iter()
                .map(sample_json)
                .collect::<Vec<_>>(),
        }),
        Store::Remote(c) => c.shadow_log(&name, limit).await?,
    };
    if json {
        print_json(&v);
    } else {
        for c in v["counters"].as_array().into_iter().flatten() {
            println!(
                "{}: mirrored {}, agreed {}, disagreed {}, failed {}, skipped {}",
                c["shadow"].as_str().unwrap_or("?"),
                c["mirrored"],
                c["agreed"],
                c["disagreed"],
                c["failed"],
                c["skipped"]
            );
        }
        for s in v["samples"].as_array().into_iter().flatten() {
            println!(
                "{} {}: answered {} {}; shadow {} {}",
                s["created_at"],
                s["request_id"].as_str().unwrap_or("?"),
                s["answered"].as_str().unwrap_or("?"),
                s["answer"],
                s["shadow"].as_str().unwrap_or("?"),
                s["shadow_answer"]
            );
        }
    }
    Ok(exit::OK)
}
