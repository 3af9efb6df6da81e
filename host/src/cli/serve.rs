//! `ferry serve`: the registry and marketplace over HTTP.

use std::net::SocketAddr;

use clap::Args;
use ferry_host::runtime::{LoadOptions, Runtime};
use ferry_host::server::{ServeOptions, serve};

use super::{Exit, LimitArgs, RegistryArgs, exit};

/// Arguments of `ferry serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", env = "FERRY_ADDR")]
    pub addr: SocketAddr,
    /// Public mode: reading needs a token too.
    #[arg(long)]
    pub public: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Limits for the plugins of served model versions.
    #[command(flatten)]
    pub limits: LimitArgs,
}

pub async fn run(runtime: &Runtime, args: ServeArgs) -> Result<u8, Exit> {
    let options = ServeOptions {
        addr: args.addr,
        data_dir: args.registry.data_dir()?,
        database_url: args.registry.database_url.clone(),
        public: args.public,
        plugins: LoadOptions {
            limits: args.limits.overrides(),
            ..Default::default()
        },
    };
    serve(runtime.clone(), options).await?;
    Ok(exit::OK)
}
