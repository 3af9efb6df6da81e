//! `ferry edge`: check and serve an edge bundle (from the `edge-bundle` deployer) with no
//! registry, database or network. Every digest and the signature are checked against the
//! trust policy before anything runs; a bundle that differs is refused with exit code 9,
//! naming what differs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use ferry_bundle::{Bundle, Trust};
use ferry_core::ServingPipeline;
use ferry_core::batch::{Columns, score_file};
use ferry_core::lineage::Lineage;
use ferry_runtime::{LoadOptions, Runtime};
use serde_json::json;

use super::batch::{WorkersArgs, until_interrupted};
use super::{Exit, LimitArgs, PredictLimitArgs, exit};
use crate::serve::{EdgeService, serve_edge};

/// Whose bundles this device serves.
#[derive(Debug, Clone, Args)]
pub struct TrustArgs {
    /// A publisher key (`ed25519:…`, as `ferry key generate` prints and writes to PREFIX.pub)
    /// whose signature is accepted; repeat for several.
    #[arg(long = "trust-key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Serve a bundle that no trusted key signed (every digest is still checked).
    #[arg(long)]
    pub allow_unsigned: bool,
}

/// Edge subcommands.
#[derive(Debug, Subcommand)]
pub enum EdgeCommand {
    /// Check a bundle whole (every file's digest and size, the signature, the trust policy)
    /// and describe what it serves.
    Verify {
        /// The bundle (`.ferry`).
        bundle: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Predict the rows of a data file (CSV, Parquet or JSON lines) with the bundle's version;
    /// writes the kept columns and the predictions as CSV.
    Predict {
        /// The bundle (`.ferry`).
        bundle: PathBuf,
        /// The data.
        data: PathBuf,
        /// Where to write the predictions (CSV).
        #[arg(long)]
        out: PathBuf,
        /// Input columns to copy to the output first (e.g. an id); repeat or separate by commas.
        #[arg(long, value_delimiter = ',')]
        keep: Vec<String>,
        #[command(flatten)]
        trust: TrustArgs,
        /// Limits for the bundle's plugins.
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        workers: WorkersArgs,
    },
    /// Serve the bundle's version over HTTP: `POST /v1/predict` (the model endpoint's bodies
    /// and answers), `GET /v1/bundle`, `/v1/health` and `/v1/ready`.
    Run {
        /// The bundle (`.ferry`).
        bundle: PathBuf,
        /// Where to listen (port 0 picks a free one; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080", env = "FERRY_ADDR")]
        addr: SocketAddr,
        #[command(flatten)]
        trust: TrustArgs,
        /// Limits for the bundle's plugins.
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        predict: PredictLimitArgs,
    },
}

/// Opens, checks and loads a bundle's version.
async fn load(
    runtime: &Runtime,
    path: &Path,
    trust: &TrustArgs,
    limits: &LimitArgs,
    sets_per_version: Option<std::num::NonZeroUsize>,
) -> Result<(Bundle, ServingPipeline), Exit> {
    let bundle = open(path, trust)?;
    let lineage = lineage(&bundle)?;
    let load = LoadOptions {
        limits: limits.overrides(),
        ..Default::default()
    };
    let pipeline =
        ServingPipeline::load(runtime, &bundle, lineage, &load, sets_per_version).await?;
    Ok((bundle, pipeline))
}

/// Reads a bundle and holds it to `trust`; any difference is exit code 9.
pub fn open(path: &Path, trust: &TrustArgs) -> Result<Bundle, Exit> {
    let refused = |e: String| Exit {
        code: exit::LINEAGE_MISMATCH,
        error: Some(anyhow::anyhow!("{}: {e}", path.display())),
    };
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let bundle = ferry_bundle::read(&bytes).map_err(|e| refused(e.to_string()))?;
    bundle
        .check_trust(&Trust {
            keys: trust.keys.clone(),
            allow_unsigned: trust.allow_unsigned,
        })
        .map_err(|e| {
            refused(format!(
                "{e} (trust its publisher with --trust-key, or pass --allow-unsigned)"
            ))
        })?;
    Ok(bundle)
}

/// The lineage a bundle serves, checked against its manifest.
fn lineage(bundle: &Bundle) -> Result<Lineage, Exit> {
    let skew = |e: String| Exit {
        code: exit::LINEAGE_MISMATCH,
        error: Some(anyhow::anyhow!("the bundle's lineage.json: {e}")),
    };
    let text = bundle
        .file("lineage.json")
        .ok_or_else(|| skew("missing".into()))?;
    let lineage = Lineage::parse(&String::from_utf8_lossy(text)).map_err(skew)?;
    let pins: Vec<&str> = lineage
        .plugins()
        .into_iter()
        .map(|p| p.digest.as_str())
        .collect();
    let listed: Vec<&str> = bundle
        .manifest
        .plugins
        .iter()
        .map(|p| p.digest.as_str())
        .collect();
    if pins != listed {
        return Err(skew(format!(
            "it pins the plugins {pins:?}, the manifest lists {listed:?}"
        )));
    }
    Ok(lineage)
}

/// Runs an edge subcommand.
pub async fn run(runtime: &Runtime, cmd: EdgeCommand) -> Result<u8, Exit> {
    match cmd {
        EdgeCommand::Verify {
            bundle: path,
            trust,
            json,
        } => {
            let bundle = open(&path, &trust)?;
            lineage(&bundle)?;
            let m = &bundle.manifest;
            if json {
                println!(
                    "{}",
                    json!({
                        "deployment": m.deployment,
                        "model": m.model.name,
                        "version": m.model.version,
                        "manifest_digest": bundle.manifest_digest,
                        "signed_by": bundle.signature.as_ref().map(|s| &s.key),
                        "plugins": m.plugins,
                        "files": m.files,
                        "input_schema": m.input_schema,
                    })
                );
            } else {
                println!(
                    "{}: {} version {} for deployment {}, {} files, {}",
                    path.display(),
                    m.model.name,
                    m.model.version,
                    m.deployment,
                    m.files.len(),
                    match &bundle.signature {
                        Some(s) => format!("signed by {}", s.key),
                        None => "unsigned".to_string(),
                    }
                );
            }
            Ok(exit::OK)
        }
        EdgeCommand::Predict {
            bundle: path,
            data,
            out,
            keep,
            trust,
            limits,
            workers,
        } => {
            let workers = workers.get();
            let sets = workers.max(ferry_core::batch::default_sets());
            let (bundle, pipeline) = load(runtime, &path, &trust, &limits, Some(sets)).await?;
            let scoring = score_file(
                Arc::new(pipeline),
                &data,
                &out,
                &keep,
                Columns::Predictions,
                workers,
            );
            let n = until_interrupted(&out, scoring).await?;
            eprintln!(
                "{} version {}: {n} rows into {}",
                bundle.manifest.model.name,
                bundle.manifest.model.version,
                out.display()
            );
            Ok(exit::OK)
        }
        EdgeCommand::Run {
            bundle: path,
            addr,
            trust,
            limits,
            predict,
        } => {
            let sets = predict.sets_per_version();
            let predict = predict.limits()?;
            let (bundle, pipeline) = load(runtime, &path, &trust, &limits, sets).await?;
            let m = &bundle.manifest;
            let service = EdgeService {
                model: m.model.name.clone(),
                version: m.model.version.clone(),
                bundle: json!({
                    "deployment": m.deployment,
                    "model": m.model.name,
                    "version": m.model.version,
                    "manifest_digest": bundle.manifest_digest,
                    "signed_by": bundle.signature.as_ref().map(|s| &s.key),
                    "input_schema": m.input_schema,
                }),
                pipeline: std::sync::Arc::new(pipeline),
                limits: predict,
                compute: runtime.compute().clone(),
            };
            serve_edge(service, addr).await?;
            Ok(exit::OK)
        }
    }
}
