//! The `ferry` command line: one module per subcommand.

mod alerts;
mod audit;
mod deploy;
mod drift;
mod key;
mod models;
mod plugin;
mod predictions;
#[cfg(test)]
mod reference;
mod runs;
mod serve;
mod token;
mod train;
mod transform;
mod validate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use ferry_pipeline::store::{Store, StoreError};
use ferry_runtime::{DirGrant, Grants, LoadOptions, Runtime, RuntimeOptions};

pub use ferry_edge::cli::{GlobalArgs, LimitArgs, PredictLimitArgs, exit, plugin_code};

/// An error with the exit code it should end the process with.
#[derive(Debug)]
pub struct Exit {
    /// The code.
    pub code: u8,
    /// The message, if any.
    pub error: Option<anyhow::Error>,
}

/// Ferry: an MLOps platform whose every extension point is a sandboxed WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "Ferry's runtime: the sandboxed Wasm plugin host, data handling and the ferry binary",
    long_about = None
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, inspect and check plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Check a data file with a validator plugin.
    Validate(validate::ValidateArgs),
    /// Learn a transform's state from data, or apply a learned state.
    Transform(Box<transform::TransformArgs>),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Read the audit log.
    Audit(audit::AuditArgs),
    /// Serve the registry and plugin marketplace over HTTP.
    Serve(serve::ServeArgs),
    /// Make keys for signing plugins.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// List, show and compare tracked runs.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Train a pipeline: validate, learn the transforms, train, evaluate, record, register.
    Train(train::TrainArgs),
    /// The model registry: versions, aliases, stages, tags, cards, external models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Compare current data with a version's training data: drift per column and overall.
    Drift(Box<drift::DriftArgs>),
    /// The alerts rules raised, and checking a rules file.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Read back the prediction log a server wrote.
    #[command(subcommand)]
    Predictions(predictions::PredictionsCommand),
    /// Named deployments: traffic splits, shadows, fallbacks, revisions and rollback.
    #[command(subcommand)]
    Deploy(Box<deploy::DeployCommand>),
    /// Check and serve an edge bundle with no registry, database or network.
    #[command(subcommand)]
    Edge(ferry_edge::cli::bundle::EdgeCommand),
}

/// Loads a plugin for a command: a built-in name or a `.wasm` file, with the operator's grants
/// and limits; a file is checked against the trust policy when there is one.
pub async fn load_plugin(
    runtime: &Runtime,
    reference: &str,
    sandbox: &SandboxArgs,
) -> Result<ferry_runtime::Plugin, Exit> {
    let plugin = runtime.resolve(reference, &sandbox.load_options()?).await?;
    if let Some(policy) = trust_policy(sandbox.trust.as_deref())?
        && !plugin.source().starts_with("builtin:")
    {
        ferry_kit::install::check_file(&plugin, std::path::Path::new(reference), &policy)?;
    }
    Ok(plugin)
}

/// The policy a stored pipeline's plugins are loaded under: the operator's limits and, when
/// there is one, the trust policy.
pub fn plugin_policy(
    limits: &LimitArgs,
    trust: Option<&std::path::Path>,
) -> anyhow::Result<ferry_pipeline::PluginPolicy> {
    Ok(ferry_pipeline::PluginPolicy {
        load: LoadOptions {
            limits: limits.overrides(),
            ..Default::default()
        },
        trust: trust_policy(trust)?.map(std::sync::Arc::new),
        sets_per_version: None,
    })
}

