//! `ferry predictions`: the prediction log a server wrote, read back.

use std::path::PathBuf;

use arrow_array::RecordBatch;
use clap::{Args, Subcommand};
use ferry_ops::monitor::export::{self, ExportError};
use ferry_runtime::Runtime;

use super::{Exit, RegistryArgs, exit};

/// `ferry predictions` subcommands.
#[derive(Debug, Subcommand)]
pub enum PredictionsCommand {
    /// Write a model's logged predictions (inputs, outputs, version, request id, time) to a
    /// Parquet or CSV file.
    Export(ExportArgs),
    /// List the segments of a model's prediction log.
    Segments(SegmentArgs),
}

/// Which part of the log.
#[derive(Debug, Args)]
pub struct Window {
    /// NAME (every version) or NAME@VERSION.
    pub model: String,
    /// Only requests answered at or after this time (RFC 3339, or ms since the epoch).
    #[arg(long)]
    pub since: Option<String>,
    /// Only requests answered at or before this time.
    #[arg(long)]
    pub until: Option<String>,
}

/// `ferry predictions export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub window: Window,
    /// The file to write: `.parquet` or `.csv`.
    #[arg(long)]
    pub out: PathBuf,
    /// Skip segments that cannot be read (each is named on standard error) instead of
    /// stopping at the first.
    #[arg(long)]
    pub skip_corrupt: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `ferry predictions segments`.
#[derive(Debug, Args)]
pub struct SegmentArgs {
    #[command(flatten)]
    pub window: Window,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub async fn run(runtime: &Runtime, cmd: PredictionsCommand) -> Result<u8, Exit> {
    match cmd {
        PredictionsCommand::Export(args) => export(runtime, args).await,
        PredictionsCommand::Segments(args) => {
            let registry = args.registry.open(runtime).await?;
            let segments = args.window.parse()?.segments(&registry).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&segments).map_err(anyhow::Error::from)?
                );
            } else {
                println!(
                    "{:<73}  {:>7}  {:>8}  {:>13}  {:>13}",
                    "SEGMENT", "VERSION", "ROWS", "FIRST (ms)", "LAST (ms)"
                );
                for s in &segments {
                    println!(
                        "{:<73}  {:>7}  {:>8}  {:>13}  {:>13}",
                        s.digest, s.version, s.rows, s.first_at, s.last_at
                    );
                }
            }
            Ok(exit::OK)
        }
    }
}

impl Window {
    /// The window as the log reads it.
    fn parse(&self) -> Result<export::Window, ExportError> {
        export::Window::parse(&self.model, self.since.as_deref(), self.until.as_deref())
    }
}

async fn export(runtime: &Runtime, args: ExportArgs) -> Result<u8, Exit> {
    let registry = args.registry.open(runtime).await?;
    let window = args.window.parse()?;
    let segments = window.segments(&registry).await?;
    let mut skipped = 0;
    let (schema, batches) = window
        .read(&registry, &segments, args.skip_corrupt, |s, why| {
            skipped += 1;
            eprintln!(
                "skipped segment {} ({} version {}, {} rows, {}..{} ms): {why}",
                s.digest, window.model, s.version, s.rows, s.first_at, s.last_at
            );
        })
        .await?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    export::write_table(&args.out, schema, &batches)?;
    println!(
        "{rows} logged predictions from {} segment(s) into {}{}",
        segments.len() - skipped,
        args.out.display(),
        if skipped > 0 {
            format!(" ({skipped} skipped)")
        } else {
            String::new()
        }
    );
    Ok(exit::OK)
}
