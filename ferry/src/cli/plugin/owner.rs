//! `ferry plugin owner NAME OWNER`: add an owner to a package.

use ferry_pipeline::client::RemoteRegistry;
use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

pub async fn run(
    runtime: &Runtime,
    args: &RegistryArgs,
    name: &str,
    owner: &str,
) -> Result<u8, Exit> {
    let owners = match &args.registry {
        Some(url) => {
            RemoteRegistry::new(url, args.token.clone())?
                .add_owner(name, owner)
                .await?
        }
        None => {
            let registry = args.open(runtime).await?;
            registry.versions(name).await?;
            registry.add_owner(name, owner).await?;
            registry
                .audit(
                    &crate::cli::local_actor(),
                    "package.owner.add",
                    &format!("package:{name}"),
                    "ok",
                    "cli",
                    &format!("added {owner}"),
                )
                .await?;
            registry.owners(name).await?
        }
    };
    println!("{name} is owned by {}", owners.join(", "));
    Ok(exit::OK)
}
