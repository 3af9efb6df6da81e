//! `ferry transform fit` and `ferry transform apply`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferry_host::data::{CsvReader, merge_columns, write_csv};
use ferry_host::runtime::{Runtime, TransformInstance};
use sha2::{Digest, Sha256};

use super::{Exit, SandboxArgs, exit, read_config};

/// Rows per batch sent to a plugin.
const BATCH_ROWS: usize = 8192;

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

pub async fn run(runtime: &Runtime, cmd: TransformCommand) -> Result<u8, Exit> {
    match cmd {
        TransformCommand::Fit { common, state } => {
            let config = read_config(common.config.as_ref())?;
            let plugin = super::load_plugin(runtime, &common.plugin, &common.sandbox).await?;
            let mut reader = CsvReader::open(&common.data, BATCH_ROWS)?;
            let mut instance = TransformInstance::new(&plugin).await?;
            let analyzer = instance.new_analyzer(&config, reader.schema()).await?;
            while let Some(batch) = reader.next_batch()? {
                instance.update(analyzer, &batch).await?;
            }
            let learned = instance.finish(analyzer).await?;
            std::fs::write(&state, &learned)
                .map_err(|e| anyhow::anyhow!("{}: {e}", state.display()))?;
            println!(
                "{} {}: analysed {} rows; state {} ({} bytes, sha256:{})",
                plugin.name(),
                plugin.manifest().version,
                reader.rows_read(),
                state.display(),
                learned.len(),
                hex::encode(Sha256::digest(&learned))
            );
            Ok(exit::OK)
        }
        TransformCommand::Apply { common, state, out } => {
            let config = read_config(common.config.as_ref())?;
            let learned =
                std::fs::read(&state).map_err(|e| anyhow::anyhow!("{}: {e}", state.display()))?;
            let plugin = super::load_plugin(runtime, &common.plugin, &common.sandbox).await?;
            let mut reader = CsvReader::open(&common.data, BATCH_ROWS)?;
            let mut instance = TransformInstance::new(&plugin).await?;
            let transformer = instance.new_transformer(&config, &learned).await?;
            let mut batches = Vec::new();
            while let Some(mut batch) = reader.next_batch()? {
                let output = instance.apply(transformer, &batch).await?;
                merge_columns(&mut batch, output);
                batches.push(batch);
            }
            write_csv(&out, &batches)?;
            println!(
                "{} {}: transformed {} rows into {}",
                plugin.name(),
                plugin.manifest().version,
                reader.rows_read(),
                out.display()
            );
            Ok(exit::OK)
        }
    }
}
