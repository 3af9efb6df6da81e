//! The `ferry` command line: one module per subcommand.

#[cfg(feature = "registry")]
mod alerts;
#[cfg(feature = "registry")]
mod audit;
mod batch;
#[cfg(feature = "registry")]
mod deploy;
#[cfg(feature = "registry")]
mod drift;
mod edge;
#[cfg(feature = "registry")]
mod key;
#[cfg(feature = "registry")]
mod models;
#[cfg(feature = "registry")]
mod plugin;
#[cfg(feature = "registry")]
mod predictions;
#[cfg(all(test, feature = "registry"))]
mod reference;
#[cfg(feature = "registry")]
mod runs;
#[cfg(feature = "registry")]
mod serve;
#[cfg(feature = "registry")]
mod token;
#[cfg(feature = "registry")]
mod train;
#[cfg(feature = "registry")]
mod transform;
#[cfg(feature = "registry")]
mod validate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[cfg(feature = "registry")]
use ferry_host::runtime::{DirGrant, Grants, LoadOptions};
use ferry_host::runtime::{Failure, LimitOverrides, PluginError, Runtime, RuntimeOptions};
#[cfg(feature = "registry")]
use ferry_pipeline::store::{Store, StoreError};

/// Exit codes scripts can rely on.
#[cfg_attr(not(feature = "registry"), allow(dead_code))]
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The data failed validation.
    pub const INVALID_DATA: u8 = 1;
    // 2: the command line was wrong (clap's own code).
    /// A plugin could not be loaded, or a file could not be read.
    pub const LOAD: u8 = 3;
    /// A plugin reported an error about its configuration or the data.
    pub const PLUGIN_ERROR: u8 = 4;
    /// A plugin misbehaved: timed out, ran out of memory, trapped, or was refused access.
    pub const PLUGIN_FAILED: u8 = 5;
    /// The registry refused a change that conflicts with what it stores.
    pub const CONFLICT: u8 = 6;
    /// A remote registry refused the token (missing, unknown, or without the right).
    pub const NOT_ALLOWED: u8 = 7;
    /// Training finished but a gate failed, so no model version was registered.
    pub const GATE_FAILED: u8 = 8;
    /// What a lineage pins does not match what is stored (a plugin, state or artifact digest).
    pub const LINEAGE_MISMATCH: u8 = 9;
    /// A definition (a deployment) was refused: the message names the field and the problem.
    pub const INVALID_DEFINITION: u8 = 10;
    /// `ferry drift --fail-on-drift`: the dataset drifted.
    pub const DRIFT: u8 = 11;
    /// `ferry plugin test`: a conformance check failed.
    pub const NOT_CONFORMING: u8 = 12;
}

/// Ferry: an MLOps platform whose every extension point is a sandboxed WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, long_about = None)]
pub struct Cli {
    /// Folder for compiled plugins (default: the user's cache folder).
    #[arg(long, global = true, env = "FERRY_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile plugins every time instead of caching them.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// More logs (-v info, -vv debug); or set RUST_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// How logs are written to standard error: text, or one JSON object per line (with the
    /// request id of the request a line is about).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FERRY_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    #[cfg(feature = "registry")]
    /// List, inspect and check plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    #[cfg(feature = "registry")]
    /// Check a data file with a validator plugin.
    Validate(validate::ValidateArgs),
    #[cfg(feature = "registry")]
    /// Learn a transform's state from data, or apply a learned state.
    Transform(Box<transform::TransformArgs>),
    #[cfg(feature = "registry")]
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    #[cfg(feature = "registry")]
    /// Read the audit log.
    Audit(audit::AuditArgs),
    #[cfg(feature = "registry")]
    /// Serve the registry and plugin marketplace over HTTP.
    Serve(serve::ServeArgs),
    #[cfg(feature = "registry")]
    /// Make keys for signing plugins.
    #[command(subcommand)]
    Key(key::KeyCommand),
    #[cfg(feature = "registry")]
    /// List, show and compare tracked runs.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    #[cfg(feature = "registry")]
    /// Train a pipeline: validate, learn the transforms, train, evaluate, record, register.
    Train(train::TrainArgs),
    #[cfg(feature = "registry")]
    /// The model registry: versions, aliases, stages, tags, cards, external models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    #[cfg(feature = "registry")]
    /// Compare current data with a version's training data: drift per column and overall.
    Drift(Box<drift::DriftArgs>),
    #[cfg(feature = "registry")]
    /// The alerts rules raised, and checking a rules file.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    #[cfg(feature = "registry")]
    /// Read back the prediction log a server wrote.
    #[command(subcommand)]
    Predictions(predictions::PredictionsCommand),
    #[cfg(feature = "registry")]
    /// Named deployments: traffic splits, shadows, fallbacks, revisions and rollback.
    #[command(subcommand)]
    Deploy(Box<deploy::DeployCommand>),
    /// Check and serve an edge bundle with no registry, database or network.
    #[command(subcommand)]
    Edge(edge::EdgeCommand),
}