/// The trust policy in `path`, or in `./ferry-trust.toml` when no path is given and it exists.
pub fn trust_policy(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<ferry_registry::TrustPolicy>> {
    let default = PathBuf::from("ferry-trust.toml");
    let path = match path {
        Some(p) => p.to_path_buf(),
        None if default.exists() => default,
        None => return Ok(None),
    };
    Ok(Some(ferry_kit::install::read_trust_file(&path)?))
}

/// What the operator grants a plugin, and its limits.
#[derive(Debug, Clone, Default, Args)]
pub struct SandboxArgs {
    /// Grant a directory: GUEST=HOST, with `:ro` for read-only (e.g. /out=./deploy).
    #[arg(long = "allow-dir", value_name = "GUEST=HOST[:ro]")]
    pub dirs: Vec<String>,
    /// Allow HTTP requests to a host (`name` or `name:port`); repeat for more.
    #[arg(long = "allow-http", value_name = "HOST")]
    pub http: Vec<String>,
    /// Pass an environment variable (NAME, taking the value from this process, or NAME=VALUE).
    #[arg(long = "allow-env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// SMTP relays for alert sinks (`ferry serve --allow-smtp`; no other command runs sinks).
    #[arg(skip)]
    pub smtp: Vec<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// A trust policy the plugin must satisfy (default: ./ferry-trust.toml, if present); the
    /// signatures are read from the `.sigs.json` file `ferry plugin install` writes beside it.
    #[arg(long)]
    pub trust: Option<PathBuf>,
}

impl SandboxArgs {
    /// The load options these arguments describe.
    pub fn load_options(&self) -> anyhow::Result<LoadOptions> {
        let mut grants = Grants::default();
        for d in &self.dirs {
            let (guest, rest) = d
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--allow-dir {d:?}: expected GUEST=HOST[:ro]"))?;
            let (host, writable) = match rest.strip_suffix(":ro") {
                Some(h) => (h, false),
                None => (rest.strip_suffix(":rw").unwrap_or(rest), true),
            };
            if !guest.starts_with('/') {
                anyhow::bail!("--allow-dir {d:?}: the guest path must be absolute, like /out");
            }
            grants.dirs.push(DirGrant {
                guest_path: guest.to_string(),
                host_path: host.into(),
                writable,
            });
        }
        grants.http_hosts = self.http.clone();
        let password = std::env::var("FERRY_SMTP_PASSWORD").ok();
        for url in &self.smtp {
            grants.smtp.push(
                ferry_runtime::SmtpGrant::parse(url, password.as_deref())
                    .map_err(|e| anyhow::anyhow!("--allow-smtp {url:?}: {e}"))?,
            );
        }
        for e in &self.env {
            let (k, v) = match e.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (
                    e.clone(),
                    std::env::var(e).map_err(|_| {
                        anyhow::anyhow!("--allow-env {e}: not set in this environment")
                    })?,
                ),
            };
            grants.env.push((k, v));
        }
        Ok(LoadOptions {
            grants,
            limits: self.limits.overrides(),
        })
    }

    /// The grants, limits and trust policy for every plugin a pipeline loads.
    pub fn policy(&self) -> anyhow::Result<ferry_pipeline::PluginPolicy> {
        Ok(ferry_pipeline::PluginPolicy {
            load: self.load_options()?,
            trust: trust_policy(self.trust.as_deref())?.map(std::sync::Arc::new),
            sets_per_version: None,
        })
    }
}

/// Where the local registry lives.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// The data folder (default: the user's data folder, e.g. ~/.local/share/ferry).
    #[arg(long, env = "FERRY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The database (default: SQLite in the data folder), e.g. postgres://user@host/ferry.
    #[arg(long, env = "FERRY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Use a remote Ferry's registry instead of the local one, e.g. http://ferry.internal:8080.
    #[arg(long, env = "FERRY_REGISTRY")]
    pub registry: Option<String>,
    /// The API token for the remote registry.
    #[arg(long, env = "FERRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl RegistryArgs {
    /// The data folder to use.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        self.data_dir
            .clone()
            .or_else(|| dirs::data_dir().map(|d| d.join("ferry")))
            .ok_or_else(|| anyhow::anyhow!("no data folder: pass --data-dir or set FERRY_DATA_DIR"))
    }

    /// Opens the local registry, with the built-in plugins in it. With `--registry`, the
    /// command asked for a remote Ferry: refused, rather than done locally instead.
    pub async fn open(&self, runtime: &Runtime) -> Result<ferry_registry::Registry, Exit> {
        if let Some(url) = &self.registry {
            return Err(anyhow::anyhow!(
                "this command works on a local data folder, not against a remote Ferry ({url}); drop --registry (or unset FERRY_REGISTRY)"
            )
            .into());
        }
        let registry =
            ferry_registry::Registry::open(&self.data_dir()?, self.database_url.as_deref()).await?;
        ferry_kit::publish::seed_builtins(runtime, &registry).await?;
        Ok(registry)
    }

    /// The remote Ferry when `--registry` is given (nothing local is opened or created), the
    /// local registry otherwise.
    pub async fn store(&self, runtime: &Runtime) -> Result<Store, Exit> {
        match &self.registry {
            Some(url) => Ok(Store::Remote(ferry_pipeline::client::RemoteRegistry::new(
                url,
                self.token.clone(),
            )?)),
            None => Ok(Store::Local(self.open(runtime).await?)),
        }
    }

    /// The local registry, or a refusal saying `what` cannot work against a remote Ferry.
    pub async fn local(
        &self,
        runtime: &Runtime,
        what: &str,
        why: &str,
    ) -> Result<ferry_registry::Registry, Exit> {
        if let Some(url) = &self.registry {
            return Err(anyhow::anyhow!(
                "{what} cannot work against a remote Ferry ({url}): {why}"
            )
            .into());
        }
        self.open(runtime).await
    }
}

impl<E: Into<anyhow::Error>> From<E> for Exit {
    fn from(e: E) -> Self {
        let error: anyhow::Error = e.into();
        Exit {
            code: code_of(&error),
            error: Some(error),
        }
    }
}

/// The exit code an error ends the process with: the registry's, a remote Ferry's and
/// publishing's errors here, the rest as the edge's command line says.
fn code_of(error: &anyhow::Error) -> u8 {
    registry_code(error).unwrap_or_else(|| ferry_edge::cli::code_of(error))
}

