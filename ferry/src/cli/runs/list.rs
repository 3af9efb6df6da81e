//! `ferry runs list`: lists runs, filtered and ordered as MLflow's search does.

use ferry_runtime::Runtime;

use super::View;
use crate::cli::{Exit, RegistryArgs, exit};

/// Arguments of `ferry runs list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The experiment, by name or id (default: every experiment).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Only runs matching a filter, e.g. "metrics.roc_auc >= 0.8 and params.model.l2 = '1'".
    #[arg(long)]
    pub filter: Option<String>,
    /// Order by a field, e.g. "metrics.roc_auc DESC" (repeat for ties; default: newest first).
    #[arg(long = "order-by")]
    pub order_by: Vec<String>,
    /// At most this many runs.
    #[arg(long, default_value_t = 1000)]
    pub max: usize,
    /// Which runs: active (default), deleted or all.
    #[arg(long, value_enum, default_value_t = View::Active)]
    pub view: View,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Runs `ferry runs list`.
pub async fn run(runtime: &Runtime, args: ListArgs) -> Result<u8, Exit> {
    let ListArgs {
        experiment,
        filter,
        order_by,
        max,
        view,
        json,
        registry,
    } = args;
    let r = registry.store(runtime).await?;
    let runs = r
        .search_runs(
            experiment.as_deref(),
            view.into(),
            filter.as_deref().unwrap_or(""),
            &order_by,
            max,
        )
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(exit::OK);
    }
    println!(
        "{:<32}  {:<10} {:<9} {:<20} METRICS",
        "RUN", "EXPERIMENT", "STATUS", "NAME"
    );
    for run in &runs {
        let metrics: Vec<String> = run
            .metrics
            .iter()
            .map(|m| format!("{}={:.4}", m.key, m.value))
            .collect();
        println!(
            "{:<32}  {:<10} {:<9} {:<20} {}",
            run.info.id,
            run.info.experiment_id,
            run.info.status.name(),
            run.info.name,
            metrics.join(" ")
        );
    }
    Ok(exit::OK)
}
