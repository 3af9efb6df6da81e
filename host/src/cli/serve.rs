//! `ferry serve`: the registry and marketplace over HTTP.

use std::net::SocketAddr;

use clap::Args;
use std::path::PathBuf;

use ferry_host::pipeline::PluginPolicy;
use ferry_host::runtime::{LoadOptions, Runtime};
use ferry_host::server::{ServeOptions, serve};

use super::{Exit, LimitArgs, PredictLimitArgs, RegistryArgs, exit};

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
    /// A trust policy every served version's plugins must satisfy (default:
    /// ./ferry-trust.toml, if present); a version with an untrusted plugin is refused (409).
    #[arg(long)]
    pub trust: Option<PathBuf>,
    #[command(flatten)]
    pub predict: PredictLimitArgs,
    /// Consume the streams of deployments that have one from this NATS server (JetStream),
    /// e.g. nats://127.0.0.1:4222; every server given the same one shares the work.
    #[arg(long, env = "FERRY_NATS_URL")]
    pub nats: Option<String>,
}

pub async fn run(runtime: &Runtime, args: ServeArgs) -> Result<u8, Exit> {
    if let Some(url) = &args.registry.registry {
        return Err(anyhow::anyhow!(
            "ferry serve serves a local data folder; it cannot serve a remote Ferry ({url}): drop --registry (or unset FERRY_REGISTRY)"
        )
        .into());
    }
    let predict = args.predict.limits()?;
    let options = ServeOptions {
        addr: args.addr,
        data_dir: args.registry.data_dir()?,
        database_url: args.registry.database_url.clone(),
        public: args.public,
        plugins: PluginPolicy {
            load: LoadOptions {
                limits: args.limits.overrides(),
                ..Default::default()
            },
            trust: super::trust_policy(args.trust.as_deref())?.map(std::sync::Arc::new),
        },
        predict,
        nats: args.nats.clone(),
    };
    serve(runtime.clone(), options).await?;
    Ok(exit::OK)
}
