//! `ferry audit`: the newest entries of the audit log.

use clap::Args;
use ferry_runtime::Runtime;

use super::{Exit, RegistryArgs, exit};

/// Arguments of `ferry audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// How many entries, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub async fn run(runtime: &Runtime, args: AuditArgs) -> Result<u8, Exit> {
    let limit = args.limit.clamp(1, 10_000);
    let log = match &args.registry.registry {
        Some(url) => {
            ferry_pipeline::client::RemoteRegistry::new(url, args.registry.token.clone())?
                .audit(limit)
                .await?
        }
        None => args.registry.open(runtime).await?.audit_log(limit).await?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&log)?);
        return Ok(exit::OK);
    }
    for e in log {
        let detail = if e.detail.is_empty() {
            String::new()
        } else {
            format!("  ({})", e.detail)
        };
        println!(
            "{:>6}  {}  {:<16} {:<14} {:<30} {:<7} {}{detail}",
            e.id, e.at, e.actor, e.action, e.object, e.outcome, e.request_id
        );
    }
    Ok(exit::OK)
}
