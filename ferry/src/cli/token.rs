//! `ferry token create|list|revoke`: API tokens of the local registry.

use clap::Subcommand;
use ferry_registry::Role;
use ferry_runtime::Runtime;

use super::{Exit, RegistryArgs, exit};

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is shown once and stored only as a hash.
    Create {
        /// A name for who uses it (e.g. alice, ci).
        name: String,
        /// reader, publisher, deployer or admin.
        #[arg(long, default_value = "reader")]
        role: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List tokens (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Revoke a token by its id.
    Revoke {
        /// The token's id (as `list` shows it).
        id: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

pub async fn run(runtime: &Runtime, cmd: TokenCommand) -> Result<u8, Exit> {
    let actor = super::local_actor();
    match cmd {
        TokenCommand::Create {
            name,
            role,
            registry,
        } => {
            let role = Role::parse(&role)?;
            let r = registry.open(runtime).await?;
            let (token, info) = r.create_token(&name, role).await?;
            r.audit(
                &actor,
                "token.create",
                &format!("token:{}", info.id),
                "ok",
                "cli",
                &format!("{name} as {}", role.name()),
            )
            .await?;
            eprintln!(
                "created token {} for {name} ({}); it is shown only now:",
                info.id,
                role.name()
            );
            println!("{token}");
        }
        TokenCommand::List { json, registry } => {
            let tokens = registry.open(runtime).await?.tokens().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                for t in tokens {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!("{:<18} {:<16} {:<10} {state}", t.id, t.name, t.role.name());
                }
            }
        }
        TokenCommand::Revoke { id, registry } => {
            let r = registry.open(runtime).await?;
            let result = r.revoke_token(&id).await;
            let (outcome, detail) = match &result {
                Ok(()) => ("ok", String::new()),
                Err(e) => ("failed", e.to_string()),
            };
            r.audit(
                &actor,
                "token.revoke",
                &format!("token:{id}"),
                outcome,
                "cli",
                &detail,
            )
            .await?;
            result?;
            println!("revoked token {id}");
        }
    }
    Ok(exit::OK)
}
