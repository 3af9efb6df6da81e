//! `ferry runs list|show|download|compare|delete|restore`: tracked runs, in the local registry
//! or on a remote Ferry. One module per subcommand.

mod compare;
mod delete;
mod download;
mod list;
mod restore;
mod show;

use clap::Subcommand;
use ferry_registry::{Run, RunView};
use ferry_runtime::Runtime;

use super::{Exit, RegistryArgs};

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
    List(list::ListArgs),
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

/// Runs a `ferry runs` subcommand.
pub async fn run(runtime: &Runtime, cmd: RunsCommand) -> Result<u8, Exit> {
    match cmd {
        RunsCommand::Delete { id, registry } => delete::run(runtime, id, registry).await,
        RunsCommand::Restore { id, registry } => restore::run(runtime, id, registry).await,
        RunsCommand::List(args) => list::run(runtime, args).await,
        RunsCommand::Show { id, json, registry } => show::run(runtime, id, json, registry).await,
        RunsCommand::Download {
            id,
            path,
            out,
            registry,
        } => download::run(runtime, id, path, out, registry).await,
        RunsCommand::Compare { ids, registry } => compare::run(runtime, ids, registry).await,
    }
}
