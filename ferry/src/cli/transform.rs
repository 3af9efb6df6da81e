//! `ferry transform fit` and `ferry transform apply`, and a version's or a run's pipeline in
//! batch.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use ferry_core::data::{CsvReader, CsvSink, merge_columns};
use ferry_core::steps::{BATCH_ROWS, TransformStep};
use ferry_pipeline::pinned::{LineageOf, load_serving, stored_lineage};
use ferry_runtime::Runtime;
use sha2::{Digest, Sha256};

use super::{Exit, LimitArgs, RegistryArgs, SandboxArgs, exit, read_config};
use ferry_core::batch::{Columns, default_sets, score_file};
use ferry_edge::cli::batch::{WorkersArgs, until_interrupted};

/// `ferry transform`: a single transform's two phases, or a registered version's whole
/// pipeline in batch (`--model`).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TransformArgs {
    #[command(subcommand)]
    pub command: Option<TransformCommand>,
    /// Compute the features of a registered version (NAME@VERSION, NAME@ALIAS, NAME@latest)
    /// with exactly the plugins and states it pins.
    #[arg(long, requires = "out", conflicts_with = "run")]
    pub model: Option<String>,
    /// Compute the features of a training run's pipeline (e.g. `ferry train` of a pipeline
    /// without a model), to train a model elsewhere on exactly what serving will compute.
    #[arg(long, requires = "out")]
    pub run: Option<String>,
    /// The data (CSV, Parquet or JSON lines).
    pub data: Option<PathBuf>,
    /// Where to write the features (CSV).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Add the model's predictions after the features.
    #[arg(long)]
    pub predictions: bool,
    /// Input columns to copy to the output first (e.g. an id); repeat or separate by commas.
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Limits for the version's plugins.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// A trust policy the version's plugins must satisfy (default: ./ferry-trust.toml, if
    /// present).
    #[arg(long)]
    pub trust: Option<PathBuf>,
    #[command(flatten)]
    pub workers: WorkersArgs,
}

/// Transform subcommands.
#[derive(Debug, Subcommand)]
pub enum TransformCommand {
    /// Analyse data and write the transform's learned state.
    Fit {
        #[command(flatten)]
        common: Common,
        /// Where to write the learned state.
        #[arg(long)]
        state: PathBuf,
    },
    /// Apply a learned state to data and write the result as CSV.
    Apply {
        #[command(flatten)]
        common: Common,
        /// The state `fit` wrote.
        #[arg(long)]
        state: PathBuf,
        /// Where to write the transformed data.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Arguments shared by both phases.
#[derive(Debug, Args)]
pub struct Common {
    /// A built-in transform's name or a `.wasm` file.
    #[arg(long)]
    pub plugin: String,
    /// The transform's configuration (JSON, or TOML with a `.toml` extension).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The data (CSV with a header row).
    pub data: PathBuf,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

pub async fn run(runtime: &Runtime, args: TransformArgs) -> Result<u8, Exit> {
    match args.command {
        Some(cmd) => run_step(runtime, cmd).await,
        None => run_model(runtime, args).await,
    }
}

async fn run_model(runtime: &Runtime, args: TransformArgs) -> Result<u8, Exit> {
    let (Some(data), Some(out)) = (&args.data, &args.out) else {
        return Err(anyhow::anyhow!(
            "give a subcommand (fit, apply), --model NAME@VERSION DATA --out FILE or --run RUN DATA --out FILE"
        )
        .into());
    };
    let of = match (&args.model, &args.run) {
        (Some(model), _) => LineageOf::Model(model),
        (None, Some(run)) => LineageOf::Run(run),
        (None, None) => {
            return Err(anyhow::anyhow!("give --model NAME@VERSION or --run RUN").into());
        }
    };
    let store = args.registry.store(runtime).await?;
    let (what, lineage) = stored_lineage(&store, of).await?;
    let workers = args.workers.get();
    let mut policy = super::plugin_policy(&args.limits, args.trust.as_deref())?;
    policy
        .sets_per_version
        .get_or_insert(workers.max(default_sets()));
    let pipeline = load_serving(runtime, &store, lineage, &policy).await?;
    let columns = match (args.predictions, pipeline.lineage().model.is_some()) {
        (true, _) => Columns::FeaturesAndPredictions,
        (false, true) => Columns::ModelFeatures,
        (false, false) => Columns::Features,
    };
    let scoring = score_file(Arc::new(pipeline), data, out, &args.keep, columns, workers);
    let n = until_interrupted(out, scoring).await?;
    println!("{what}: {n} rows into {}", out.display());
    Ok(exit::OK)
}

async fn run_step(runtime: &Runtime, cmd: TransformCommand) -> Result<u8, Exit> {
    let (common, state_path) = match &cmd {
        TransformCommand::Fit { common, state } | TransformCommand::Apply { common, state, .. } => {
            (common, state)
        }
    };
    let step = TransformStep {
        plugin: super::load_plugin(runtime, &common.plugin, &common.sandbox).await?,
        config: read_config(common.config.as_ref())?,
        reads: None,
    };
    let about = format!("{} {}", step.plugin.name(), step.plugin.manifest().version);
    let mut reader = CsvReader::open(&common.data, BATCH_ROWS)?;
    match &cmd {
        TransformCommand::Fit { .. } => {
            let mut analysis = step.start(reader.schema()).await?;
            while let Some(batch) = reader.next_batch()? {
                analysis.update(&batch).await?;
            }
            let learned = analysis.finish().await?;
            std::fs::write(state_path, &learned)
                .map_err(|e| anyhow::anyhow!("{}: {e}", state_path.display()))?;
            println!(
                "{about}: analysed {} rows; state {} ({} bytes, sha256:{})",
                reader.rows_read(),
                state_path.display(),
                learned.len(),
                hex::encode(Sha256::digest(&learned))
            );
        }
        TransformCommand::Apply { out, .. } => {
            let state = std::fs::read(state_path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", state_path.display()))?;
            let learned = step.learned(state);
            let mut sink = CsvSink::create(out)?;
            while let Some(mut batch) = reader.next_batch()? {
                let output = learned
                    .prepare()
                    .await?
                    .apply(&learned.step, &batch)
                    .await?;
                merge_columns(&mut batch, output);
                sink.write(&batch)?;
            }
            sink.finish()?;
            println!(
                "{about}: transformed {} rows into {}",
                reader.rows_read(),
                out.display()
            );
        }
    }
    Ok(exit::OK)
}
