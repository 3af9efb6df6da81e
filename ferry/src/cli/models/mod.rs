//! `ferry models`: the model registry (list, show, card, aliases, stages, tags, descriptions,
//! and registering a model trained elsewhere), one module per subcommand.

mod alias;
mod attach;
mod card;
mod describe;
mod list;
mod register;
mod show;
mod stage;
mod tag;

use std::path::PathBuf;

use clap::Subcommand;
use ferry_pipeline::store::Store;
use ferry_registry::ModelVersion;
use ferry_runtime::Runtime;

use super::{Exit, RegistryArgs, SandboxArgs};

/// Model registry subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List registered models.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show a model's versions, or one version (NAME@VERSION, NAME@ALIAS) with its lineage.
    Show {
        /// NAME or NAME@REF.
        model: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Print a version's model card (Markdown).
    Card {
        /// NAME@REF (a version, an alias, a stage or `latest`).
        model: String,
        /// Write it to a file instead.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Point an alias at a version, or remove it.
    Alias {
        /// The registered model.
        name: String,
        /// The alias, e.g. champion.
        alias: String,
        /// The version (omit with --delete).
        version: Option<i64>,
        /// Remove the alias.
        #[arg(long)]
        delete: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Move a version to a stage (None, Staging, Production, Archived).
    Stage {
        /// The registered model.
        name: String,
        /// The version.
        version: i64,
        /// The stage.
        stage: String,
        /// Archive the versions now in that stage.
        #[arg(long)]
        archive_existing: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Set a tag on a model (NAME) or a version (NAME@VERSION).
    Tag {
        /// NAME or NAME@VERSION.
        model: String,
        /// The key.
        key: String,
        /// The value.
        value: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Set the description of a model (NAME) or a version (NAME@VERSION).
    Describe {
        /// NAME or NAME@VERSION.
        model: String,
        /// The description.
        text: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Register a model trained elsewhere, with the features of a Ferry run.
    Register(Box<RegisterArgs>),
    /// Give a version the MLflow client registered a Ferry pipeline, so Ferry serves it: the
    /// features of a run, then the model file from the version's artifacts.
    Attach(Box<AttachArgs>),
}

/// Arguments of `ferry models attach`.
#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// NAME@VERSION (or NAME@ALIAS) of a version without a lineage.
    model: String,
    /// The run whose transforms computed the features the model was trained on.
    #[arg(long)]
    run: String,
    /// The model adapter, from the registry (e.g. onnx, xgboost).
    #[arg(long)]
    plugin: String,
    /// The feature columns, in the order the model reads them (default: what the adapter
    /// describes).
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// The model file among the version's artifacts (default: the file its MLmodel names).
    #[arg(long)]
    file: Option<String>,
    /// The adapter's load configuration (JSON or TOML).
    #[arg(long)]
    load_config: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

/// Arguments of `ferry models register`.
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// The registered model.
    name: String,
    /// The run whose transforms computed the features it was trained on (`ferry train`
    /// with a pipeline without a model, or any training run).
    #[arg(long)]
    run: String,
    /// The model artifact (e.g. model.onnx, model.json).
    #[arg(long)]
    artifact: PathBuf,
    /// The model adapter, from the registry (e.g. onnx, xgboost, linear@0.1).
    #[arg(long)]
    plugin: String,
    /// The feature columns, in the order the model reads them (default: what the adapter
    /// describes).
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// The adapter's load configuration (JSON or TOML).
    #[arg(long)]
    load_config: Option<PathBuf>,
    /// What changed in this version.
    #[arg(long, default_value = "")]
    description: String,
    /// An alias to point at the new version.
    #[arg(long)]
    alias: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

fn split_ref(text: &str) -> (&str, Option<&str>) {
    match text.split_once('@') {
        Some((n, r)) => (n, Some(r)),
        None => (text, None),
    }
}

fn version_number(text: &str) -> Result<i64, Exit> {
    text.parse()
        .map_err(|_| Exit::from(anyhow::anyhow!("{text:?} is not a version number")))
}

/// The model card of version `v` of `name`, with its lineage.
async fn card_of(store: &Store, name: &str, v: &ModelVersion) -> Result<String, Exit> {
    let lineage = v
        .lineage
        .as_deref()
        .map(ferry_core::lineage::Lineage::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let (m, _) = store.registered_model(name).await?;
    Ok(ferry_pipeline::card::model_card(&m, v, lineage.as_ref()))
}

fn print_version(v: &ModelVersion) {
    println!(
        "{:<5} {:<10} {:<20} {:<32} {}",
        v.version,
        v.stage,
        v.aliases.join(","),
        v.run_id.as_deref().unwrap_or("-"),
        v.description
    );
}

/// Runs a `ferry models` subcommand.
pub async fn run(runtime: &Runtime, cmd: ModelsCommand) -> Result<u8, Exit> {
    match cmd {
        ModelsCommand::List { json, registry } => list::run(runtime, json, registry).await,
        ModelsCommand::Show {
            model,
            json,
            registry,
        } => show::run(runtime, model, json, registry).await,
        ModelsCommand::Card {
            model,
            out,
            registry,
        } => card::run(runtime, model, out, registry).await,
        ModelsCommand::Alias {
            name,
            alias,
            version,
            delete,
            registry,
        } => alias::run(runtime, name, alias, version, delete, registry).await,
        ModelsCommand::Stage {
            name,
            version,
            stage,
            archive_existing,
            registry,
        } => stage::run(runtime, name, version, stage, archive_existing, registry).await,
        ModelsCommand::Tag {
            model,
            key,
            value,
            registry,
        } => tag::run(runtime, model, key, value, registry).await,
        ModelsCommand::Describe {
            model,
            text,
            registry,
        } => describe::run(runtime, model, text, registry).await,
        ModelsCommand::Register(args) => register::run(runtime, *args).await,
        ModelsCommand::Attach(args) => attach::run(runtime, *args).await,
    }
}
