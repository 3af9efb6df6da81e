//! `ferry plugin yank NAME@VERSION [--undo]`.

use ferry_registry::{PluginSpec, Requirement};
use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

pub async fn run(
    runtime: &Runtime,
    args: &RegistryArgs,
    spec: &str,
    undo: bool,
) -> Result<u8, Exit> {
    let parsed = PluginSpec::parse(spec)?;
    let Requirement::Exact(version) = &parsed.requirement else {
        return Err(
            anyhow::anyhow!("yank needs an exact version, like {}@1.2.3", parsed.name).into(),
        );
    };
    let r = match &args.registry {
        Some(url) => {
            ferry_pipeline::client::RemoteRegistry::new(url, args.token.clone())?
                .yank(&parsed.name, &version.to_string(), !undo)
                .await?
        }
        None => {
            let registry = args.open(runtime).await?;
            let action = if undo { "plugin.unyank" } else { "plugin.yank" };
            let object = format!("plugin:{}@{version}", parsed.name);
            let result = registry.set_yanked(&parsed.name, version, !undo).await;
            let (outcome, detail) = match &result {
                Ok(_) => ("ok", String::new()),
                Err(e) => ("failed", e.to_string()),
            };
            registry
                .audit(
                    &crate::cli::local_actor(),
                    action,
                    &object,
                    outcome,
                    "cli",
                    &detail,
                )
                .await?;
            result?
        }
    };
    let state = if r.yanked {
        "yanked"
    } else {
        "no longer yanked"
    };
    println!("{} {} is {state}", r.name, r.version);
    Ok(exit::OK)
}
