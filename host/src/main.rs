//! The `ferry` binary.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    ferry_edge::cli::init_logging(cli.verbose, cli.log_format);
    ferry_edge::cli::block_on(cli::run(cli), |e| (e.code, e.error))
}
