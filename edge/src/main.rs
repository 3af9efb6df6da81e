//! The `ferry-edge` binary: checks and serves edge bundles with the runtime, the data path and
//! the bundle reader alone (no registry, database, NATS or outbound network).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ferry_edge::cli::{LogFormat, block_on, bundle, init_logging};
use ferry_runtime::{Runtime, RuntimeOptions};

/// Ferry at the edge: check, predict with and serve a signed bundle of one model version.
#[derive(Debug, Parser)]
#[command(name = "ferry-edge", version, about, long_about = None)]
struct Cli {
    /// Folder for compiled plugins (default: the user's cache folder).
    #[arg(long, global = true, env = "FERRY_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile plugins every time instead of caching them.
    #[arg(long, global = true)]
    no_cache: bool,
    /// More logs (-v info, -vv debug); or set RUST_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// How logs are written to standard error: text, or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FERRY_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: bundle::EdgeCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_format);
    block_on(
        async move {
            let cache_dir = if cli.no_cache {
                None
            } else {
                cli.cache_dir
                    .or_else(|| RuntimeOptions::with_default_cache().cache_dir)
            };
            let runtime = Runtime::new(RuntimeOptions {
                cache_dir,
                ..Default::default()
            })?;
            bundle::run(&runtime, cli.command).await
        },
        |e| (e.code, e.error),
    )
}
