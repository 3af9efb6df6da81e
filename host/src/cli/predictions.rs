//! `ferry predictions`: the prediction log a server wrote, read back.

use std::path::PathBuf;

use arrow_array::{Array, BooleanArray, RecordBatch, TimestampMillisecondArray};
use clap::{Args, Subcommand};
use ferry_host::monitor::predlog::{ReadSegment, merge_segments};
use ferry_host::runtime::Runtime;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

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
            let (_, segments) = args.window.segments(&registry).await?;
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

/// A parsed [`Window`].
struct Selection {
    model: String,
    version: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
}

impl Window {
    /// The selection and the segments it covers.
    async fn segments(
        &self,
        registry: &ferry_registry::Registry,
    ) -> Result<(Selection, Vec<ferry_registry::PredictionSegment>), Exit> {
        let sel = self.parse()?;
        let segments = registry
            .prediction_segments(&sel.model, sel.version, sel.since, sel.until)
            .await?;
        Ok((sel, segments))
    }

    /// The model, version and time bounds (ms).
    fn parse(&self) -> anyhow::Result<Selection> {
        let (name, version) = match self.model.split_once('@') {
            Some((n, v)) => (
                n.to_string(),
                Some(v.parse::<i64>().map_err(|_| {
                    anyhow::anyhow!("{:?}: expected NAME or NAME@VERSION (a number)", self.model)
                })?),
            ),
            None => (self.model.clone(), None),
        };
        Ok(Selection {
            model: name,
            version,
            since: time("--since", self.since.as_deref())?,
            until: time("--until", self.until.as_deref())?,
        })
    }
}

fn time(flag: &str, value: Option<&str>) -> anyhow::Result<Option<i64>> {
    let Some(v) = value else { return Ok(None) };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    arrow_cast::parse::string_to_timestamp_nanos(v)
        .map(|ns| Some(ns.div_euclid(1_000_000)))
        .map_err(|e| {
            anyhow::anyhow!(
                "{flag} {v:?}: expected RFC 3339 (2026-11-30T10:00:00Z) or ms since the epoch: {e}"
            )
        })
}

async fn export(runtime: &Runtime, args: ExportArgs) -> Result<u8, Exit> {
    let registry = args.registry.open(runtime).await?;
    let (
        Selection {
            model,
            since,
            until,
            ..
        },
        segments,
    ) = args.window.segments(&registry).await?;
    let mut read_back = Vec::new();
    let mut skipped = 0;
    for s in &segments {
        let read = async {
            let bytes = registry
                .blobs()
                .get(&s.digest)
                .await
                .map_err(|e| e.to_string())?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
                .and_then(|b| b.build())
                .map_err(|e| e.to_string())?;
            reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
        }
        .await;
        match read {
            Ok(read) => {
                for b in read {
                    read_back.push(ReadSegment {
                        batch: window(&b, since, until)
                            .map_err(|e| anyhow::anyhow!("segment {}: {e}", s.digest))?,
                        model: model.clone(),
                        version: s.version,
                    });
                }
            }
            Err(e) if args.skip_corrupt => {
                skipped += 1;
                eprintln!(
                    "skipped segment {} ({model} version {}, {} rows, {}..{} ms): {e}",
                    s.digest, s.version, s.rows, s.first_at, s.last_at
                );
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "segment {} ({model} version {}, {} rows, {}..{} ms) cannot be read: {e}; pass --skip-corrupt to export the others",
                    s.digest, s.version, s.rows, s.first_at, s.last_at
                )
                .into());
            }
        }
    }
    if read_back.is_empty() {
        return Err(anyhow::anyhow!(
            "no logged predictions of {} in that window",
            args.window.model
        )
        .into());
    }
    let (schema, batches) =
        merge_segments(read_back).map_err(|e| anyhow::anyhow!("the log of {model}: {e}"))?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let out = &args.out;
    let file = std::fs::File::create(out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    match out.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            let mut w = arrow_csv::Writer::new(file);
            for b in &batches {
                w.write(b)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            }
        }
        _ => {
            let mut w = ArrowWriter::try_new(file, schema, None)
                .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            for b in &batches {
                w.write(b)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            }
            w.close()
                .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
        }
    }
    println!(
        "{rows} logged predictions from {} segment(s) into {}{}",
        segments.len() - skipped,
        out.display(),
        if skipped > 0 {
            format!(" ({skipped} skipped)")
        } else {
            String::new()
        }
    );
    Ok(exit::OK)
}

/// The rows of a segment's batch answered within `[since, until]`.
fn window(b: &RecordBatch, since: Option<i64>, until: Option<i64>) -> Result<RecordBatch, String> {
    if since.is_none() && until.is_none() {
        return Ok(b.clone());
    }
    let at = b
        .column_by_name("at")
        .and_then(|a| a.as_any().downcast_ref::<TimestampMillisecondArray>())
        .ok_or("it has no `at` timestamp column")?;
    let keep: BooleanArray = (0..at.len())
        .map(|i| {
            let t = at.value(i);
            Some(since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u))
        })
        .collect();
    arrow_select::filter::filter_record_batch(b, &keep).map_err(|e| e.to_string())
}