#[cfg(feature = "registry")]
/// Loads a plugin for a command: a built-in name or a `.wasm` file, with the operator's grants
/// and limits; a file is checked against the trust policy when there is one.
pub async fn load_plugin(
    runtime: &Runtime,
    reference: &str,
    sandbox: &SandboxArgs,
) -> Result<ferry_host::Plugin, Exit> {
    let plugin = ferry_builtins::resolve(runtime, reference, &sandbox.load_options()?).await?;
    if let Some(policy) = trust_policy(sandbox.trust.as_deref())?
        && !plugin.source().starts_with("builtin:")
    {
        let sigs_path = plugin::signatures_path(std::path::Path::new(reference));
        let signatures: Vec<ferry_registry::PluginSignature> = match std::fs::read(&sigs_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", sigs_path.display()))?,
            Err(_) => Vec::new(),
        };
        policy.check(plugin.name(), plugin.digest(), &signatures)?;
    }
    Ok(plugin)
}

#[cfg(feature = "registry")]
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
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let policy = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Some(policy))
}

#[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
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
                ferry_host::runtime::SmtpGrant::parse(url, password.as_deref())
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

/// What one prediction request may cost.
#[derive(Debug, Clone, Args)]
pub struct PredictLimitArgs {
    /// The largest prediction request body (MiB); larger ones get 413 before they are read.
    #[arg(long, default_value_t = 2)]
    pub max_body_mib: usize,
    /// The most rows in one prediction request.
    #[arg(long, default_value_t = 10_000)]
    pub max_rows: usize,
    /// Prediction requests in flight per deployment or model; more get 503 with Retry-After.
    #[arg(long, default_value_t = 32)]
    pub max_in_flight: usize,
    /// Instance sets one served version may hold at once, in use or built ahead; calls past
    /// it wait for one. Bounds a version's memory: a Python or JavaScript plugin's instance
    /// holds tens of MB.
    #[arg(long, default_value_t = ferry_core::DEFAULT_SETS_PER_VERSION)]
    pub max_instance_sets: usize,
}

impl PredictLimitArgs {
    /// The instance sets one served version may hold.
    pub fn sets_per_version(&self) -> Option<std::num::NonZeroUsize> {
        std::num::NonZeroUsize::new(self.max_instance_sets)
    }

    /// The limits, each at least 1.
    pub fn limits(&self) -> Result<ferry_host::server::PredictLimits, Exit> {
        if self.max_body_mib == 0
            || self.max_rows == 0
            || self.max_in_flight == 0
            || self.max_instance_sets == 0
        {
            return Err(anyhow::anyhow!(
                "--max-body-mib, --max-rows, --max-in-flight and --max-instance-sets must each be at least 1"
            )
            .into());
        }
        Ok(ferry_host::server::PredictLimits {
            max_body_bytes: self.max_body_mib.saturating_mul(1 << 20),
            max_rows: self.max_rows,
            max_in_flight: self.max_in_flight,
        })
    }
}

/// The operator's limits for every plugin a command runs.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// Memory cap per plugin instance, in MiB (default: the plugin's manifest, or 256).
    #[arg(long)]
    pub memory_mib: Option<u32>,
    /// Deadline per plugin call, in milliseconds (default: the plugin's manifest, or 10,000).
    #[arg(long)]
    pub timeout_ms: Option<u32>,
}

impl LimitArgs {
    /// The overrides these arguments describe.
    pub fn overrides(&self) -> LimitOverrides {
        LimitOverrides {
            memory_mib: self.memory_mib,
            timeout_ms: self.timeout_ms,
            max_output_rows: None,
        }
    }
}

#[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
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

