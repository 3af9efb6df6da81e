//! `ferry plugin info`: a package, its versions and its latest manifest.

use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

pub async fn run(
    runtime: &Runtime,
    args: &RegistryArgs,
    name: &str,
    json: bool,
) -> Result<u8, Exit> {
    let versions = args.store(runtime).await?.versions(name).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&versions)?);
        return Ok(exit::OK);
    }
    let latest = versions.iter().find(|v| !v.yanked).unwrap_or(&versions[0]);
    println!("{} ({} plugin)", latest.name, latest.kind);
    println!("  {}", latest.description);
    if let Some(l) = &latest.license {
        println!("license:    {l}");
    }
    if let Some(r) = &latest.repository {
        println!("repository: {r}");
    }
    if !latest.authors.is_empty() {
        println!("authors:    {}", latest.authors.join(", "));
    }
    if !latest.keywords.is_empty() {
        println!("keywords:   {}", latest.keywords.join(", "));
    }
    if let Some(caps) = latest.manifest.get("capabilities") {
        println!("asks for:   {caps}");
    }
    println!("versions:");
    for v in &versions {
        let yanked = if v.yanked { " (yanked)" } else { "" };
        println!(
            "  {:<12} {}  {:>8} bytes  {:>5} downloads{yanked}",
            v.version.to_string(),
            v.digest,
            v.size,
            v.downloads
        );
    }
    Ok(exit::OK)
}
