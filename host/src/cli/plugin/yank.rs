//! `ferry plugin yank NAME@VERSION [--undo]`.

use ferry_host::runtime::Runtime;
use ferry_registry::{PluginSpec, Requirement};

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
    let registry = args.open(runtime).await?;
    let r = registry.set_yanked(&parsed.name, version, !undo).await?;
    println!(
        "{} {} is {}",
        r.name,
        r.version,
        if r.yanked {
            "yanked"
        } else {
            "no longer yanked"
        }
    );
    Ok(exit::OK)
}
