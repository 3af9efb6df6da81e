//! `ferry plugin list` and `ferry plugin inspect`.

use clap::Subcommand;
use ferry_host::builtin;
use ferry_host::runtime::{LoadOptions, Plugin, Runtime};

use super::{Exit, exit};

/// Plugin subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the built-in plugins.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load a plugin file and show its kind, contract, exports, capabilities, limits and
    /// configuration schema (or why it is refused).
    Inspect {
        /// A `.wasm` component, or the name of a built-in plugin.
        plugin: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn describe(p: &Plugin) -> serde_json::Value {
    let m = p.manifest();
    serde_json::json!({
        "name": m.name,
        "version": m.version.to_string(),
        "kind": m.kind,
        "contract": format!("ferry:plugin@{}", m.contract),
        "description": m.description,
        "authors": m.authors,
        "license": m.license,
        "repository": m.repository,
        "keywords": m.keywords,
        "digest": p.digest(),
        "size": p.size(),
        "source": p.source(),
        "imports": p.imports(),
        "exports": p.exports(),
        "capabilities": m.capabilities,
        "default_limits": m.limits,
        "effective_limits": p.limits(),
        "config_schema": m.config_schema,
    })
}

pub async fn run(runtime: &Runtime, cmd: PluginCommand) -> Result<u8, Exit> {
    match cmd {
        PluginCommand::List { json } => {
            let mut rows = Vec::new();
            for name in builtin::names() {
                rows.push(builtin::load(runtime, name, &LoadOptions::default()).await?);
            }
            if json {
                let all: Vec<_> = rows.iter().map(describe).collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!("{:<16} {:<8} {:<11} DESCRIPTION", "NAME", "VERSION", "KIND");
                for p in &rows {
                    let m = p.manifest();
                    println!(
                        "{:<16} {:<8} {:<11} {}",
                        m.name,
                        m.version.to_string(),
                        m.kind.name(),
                        m.description
                    );
                }
            }
            Ok(exit::OK)
        }
        PluginCommand::Inspect { plugin, json } => {
            let p = builtin::resolve(runtime, &plugin, &LoadOptions::default()).await?;
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
    }
}
