//! `ferry drift`: current data against a version's reference profile (or a reference file),
//! column by column with Evidently's default tests, as a table, JSON or an HTML page.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ferry_core::data::{Format, read_parquet, read_table};
use ferry_core::lineage::Lineage;
use ferry_core::stats::profile::ColumnProfile;
use ferry_core::stats::render;
use ferry_core::stats::{DriftOptions, Method, Profile, Role, compare};
use ferry_pipeline::drift::{FeaturesError, Reference, features_of, reference_of};
use ferry_runtime::Runtime;
use ferry_runtime::bindings::types::Batch;

use super::{Exit, LimitArgs, RegistryArgs, exit};
use ferry_core::stats::drift::Current;

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for the terminal.
    Table,
    /// The report as JSON.
    Json,
    /// A self-contained HTML page with one histogram per column.
    Html,
}

/// `ferry drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The current data (CSV, Parquet or JSON lines).
    pub current: PathBuf,
    /// The version whose training data is the reference (NAME@VERSION, NAME@ALIAS,
    /// NAME@latest).
    #[arg(
        long,
        required_unless_present = "reference",
        conflicts_with = "reference"
    )]
    pub model: Option<String>,
    /// A data file to use as the reference instead of a version's profile.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Also compare the model's features, computed from the current data by the version's
    /// pinned transforms and states.
    #[arg(long, requires = "model")]
    pub features: bool,
    /// How to write the report.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub format: Output,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// One test for every column: ks, chisquare, z, wasserstein, jensenshannon, psi, kl_div
    /// (default: Evidently's choice per column).
    #[arg(long)]
    pub method: Option<String>,
    /// A test for one column; repeat for more.
    #[arg(long = "column-method", value_name = "COLUMN=METHOD")]
    pub column_methods: Vec<String>,
    /// One threshold for every column (default: each test's own).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// A threshold for one column; repeat for more.
    #[arg(long = "column-threshold", value_name = "COLUMN=THRESHOLD")]
    pub column_thresholds: Vec<String>,
    /// The share of drifted columns at which the dataset drifts.
    #[arg(long, default_value_t = 0.5)]
    pub drift_share: f64,
    /// Only these columns (repeat or separate by commas).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// Exit with code 11 when the dataset drifts.
    #[arg(long)]
    pub fail_on_drift: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Limits for the version's transforms (with --features).
    #[command(flatten)]
    pub limits: LimitArgs,
    /// A trust policy the version's plugins must satisfy (with --features).
    #[arg(long)]
    pub trust: Option<PathBuf>,
}

impl DriftArgs {
    fn options(&self) -> anyhow::Result<DriftOptions> {
        let pair = |flag: &str, s: &str| -> anyhow::Result<(String, String)> {
            s.split_once('=')
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("{flag} {s:?}: expected COLUMN=VALUE"))
        };
        let mut options = DriftOptions {
            method: self
                .method
                .as_deref()
                .map(Method::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--method: {e}"))?,
            threshold: self.threshold,
            drift_share: Some(self.drift_share),
            columns: (!self.columns.is_empty()).then(|| self.columns.clone()),
            ..DriftOptions::default()
        };
        for s in &self.column_methods {
            let (c, m) = pair("--column-method", s)?;
            let m = Method::parse(&m).map_err(|e| anyhow::anyhow!("--column-method {s:?}: {e}"))?;
            options.column_methods.insert(c, m);
        }
        for s in &self.column_thresholds {
            let (c, t) = pair("--column-threshold", s)?;
            let t: f64 = t
                .parse()
                .map_err(|_| anyhow::anyhow!("--column-threshold {s:?}: {t:?} is not a number"))?;
            options.column_thresholds.insert(c, t);
        }
        Ok(options)
    }
}

pub async fn run(runtime: &Runtime, args: DriftArgs) -> Result<u8, Exit> {
    let options = args.options()?;
    let format = Format::of(&args.current, None)?;
    // Parquet is read as Arrow and reduced column by column without copying text values;
    // --features needs typed rows for the transforms.
    let arrow = if format == Format::Parquet && !args.features {
        Some(read_parquet(&args.current)?)
    } else {
        None
    };
    let current = match &arrow {
        Some(_) => Batch {
            num_rows: 0,
            columns: Vec::new(),
        },
        None => read_table(&args.current, format)?,
    };
    let (name, profile, features) = match (&args.model, &args.reference) {
        (_, Some(path)) => {
            let table = read_table(path, Format::of(path, None)?)?;
            let mut profile = Profile::new();
            profile.add(&table, Role::Input, &[]);
            (path.display().to_string(), profile, None)
        }
        (Some(model), None) => {
            let store = args.registry.store(runtime).await?;
            let Reference {
                name,
                profile,
                lineage,
            } = reference_of(&store, model).await?;
            let features = if args.features {
                Some(compute_features(runtime, &args, lineage, &current).await?)
            } else {
                None
            };
            (name, profile, features)
        }
        (None, None) => {
            return Err(anyhow::anyhow!("give --model NAME@VERSION or --reference FILE").into());
        }
    };
    let inputs: Vec<&ColumnProfile> = profile.of_role(Role::Input).collect();
    let feature_cols: Vec<&ColumnProfile> = profile.of_role(Role::Feature).collect();
    let first = match &arrow {
        Some(batches) => Current::Arrow(batches),
        None => Current::Batch(&current),
    };
    let mut parts: Vec<ferry_core::stats::drift::Part<'_>> = vec![(&inputs, first)];
    if let Some(f) = &features {
        if feature_cols.is_empty() {
            return Err(
                anyhow::anyhow!("{name}: its reference profile has no model features").into(),
            );
        }
        parts.push((&feature_cols, Current::Batch(f)));
    }
    let report = compare(&name, &parts, &options).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = match args.format {
        Output::Table => render::table(&report),
        Output::Json => serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)? + "\n",
        Output::Html => render::html(&report),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            eprintln!(
                "{} of {} columns drifted ({}); report in {}",
                report.drifted_columns,
                report.columns.len(),
                if report.dataset_drift {
                    "dataset drift"
                } else {
                    "no dataset drift"
                },
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(if args.fail_on_drift && report.dataset_drift {
        exit::DRIFT
    } else {
        exit::OK
    })
}

/// The model's features of the current data, computed by the version's pinned pipeline.
async fn compute_features(
    runtime: &Runtime,
    args: &DriftArgs,
    lineage: Lineage,
    current: &Batch,
) -> Result<Batch, Exit> {
    if current.num_rows == 0 {
        return Err(anyhow::anyhow!("{}: no rows", args.current.display()).into());
    }
    let store = args.registry.store(runtime).await?;
    let policy = super::plugin_policy(&args.limits, args.trust.as_deref())?;
    features_of(runtime, &store, lineage, &policy, current)
        .await
        .map_err(|e| match e {
            FeaturesError::Rows(e) => e.into(),
            FeaturesError::Pipeline(e) => e.into(),
        })
}
