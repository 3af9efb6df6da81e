//! `ferry plugin inspect`: what a plugin is and asks for, or why it is refused.

use ferry_runtime::{LoadOptions, Runtime};

use super::describe;
use crate::cli::{Exit, exit};

pub async fn run(runtime: &Runtime, plugin: String, json: bool) -> Result<u8, Exit> {
    let p = runtime.resolve(&plugin, &LoadOptions::default()).await?;
    let d = describe(&p);
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(exit::OK);
    }
    let m = p.manifest();
    println!("{} {} ({} plugin)", m.name, m.version, m.kind);
    println!("  {}", m.description);
    println!("contract:     ferry:plugin@{}", m.contract);
    println!("digest:       {}", p.digest());
    println!("size:         {} bytes", p.size());
    if let Some(l) = &m.license {
        println!("license:      {l}");
    }
    println!("imports:      {}", p.imports().join(", "));
    println!("exports:      {}", p.exports().join(", "));
    let caps = &m.capabilities;
    let mut asked = Vec::new();
    for d in &caps.directories {
        asked.push(format!(
            "directory {} ({}){}",
            d.guest_path,
            if d.writable {
                "read-write"
            } else {
                "read-only"
            },
            if d.purpose.is_empty() {
                String::new()
            } else {
                format!(": {}", d.purpose)
            }
        ));
    }
    for h in &caps.http_hosts {
        asked.push(format!("http {h}"));
    }
    for e in &caps.env {
        asked.push(format!("env {e}"));
    }
    println!(
        "capabilities: {}",
        if asked.is_empty() {
            "none".to_string()
        } else {
            asked.join("; ")
        }
    );
    let l = p.limits();
    println!(
        "limits:       {} MiB memory, {} ms per call",
        l.memory_mib, l.timeout_ms
    );
    println!(
        "config schema:\n{}",
        serde_json::to_string_pretty(&m.config_schema)?
    );
    Ok(exit::OK)
}
