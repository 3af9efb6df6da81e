//! `ferry deploy target`: runs a deployer plugin for the deployment's primary version and records
//! what it reports.

use std::path::PathBuf;

use ferry_host::deploy::target::{deployment_for, status_json};
use ferry_host::runtime::{DeployerInstance, Runtime};
use ferry_pipeline::store::{Store, audit_local};

use super::print_json;
use crate::cli::{Exit, RegistryArgs, SandboxArgs, exit, local_actor, read_config};

/// Arguments of `ferry deploy target`.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// The deployment.
    pub name: String,
    /// The deployer plugin: a built-in name (e.g. directory) or a `.wasm` file.
    #[arg(long)]
    pub plugin: String,
    /// The target's settings (JSON, or TOML by extension).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Only show what apply would change.
    #[arg(long, conflicts_with_all = ["status", "rollback"])]
    pub plan: bool,
    /// Read what is live on the target.
    #[arg(long, conflicts_with = "rollback")]
    pub status: bool,
    /// Return the target to its previous version.
    #[arg(long)]
    pub rollback: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Runs `ferry deploy target`.
pub async fn run(runtime: &Runtime, args: TargetArgs) -> Result<u8, Exit> {
    let TargetArgs {
        name,
        plugin,
        config,
        plan,
        status,
        rollback,
        json,
        sandbox,
        registry,
    } = args;
    let store = registry.store(runtime).await?;
    let settings = read_config(config.as_ref())?;
    let deployer = crate::cli::load_plugin(runtime, &plugin, &sandbox).await?;
    let mut instance = DeployerInstance::new(&deployer).await?;
    let (action, reported) = if status {
        ("status", instance.status(&name, &settings).await?)
    } else if rollback {
        ("rollback", instance.rollback(&name, &settings).await?)
    } else {
        let spec = store.deployment_spec(&name).await?;
        let target = deployment_for(&store, &name, &spec, &settings, &sandbox.policy()?).await?;
        let planned = instance.plan(&target).await?;
        if !json || plan {
            let shown = serde_json::json!({"plan": planned.actions});
            if json {
                print_json(&shown);
            } else {
                println!(
                    "{} would deploy {}@{} to {name}:",
                    deployer.name(),
                    target.model_name,
                    target.model_version
                );
                for a in &planned.actions {
                    println!("  {a}");
                }
            }
        }
        if plan {
            return Ok(exit::OK);
        }
        ("apply", instance.apply(&target).await?)
    };
    let v = status_json(deployer.name(), deployer.digest(), action, &reported);
    match &store {
        Store::Local(r) => {
            r.record_deployment_target(&name, deployer.name(), &v.to_string(), &local_actor())
                .await?;
            audit_local(
                r,
                "deployment.target",
                &format!("deployment:{name}"),
                &format!("{}: {action}", deployer.name()),
            )
            .await?;
        }
        Store::Remote(c) => {
            c.record_target(&name, deployer.name(), &v).await?;
        }
    }
    if json {
        print_json(&v);
    } else {
        println!(
            "{}: {action}: live {}, rollback to [{}]; {}",
            deployer.name(),
            reported.active_version.as_deref().unwrap_or("nothing"),
            reported.history.join(", "),
            reported.message
        );
    }
    Ok(exit::OK)
}
