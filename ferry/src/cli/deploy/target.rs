//! `ferry deploy target`: runs a deployer plugin for the deployment's primary version and records
//! what it reports.

use std::path::PathBuf;

use ferry_ops::deploy::target::{Target, TargetAction};
use ferry_pipeline::PluginPolicy;
use ferry_runtime::bindings::types::Deployment;
use ferry_runtime::{DeployerInstance, Runtime};

use super::print_json;
use crate::cli::{Exit, RegistryArgs, SandboxArgs, exit, read_config};

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
    // Only a plan or an apply loads the version's pinned plugins.
    let policy = if status || rollback {
        PluginPolicy::default()
    } else {
        sandbox.policy()?
    };
    let show = |target: &Deployment, actions: &[String]| {
        if json {
            print_json(&serde_json::json!({ "plan": actions }));
        } else {
            println!(
                "{} would deploy {}@{} to {name}:",
                deployer.name(),
                target.model_name,
                target.model_version
            );
            for a in actions {
                println!("  {a}");
            }
        }
    };
    let target = Target {
        store: &store,
        name: &name,
        settings: &settings,
        policy: &policy,
    };
    if plan {
        let (target, actions) = target.plan(&mut instance).await?;
        show(&target, &actions);
        return Ok(exit::OK);
    }
    let action = if status {
        TargetAction::Status
    } else if rollback {
        TargetAction::Rollback
    } else {
        TargetAction::Apply
    };
    let done = target
        .run(&deployer, &mut instance, action, |target, actions| {
            if !json {
                show(target, actions)
            }
        })
        .await?;
    if json {
        print_json(&done.record);
    } else {
        println!(
            "{}: {}: live {}, rollback to [{}]; {}",
            deployer.name(),
            action.name(),
            done.reported.active_version.as_deref().unwrap_or("nothing"),
            done.reported.history.join(", "),
            done.reported.message
        );
    }
    Ok(exit::OK)
}
