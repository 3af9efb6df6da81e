//! `ferry alerts`: the alerts rules raised, and checking a rules file.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferry_ops::monitor::alerts::RulesFile;
use ferry_runtime::Runtime;

use super::{Exit, RegistryArgs, exit};

/// `ferry alerts` subcommands.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// The alerts, newest first, with their state and delivery.
    List(ListArgs),
    /// Check a rules file: conditions, severities, sinks and targets.
    Check {
        /// The rules file (TOML).
        file: PathBuf,
    },
}

/// `ferry alerts list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub async fn run(runtime: &Runtime, cmd: AlertsCommand) -> Result<u8, Exit> {
    match cmd {
        AlertsCommand::Check { file } => {
            let rules = RulesFile::read(&file).map_err(anyhow::Error::msg)?;
            println!(
                "{}: {} rule(s), {} sink(s)",
                file.display(),
                rules.rules.len(),
                rules.sinks.len()
            );
            Ok(exit::OK)
        }
        AlertsCommand::List(args) => {
            let registry = args.registry.open(runtime).await?;
            let alerts = registry.alerts(args.limit.clamp(1, 10_000)).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&alerts).map_err(anyhow::Error::from)?
                );
                return Ok(exit::OK);
            }
            println!(
                "{:<20}  {:<9}  {:<8}  {:>13}  {:<24}  TITLE",
                "RULE", "STATE", "SEVERITY", "FIRED (ms)", "DELIVERY"
            );
            for a in alerts {
                let delivery = match (a.pending.as_str(), a.attempts) {
                    ("", _) => "delivered".to_string(),
                    (p, 0) => format!("{p}: due"),
                    (p, n) => format!("{p}: {n} failed, retrying"),
                };
                println!(
                    "{:<20}  {:<9}  {:<8}  {:>13}  {:<24}  {}",
                    a.rule, a.state, a.severity, a.fired_at, delivery, a.title
                );
                if !a.last_error.is_empty() {
                    println!("{:<20}  last error: {}", "", a.last_error);
                }
            }
            Ok(exit::OK)
        }
    }
}
