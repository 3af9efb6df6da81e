//! The `ferry` binary: the command line over Ferry's library crates. Each subcommand is one
//! file under `cli/` that parses its arguments, calls a library crate and prints the answer;
//! what a command does lives in the crates (`ferry-pipeline` for training and the registry's
//! pipelines, `ferry-ops` for deployments and monitoring, `ferry-kit` for publishing,
//! `ferry-server` for `ferry serve`, `ferry-edge` for the edge commands), where the server and
//! remote mode share it. It may depend on every crate of the workspace; none depends on it.
//!
//! Start reading from `cli::Command`.

mod cli;

/// mimalloc instead of the system allocator, with `--features mimalloc`.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli.global.init_logging();
    ferry_edge::cli::block_on(cli::run(cli), |e| (e.code, e.error))
}