/// An error with the exit code it should end the process with.
#[derive(Debug)]
pub struct Exit {
    /// The code.
    pub code: u8,
    /// The message, if any.
    pub error: Option<anyhow::Error>,
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

fn plugin_code(p: &PluginError) -> u8 {
    match &*p.failure {
        Failure::NotKind { .. } => exit::LOAD,
        f if f.is_misbehaviour() => exit::PLUGIN_FAILED,
        _ => exit::PLUGIN_ERROR,
    }
}

/// The exit code an error ends the process with.
fn code_of(error: &anyhow::Error) -> u8 {
    use ferry_core::{CoreError, ServeError};
    #[cfg(feature = "registry")]
    if let Some(code) = registry_code(error) {
        return code;
    }
    if let Some(p) = error.downcast_ref::<PluginError>() {
        plugin_code(p)
    } else if let Some(e) = error.downcast_ref::<ServeError>() {
        match e {
            ServeError::Plugin(p) => plugin_code(p),
            ServeError::Input(_) | ServeError::Rejected(_) => exit::INVALID_DATA,
            _ => exit::LOAD,
        }
    } else if let Some(p) = error.downcast_ref::<CoreError>() {
        match p {
            CoreError::Plugin(p) => plugin_code(p),
            CoreError::Invalid(_) => exit::INVALID_DATA,
            CoreError::Skew(_) => exit::LINEAGE_MISMATCH,
            _ => exit::LOAD,
        }
    } else if error.downcast_ref::<ferry_bundle::BundleError>().is_some() {
        exit::LINEAGE_MISMATCH
    } else {
        exit::LOAD
    }
}

/// The exit codes of the registry's, the remote Ferry's and publishing's errors.
#[cfg(feature = "registry")]
fn registry_code(error: &anyhow::Error) -> Option<u8> {
    if let Some(ferry_kit::publish::PublishError::Refused(p)) =
        error.downcast_ref::<ferry_kit::publish::PublishError>()
    {
        Some(plugin_code(p))
    } else if let Some(ferry_kit::publish::PublishError::NotConforming { .. }) =
        error.downcast_ref::<ferry_kit::publish::PublishError>()
    {
        Some(exit::NOT_CONFORMING)
    } else if let Some(e) = error.downcast_ref::<ferry_host::deploy::SpecError>() {
        use ferry_host::deploy::SpecError;
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

#[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
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

#[cfg(feature = "registry")]
pub use ferry_pipeline::store::local_actor;

#[cfg(feature = "registry")]
/// Reads a configuration file (JSON, or TOML by extension) and returns it as JSON text.
pub fn read_config(path: Option<&PathBuf>) -> anyhow::Result<String> {
    match path {
        None => Ok("{}".into()),
        Some(path) => ferry_pipeline::config::read_config(path).map_err(anyhow::Error::msg),
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<u8, Exit> {
    let cache_dir = if cli.no_cache {
        None
    } else {
        cli.cache_dir
            .clone()
            .or_else(|| RuntimeOptions::with_default_cache().cache_dir)
    };
    #[cfg_attr(not(feature = "registry"), allow(unused_mut))]
    let mut options = RuntimeOptions {
        cache_dir,
        ..Default::default()
    };
    #[cfg(feature = "registry")]
    {
        options.metrics = ferry_host::monitor::metrics::METRICS.runtime.clone();
    }
    let runtime = Runtime::new(options)?;
    match cli.command {
        #[cfg(feature = "registry")]
        Command::Plugin(cmd) => plugin::run(&runtime, cmd).await,
        #[cfg(feature = "registry")]
        Command::Validate(args) => validate::run(&runtime, args).await,
        #[cfg(feature = "registry")]
        Command::Transform(cmd) => transform::run(&runtime, *cmd).await,
        #[cfg(feature = "registry")]
        Command::Token(cmd) => token::run(&runtime, cmd).await,
        #[cfg(feature = "registry")]
        Command::Audit(args) => audit::run(&runtime, args).await,
        #[cfg(feature = "registry")]
        Command::Serve(args) => serve::run(&runtime, args).await,
        #[cfg(feature = "registry")]
        Command::Key(cmd) => key::run(cmd).await,
        #[cfg(feature = "registry")]
        Command::Runs(cmd) => runs::run(&runtime, cmd).await,
        #[cfg(feature = "registry")]
        Command::Train(args) => train::run(&runtime, args).await,
        #[cfg(feature = "registry")]
        Command::Models(cmd) => models::run(&runtime, cmd).await,
        #[cfg(feature = "registry")]
        Command::Deploy(cmd) => deploy::run(&runtime, *cmd).await,
        #[cfg(feature = "registry")]
        Command::Drift(args) => drift::run(&runtime, *args).await,
        #[cfg(feature = "registry")]
        Command::Predictions(cmd) => predictions::run(&runtime, cmd).await,
        #[cfg(feature = "registry")]
        Command::Alerts(cmd) => alerts::run(&runtime, cmd).await,
        Command::Edge(cmd) => edge::run(&runtime, cmd).await,
    }
}
