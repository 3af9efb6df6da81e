//! The `ferry-edge` binary: checks and serves edge bundles with the runtime, the data path and
//! the bundle reader alone (no registry, database, NATS or outbound network).

use std::process::ExitCode;

use clap::Parser;
use ferry_edge::cli::{GlobalArgs, block_on, bundle};
use ferry_runtime::Runtime;

/// Ferry at the edge: check, predict with and serve a signed bundle of one model version.
#[derive(Debug, Parser)]
#[command(name = "ferry-edge", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: bundle::EdgeCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.global.init_logging();
    block_on(
        async move {
            let runtime = Runtime::new(cli.global.runtime_options())?;
            bundle::run(&runtime, cli.command).await
        },
        |e| (e.code, e.error),
    )
}
