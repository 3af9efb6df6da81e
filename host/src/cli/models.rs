//! `ferry models`: the model registry (list, show, card, aliases, stages, tags, descriptions,
//! and registering a model trained elsewhere).

use std::path::PathBuf;

use clap::Subcommand;
use ferry_host::pipeline::card::model_card;
use ferry_host::pipeline::external::{ExternalModel, attach_pipeline, external_lineage};
use ferry_host::pipeline::lineage::Lineage;
use ferry_host::pipeline::register::register_version;
use ferry_host::runtime::Runtime;
use ferry_host::store::Store;
use ferry_registry::{ModelVersion, digest_of};

use super::{Exit, RegistryArgs, SandboxArgs, exit, local_actor, read_config};

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

/// Records a local change in the audit log (a remote Ferry audits its own changes).
async fn audit(store: &Store, action: &str, object: &str, detail: &str) -> Result<(), Exit> {
    if let Store::Local(r) = store {
        r.audit(&local_actor(), action, object, "ok", "", detail)
            .await?;
    }
    Ok(())
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

pub async fn run(runtime: &Runtime, cmd: ModelsCommand) -> Result<u8, Exit> {
    match cmd {
        ModelsCommand::List { json, registry } => {
            let r = registry.store(runtime).await?;
            let models = r.registered_models("").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&models)?);
                return Ok(exit::OK);
            }
            println!(
                "{:<24} {:<8} {:<24} DESCRIPTION",
                "MODEL", "LATEST", "ALIASES"
            );
            for m in &models {
                let latest = r
                    .registered_model(&m.name)
                    .await?
                    .1
                    .last()
                    .map(|v| v.version);
                let aliases: Vec<String> =
                    m.aliases.iter().map(|(a, v)| format!("{a}={v}")).collect();
                println!(
                    "{:<24} {:<8} {:<24} {}",
                    m.name,
                    latest.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                    aliases.join(","),
                    m.description
                );
            }
        }
        ModelsCommand::Show {
            model,
            json,
            registry,
        } => {
            let r = registry.store(runtime).await?;
            let (name, reference) = split_ref(&model);
            match reference {
                None => {
                    let (m, versions) = r.registered_model(name).await?;
                    if json {
                        let mut v = serde_json::to_value(&m)?;
                        v["versions"] = serde_json::to_value(&versions)?;
                        println!("{}", serde_json::to_string_pretty(&v)?);
                        return Ok(exit::OK);
                    }
                    println!("{} — {}", m.name, m.description);
                    for (k, v) in &m.tags {
                        println!("tag {k} = {v}");
                    }
                    println!(
                        "{:<5} {:<10} {:<20} {:<32} DESCRIPTION",
                        "VER", "STAGE", "ALIASES", "RUN"
                    );
                    for v in &versions {
                        print_version(v);
                    }
                }
                Some(reference) => {
                    let v = r.model_version(name, reference).await?;
                    if json {
                        let mut value = serde_json::to_value(&v)?;
                        if let Some(l) = &v.lineage {
                            value["lineage"] = serde_json::from_str(l)?;
                        }
                        println!("{}", serde_json::to_string_pretty(&value)?);
                        return Ok(exit::OK);
                    }
                    let lineage = v
                        .lineage
                        .as_deref()
                        .map(Lineage::parse)
                        .transpose()
                        .map_err(anyhow::Error::msg)?;
                    let (m, _) = r.registered_model(name).await?;
                    print!("{}", model_card(&m, &v, lineage.as_ref()));
                }
            }
        }
        ModelsCommand::Card {
            model,
            out,
            registry,
        } => {
            let r = registry.store(runtime).await?;
            let (name, reference) = split_ref(&model);
            let v = r.model_version(name, reference.unwrap_or("latest")).await?;
            let lineage = v
                .lineage
                .as_deref()
                .map(Lineage::parse)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let card = model_card(&r.registered_model(name).await?.0, &v, lineage.as_ref());
            match out {
                Some(path) => std::fs::write(&path, card)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                None => print!("{card}"),
            }
        }
        ModelsCommand::Alias {
            name,
            alias,
            version,
            delete,
            registry,
        } => {
            let r = registry.store(runtime).await?;
            if delete {
                r.delete_alias(&name, &alias).await?;
                audit(&r, "model.alias.delete", &format!("{name}@{alias}"), "").await?;
                println!("removed alias {alias} of {name}");
            } else {
                let version = version.ok_or_else(|| {
                    Exit::from(anyhow::anyhow!(
                        "give the version the alias points to, or --delete"
                    ))
                })?;
                r.set_alias(&name, &alias, version).await?;
                audit(
                    &r,
                    "model.alias.set",
                    &format!("{name}@{alias}"),
                    &format!("version {version}"),
                )
                .await?;
                println!("{name}@{alias} -> version {version}");
            }
        }
        ModelsCommand::Stage {
            name,
            version,
            stage,
            archive_existing,
            registry,
        } => {
            let r = registry.store(runtime).await?;
            let v = r
                .transition_stage(&name, version, &stage, archive_existing)
                .await?;
            audit(&r, "model.stage", &format!("{name}/{version}"), &v.stage).await?;
            println!("{name} version {version}: {}", v.stage);
        }
        ModelsCommand::Tag {
            model,
            key,
            value,
            registry,
        } => {
            let r = registry.store(runtime).await?;
            let tags = [(key.as_str(), value.as_str())];
            match split_ref(&model) {
                (name, None) => r.describe_model(name, None, &tags).await?,
                (name, Some(v)) => {
                    r.describe_version(name, version_number(v)?, None, &tags)
                        .await?
                }
            }
            audit(&r, "model.tag", &model, &key).await?;
        }
        ModelsCommand::Describe {
            model,
            text,
            registry,
        } => {
            let r = registry.store(runtime).await?;
            match split_ref(&model) {
                (name, None) => r.describe_model(name, Some(&text), &[]).await?,
                (name, Some(v)) => {
                    r.describe_version(name, version_number(v)?, Some(&text), &[])
                        .await?
                }
            }
            audit(&r, "model.describe", &model, "").await?;
        }
        ModelsCommand::Register(args) => {
            let RegisterArgs {
                name,
                run,
                artifact,
                plugin,
                features,
                load_config,
                description,
                alias,
                registry,
                sandbox,
            } = *args;
            let r = registry
                .local(
                    runtime,
                    "ferry models register",
                    "log the model with the MLflow client (or PUT it to the run's artifacts), register it, then attach the run's pipeline with `ferry models attach NAME@VERSION --run RUN --registry URL`",
                )
                .await?;
            let bytes = std::fs::read(&artifact)
                .map_err(|e| anyhow::anyhow!("{}: {e}", artifact.display()))?;
            let model = ExternalModel {
                run: run.clone(),
                plugin,
                features,
                load_config: read_config(load_config.as_ref())?,
            };
            let mut lineage = external_lineage(
                runtime,
                &r,
                &model,
                &bytes,
                &digest_of(&bytes),
                &sandbox.policy()?,
            )
            .await?;
            let stored = r
                .log_artifact(
                    &run,
                    &format!(
                        "models/{name}/{}",
                        artifact
                            .file_name()
                            .and_then(|f| f.to_str())
                            .unwrap_or("model.bin")
                    ),
                    &bytes,
                )
                .await?;
            if let Some(m) = lineage.model.as_mut() {
                m.artifact_digest = stored.digest;
            }
            let mv =
                register_version(&r, &name, "", &lineage, &local_actor(), &description).await?;
            if let Some(a) = &alias {
                r.set_model_alias(&name, a, mv.version).await?;
            }
            r.audit(
                &local_actor(),
                "model.register",
                &format!("{name}/{}", mv.version),
                "ok",
                "",
                &format!("run {run}, external artifact"),
            )
            .await?;
            println!("registered {name} version {} (run {run})", mv.version);
        }
        ModelsCommand::Attach(args) => {
            let AttachArgs {
                model,
                run,
                plugin,
                features,
                file,
                load_config,
                registry,
                sandbox,
            } = *args;
            let (name, reference) = split_ref(&model);
            let Some(reference) = reference else {
                return Err(anyhow::anyhow!("give the version as NAME@VERSION (or @ALIAS)").into());
            };
            let r = registry.store(runtime).await?;
            let version = r.model_version(name, reference).await?.version;
            let load_config = read_config(load_config.as_ref())?;
            let mv = match &r {
                Store::Local(local) => {
                    let external = ExternalModel {
                        run: run.clone(),
                        plugin,
                        features,
                        load_config,
                    };
                    let mv = attach_pipeline(
                        runtime,
                        local,
                        name,
                        version,
                        &external,
                        file.as_deref(),
                        &sandbox.policy()?,
                    )
                    .await?;
                    audit(
                        &r,
                        "model.attach",
                        &format!("{name}/{version}"),
                        &format!("run {run}"),
                    )
                    .await?;
                    mv
                }
                Store::Remote(c) => {
                    let body = serde_json::json!({
                        "run": run,
                        "plugin": plugin,
                        "features": features,
                        "file": file,
                        "load_config": load_config,
                    });
                    c.attach(name, version, &body).await?
                }
            };
            let model = Lineage::parse(mv.lineage.as_deref().unwrap_or_default())
                .ok()
                .and_then(|l| l.model);
            println!(
                "{name} version {version} now serves run {run}'s pipeline{}",
                model
                    .map(|m| format!(" with {} reading {}", m.plugin, m.features.join(", ")))
                    .unwrap_or_default()
            );
        }
    }
    Ok(exit::OK)
}
