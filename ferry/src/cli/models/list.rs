//! `ferry models list`: lists registered models with their latest version, aliases and description.

use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry models list`.
pub async fn run(runtime: &Runtime, json: bool, registry: RegistryArgs) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    let models = r.registered_models("").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&models)?);
        return Ok(exit::OK);
    }
    println!(
        "{:<24} {:<8} {:<24} DESCRIPTION",
        "MODEL", "LATEST", "ALIASES"
    );
    for m in &models {
        let latest = r
            .registered_model(&m.name)
            .await?
            .1
            .last()
            .map(|v| v.version);
        let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}={v}")).collect();
        println!(
            "{:<24} {:<8} {:<24} {}",
            m.name,
            latest.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            aliases.join(","),
            m.description
        );
    }
    Ok(exit::OK)
}
