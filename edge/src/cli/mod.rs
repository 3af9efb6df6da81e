//! The command line the edge binary and the full `ferry` share: the exit codes, an error with
//! the code it ends the process with, the operator's limits, the log format, and the edge
//! subcommands (`verify`, `predict`, `run`) and the batch workers' flag.

pub mod batch;
pub mod bundle;

use clap::Args;
use ferry_runtime::{Failure, LimitOverrides, PluginError};
use tracing_subscriber::EnvFilter;

use crate::http::PredictLimits;

/// Exit codes scripts can rely on.
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
    /// The process was interrupted (Ctrl-C or `SIGTERM`) and stopped cleanly: 128 + 2, what a
    /// shell reports for a tool that `SIGINT` stopped.
    pub const INTERRUPTED: u8 = 130;
    /// Standard output was a pipe whose reader stopped reading (`ferry … | head`): 128 + 13,
    /// what a shell reports for a tool that `SIGPIPE` stopped.
    pub const CLOSED_STDOUT: u8 = 141;
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

/// The exit code of a plugin's failure.
pub fn plugin_code(p: &PluginError) -> u8 {
    match &*p.failure {
        Failure::NotKind { .. } => exit::LOAD,
        f if f.is_misbehaviour() => exit::PLUGIN_FAILED,
        _ => exit::PLUGIN_ERROR,
    }
}

/// The exit code an error of the runtime, the data path, serving or a bundle ends the process
/// with; anything else is [`exit::LOAD`].
pub fn code_of(error: &anyhow::Error) -> u8 {
    error.chain().find_map(cause_code).unwrap_or(exit::LOAD)
}

/// The exit code one error in a chain stands for, if it is one the codes name.
fn cause_code(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    use ferry_core::{CoreError, ServeError};
    if let Some(p) = cause.downcast_ref::<PluginError>() {
        Some(plugin_code(p))
    } else if let Some(e) = cause.downcast_ref::<ServeError>() {
        Some(match e {
            ServeError::Plugin(p) => plugin_code(p),
            ServeError::Input(_) | ServeError::Rejected(_) => exit::INVALID_DATA,
            _ => exit::LOAD,
        })
    } else if let Some(p) = cause.downcast_ref::<CoreError>() {
        Some(match p {
            CoreError::Plugin(p) => plugin_code(p),
            CoreError::Invalid(_) => exit::INVALID_DATA,
            CoreError::Skew(_) => exit::LINEAGE_MISMATCH,
            _ => exit::LOAD,
        })
    } else if cause.downcast_ref::<ferry_bundle::BundleError>().is_some() {
        Some(exit::LINEAGE_MISMATCH)
    } else if cause.downcast_ref::<batch::Interrupted>().is_some() {
        Some(exit::INTERRUPTED)
    } else {
        None
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
    pub fn limits(&self) -> anyhow::Result<PredictLimits> {
        if self.max_body_mib == 0
            || self.max_rows == 0
            || self.max_in_flight == 0
            || self.max_instance_sets == 0
        {
            anyhow::bail!(
                "--max-body-mib, --max-rows, --max-in-flight and --max-instance-sets must each be at least 1"
            );
        }
        Ok(PredictLimits {
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

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// The options every subcommand of `ferry` and `ferry-edge` takes: the compiled-plugin cache
/// and logging.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Folder for compiled plugins (default: the user's cache folder).
    #[arg(long, global = true, env = "FERRY_CACHE_DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Compile plugins every time instead of caching them.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Build every plugin instance from scratch (`new-transformer`, `load`) instead of from
    /// the snapshot taken after `prepare`, for plugins that can be prepared (contract 0.1.1).
    /// For comparisons: results are the same, only slower.
    #[arg(long, global = true, env = "FERRY_NO_SNAPSHOTS")]
    pub no_snapshots: bool,
    /// More logs (-v info, -vv debug); or set RUST_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// How logs are written to standard error: text, or one JSON object per line (with the
    /// request id of the request a line is about).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FERRY_LOG_FORMAT")]
    pub log_format: LogFormat,
}

impl GlobalArgs {
    /// Starts logging as the options say (see [`init_logging`]).
    pub fn init_logging(&self) {
        init_logging(self.verbose, self.log_format);
    }

    /// The runtime's options: the cache folder given, else the user's, or none with
    /// `--no-cache`.
    pub fn runtime_options(&self) -> ferry_runtime::RuntimeOptions {
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir
                .clone()
                .or_else(|| ferry_runtime::RuntimeOptions::with_default_cache().cache_dir)
        };
        ferry_runtime::RuntimeOptions {
            cache_dir,
            no_snapshots: self.no_snapshots,
            ..Default::default()
        }
    }
}

/// Starts logging to standard error: warnings (`-v` info, `-vv` debug, or `RUST_LOG`), as
/// text or one JSON object per line.
pub fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
}

/// Runs `run` on a multi-threaded async runtime and turns its result into the process's exit
/// code; `failed` says what an error's code and message are, and the message, if any, is
/// printed to standard error. A reader that stops reading standard output (`ferry … | head`)
/// ends the command quietly with [`exit::CLOSED_STDOUT`], as it ends other Unix tools.
pub fn block_on<X>(
    run: impl Future<Output = Result<u8, X>>,
    failed: impl FnOnce(X) -> (u8, Option<anyhow::Error>),
) -> std::process::ExitCode {
    exit_quietly_when_stdout_closes();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(exit::LOAD);
        }
    };
    match runtime.block_on(run) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(x) => {
            let (code, error) = failed(x);
            if let Some(e) = error {
                eprintln!("error: {e:#}");
            }
            std::process::ExitCode::from(code)
        }
    }
}

/// `println!` panics when standard output is a pipe whose reader has gone; the standard library
/// ignores `SIGPIPE` (the server relies on that for its sockets), so the panic is the only
/// signal. It is turned into the exit a shell reports for a tool that `SIGPIPE` stopped.
fn exit_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout")
            && (message.contains("Broken pipe") || message.contains("os error 32"))
        {
            std::process::exit(i32::from(exit::CLOSED_STDOUT));
        }
        default(info);
    }));
}
