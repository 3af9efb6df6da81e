//! `ferry runs list|show|download|compare|delete|restore`: tracked runs, in the local registry
//! or on a remote Ferry.

use clap::Subcommand;
use ferry_host::runtime::Runtime;
use ferry_host::store::Store;
use ferry_registry::{Run, RunView};

use super::{Exit, RegistryArgs, exit};

/// Which runs `ferry runs list` shows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum View {
    /// Runs not deleted.
    Active,
    /// Deleted runs.
    Deleted,
    /// Both.
    All,
}

impl From<View> for RunView {
    fn from(v: View) -> Self {
        match v {
            View::Active => RunView::ActiveOnly,
            View::Deleted => RunView::DeletedOnly,
            View::All => RunView::All,
        }
    }
}

/// Run subcommands.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List {
        /// The experiment, by name or id (default: every experiment).
        #[arg(long)]
        experiment: Option<String>,
        /// Only runs matching a filter, e.g. "metrics.roc_auc >= 0.8 and params.model.l2 = '1'".
        #[arg(long)]
        filter: Option<String>,
        /// Order by a field, e.g. "metrics.roc_auc DESC" (repeat for ties; default: newest first).
        #[arg(long = "order-by")]
        order_by: Vec<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 1000)]
        max: usize,
        /// Which runs: active (default), deleted or all.
        #[arg(long, value_enum, default_value_t = View::Active)]
        view: View,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show one run: parameters, latest metrics, tags.
    Show {
        /// The run's id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Write one of a run's files (e.g. model/model.bin, lineage.json) to disk.
    Download {
        /// The run's id.
        id: String,
        /// The file's path in the run.
        path: String,
        /// Where to write it.
        #[arg(long)]
        out: std::path::PathBuf,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Delete a run: lists and searches no longer show it and nothing more is logged to it;
    /// it stays stored (versions it produced keep their lineage) until restored.
    Delete {
        /// The run's id.
        id: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Restore a deleted run.
    Restore {
        /// The run's id.
        id: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Compare runs side by side: every parameter and metric, one column per run.
    Compare {
        /// Two or more run ids.
        #[arg(required = true, num_args = 2..)]
        ids: Vec<String>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

fn metric_text(run: &Run, key: &str) -> String {
    run.metrics
        .iter()
        .find(|m| m.key == key)
        .map(|m| format!("{:.6}", m.value))
        .unwrap_or_else(|| "-".into())
}

/// Records a local change in the audit log (a remote Ferry audits its own changes).
async fn audit(store: &Store, action: &str, run: &str) -> Result<(), Exit> {
    if let Store::Local(r) = store {
        r.audit(
            &super::local_actor(),
            action,
            &format!("run:{run}"),
            "ok",
            "",
            "",
        )
        .await?;
    }
    Ok(())
}

pub async fn run(runtime: &Runtime, cmd: RunsCommand) -> Result<u8, Exit> {
    match cmd {
        RunsCommand::Delete { id, registry } => {
            let r = registry.store(runtime).await?;
            r.set_run_deleted(&id, true).await?;
            audit(&r, "run.delete", &id).await?;
            println!("deleted run {id} (ferry runs restore {id} brings it back)");
        }
        RunsCommand::Restore { id, registry } => {
            let r = registry.store(runtime).await?;
            r.set_run_deleted(&id, false).await?;
            audit(&r, "run.restore", &id).await?;
            println!("restored run {id}");
        }
        RunsCommand::List {
            experiment,
            filter,
            order_by,
            max,
            view,
            json,
            registry,
        } => {
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
        }
        RunsCommand::Show { id, json, registry } => {
            let r = registry.store(runtime).await?;
            let run = r.run(&id).await?;
            let artifacts = r.artifacts(&id).await?;
            if json {
                let mut value = serde_json::to_value(&run)?;
                value["artifacts"] = serde_json::to_value(&artifacts)?;
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(exit::OK);
            }
            let i = &run.info;
            println!(
                "run {} ({}) in experiment {}: {} by {}",
                i.id,
                i.name,
                i.experiment_id,
                i.status.name(),
                i.user_id
            );
            println!(
                "started {} ended {}",
                i.start_time,
                i.end_time
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "-".into())
            );
            println!("artifacts: {}", i.artifact_uri);
            for (k, v) in &run.params {
                println!("param  {k} = {v}");
            }
            for m in &run.metrics {
                println!("metric {} = {} (step {})", m.key, m.value, m.step);
            }
            for (k, v) in &run.tags {
                println!("tag    {k} = {v}");
            }
            for a in &artifacts {
                println!("file   {} ({} bytes, {})", a.path, a.size, a.digest);
            }
        }
        RunsCommand::Download {
            id,
            path,
            out,
            registry,
        } => {
            let bytes = registry
                .store(runtime)
                .await?
                .read_artifact(&id, &path)
                .await?;
            std::fs::write(&out, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            println!("{} bytes into {}", bytes.len(), out.display());
        }
        RunsCommand::Compare { ids, registry } => {
            let r = registry.store(runtime).await?;
            let mut runs = Vec::new();
            for id in &ids {
                runs.push(r.run(id).await?);
            }
            let mut params: Vec<&String> = runs
                .iter()
                .flat_map(|x| x.params.iter().map(|p| &p.0))
                .collect();
            params.sort();
            params.dedup();
            let mut metrics: Vec<&String> = runs
                .iter()
                .flat_map(|x| x.metrics.iter().map(|m| &m.key))
                .collect();
            metrics.sort();
            metrics.dedup();
            print!("{:<24}", "");
            for x in &runs {
                print!(" {:>16}", &x.info.id[..x.info.id.len().min(12)]);
            }
            println!();
            for p in params {
                print!("{:<24}", format!("param {p}"));
                for x in &runs {
                    let v = x
                        .params
                        .iter()
                        .find(|q| &q.0 == p)
                        .map(|q| q.1.as_str())
                        .unwrap_or("-");
                    print!(" {v:>16}");
                }
                println!();
            }
            for m in metrics {
                print!("{:<24}", format!("metric {m}"));
                for x in &runs {
                    print!(" {:>16}", metric_text(x, m));
                }
                println!();
            }
        }
    }
    Ok(exit::OK)
}