/// The exit codes of the registry's, the remote Ferry's and publishing's errors.
fn registry_code(error: &anyhow::Error) -> Option<u8> {
    if let Some(ferry_kit::publish::PublishError::Refused(p)) =
        error.downcast_ref::<ferry_kit::publish::PublishError>()
    {
        Some(plugin_code(p))
    } else if let Some(ferry_kit::publish::PublishError::NotConforming { .. }) =
        error.downcast_ref::<ferry_kit::publish::PublishError>()
    {
        Some(exit::NOT_CONFORMING)
    } else if let Some(e) = error.downcast_ref::<ferry_ops::deploy::SpecError>() {
        use ferry_ops::deploy::SpecError;
        Some(match e {
            SpecError::Invalid(_) => exit::INVALID_DEFINITION,
            SpecError::Registry(ferry_registry::RegistryError::Conflict(_)) => exit::CONFLICT,
            SpecError::Registry(_) => exit::LOAD,
        })
    } else if let Some(p) = error.downcast_ref::<ferry_pipeline::PipelineError>() {
        use ferry_pipeline::PipelineError;
        Some(match p {
            PipelineError::Plugin(p) => plugin_code(p),
            PipelineError::Invalid(_) => exit::INVALID_DATA,
            PipelineError::Skew(_) => exit::LINEAGE_MISMATCH,
            PipelineError::Registry(ferry_registry::RegistryError::Conflict(_)) => exit::CONFLICT,
            PipelineError::Remote(c) => remote_code(c),
            _ => exit::LOAD,
        })
    } else if is_conflict(error) {
        Some(exit::CONFLICT)
    } else if let Some(c) = error.downcast_ref::<ferry_pipeline::client::ClientError>() {
        Some(remote_code(c))
    } else if let Some(StoreError::Remote(c)) = error.downcast_ref::<StoreError>() {
        Some(remote_code(c))
    } else if let Some(StoreError::Registry(ferry_registry::RegistryError::Conflict(_))) =
        error.downcast_ref::<StoreError>()
    {
        Some(exit::CONFLICT)
    } else {
        None
    }
}

/// The exit code of a remote Ferry's refusal.
fn remote_code(c: &ferry_pipeline::client::ClientError) -> u8 {
    if let ferry_pipeline::client::ClientError::Api { code, .. } = c {
        match code.as_str() {
            "invalid_deployment" => return exit::INVALID_DEFINITION,
            "not_conforming" => return exit::NOT_CONFORMING,
            _ => {}
        }
    }
    match c.status() {
        Some(401 | 403) => exit::NOT_ALLOWED,
        Some(409) => exit::CONFLICT,
        _ => exit::LOAD,
    }
}

fn is_conflict(error: &anyhow::Error) -> bool {
    use ferry_kit::publish::PublishError;
    use ferry_registry::RegistryError;
    matches!(
        error.downcast_ref::<RegistryError>(),
        Some(RegistryError::Conflict(_))
    ) || matches!(
        error.downcast_ref::<PublishError>(),
        Some(PublishError::Registry(RegistryError::Conflict(_)))
    )
}

pub use ferry_pipeline::store::local_actor;

/// Reads a configuration file (JSON, or TOML by extension) and returns it as JSON text.
pub fn read_config(path: Option<&PathBuf>) -> anyhow::Result<String> {
    match path {
        None => Ok("{}".into()),
        Some(path) => ferry_pipeline::config::read_config(path).map_err(anyhow::Error::msg),
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<u8, Exit> {
    let runtime = Runtime::new(RuntimeOptions {
        metrics: ferry_ops::monitor::metrics::METRICS.runtime.clone(),
        builtins: ferry_builtins::BUILTINS,
        ..cli.global.runtime_options()
    })?;
    match cli.command {
        Command::Plugin(cmd) => plugin::run(&runtime, cmd).await,
        Command::Validate(args) => validate::run(&runtime, args).await,
        Command::Transform(cmd) => transform::run(&runtime, *cmd).await,
        Command::Token(cmd) => token::run(&runtime, cmd).await,
        Command::Audit(args) => audit::run(&runtime, args).await,
        Command::Serve(args) => serve::run(&runtime, args).await,
        Command::Key(cmd) => key::run(cmd).await,
        Command::Runs(cmd) => runs::run(&runtime, cmd).await,
        Command::Train(args) => train::run(&runtime, args).await,
        Command::Models(cmd) => models::run(&runtime, cmd).await,
        Command::Deploy(cmd) => deploy::run(&runtime, *cmd).await,
        Command::Drift(args) => drift::run(&runtime, *args).await,
        Command::Predictions(cmd) => predictions::run(&runtime, cmd).await,
        Command::Alerts(cmd) => alerts::run(&runtime, cmd).await,
        Command::Edge(cmd) => ferry_edge::cli::bundle::run(&runtime, cmd)
            .await
            .map_err(|e| Exit {
                code: e.code,
                error: e.error,
            }),
    }
}
