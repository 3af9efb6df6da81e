//! `ferry plugin list`: the built-in plugins.

use ferry_runtime::{LoadOptions, Runtime};

use super::describe;
use crate::cli::{Exit, exit};

pub async fn run(runtime: &Runtime, json: bool) -> Result<u8, Exit> {
    let mut rows = Vec::new();
    let builtins = *runtime.builtins();
    for name in builtins.names() {
        rows.push(runtime.load_builtin(name, &LoadOptions::default()).await?);
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
        for name in builtins.left_out() {
            eprintln!("{name}: not in this build (build ferry with `--features {name}`)");
        }
    }
    Ok(exit::OK)
}
