//! `ferry serve`: the registry and marketplace over HTTP.

use std::net::SocketAddr;

use clap::Args;
use std::path::PathBuf;

use ferry_host::pipeline::PluginPolicy;
use ferry_host::runtime::{LoadOptions, Runtime};
use ferry_host::server::{PredictLimits, ServeOptions, serve};

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
    /// A trust policy every served version's plugins must satisfy (default:
    /// ./ferry-trust.toml, if present); a version with an untrusted plugin is refused (409).
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// The largest prediction request body (MiB); larger ones get 413 before they are read.
    #[arg(long, default_value_t = 2)]
    pub max_body_mib: usize,
    /// The most rows in one prediction request.
    #[arg(long, default_value_t = 10_000)]
    pub max_rows: usize,
    /// Prediction requests in flight per deployment or model; more get 503 with Retry-After.
    #[arg(long, default_value_t = 32)]
    pub max_in_flight: usize,
}

pub async fn run(runtime: &Runtime, args: ServeArgs) -> Result<u8, Exit> {
    if let Some(url) = &args.registry.registry {
        return Err(anyhow::anyhow!(
            "ferry serve serves a local data folder; it cannot serve a remote Ferry ({url}): drop --registry (or unset FERRY_REGISTRY)"
        )
        .into());
    }
    if args.max_body_mib == 0 || args.max_rows == 0 || args.max_in_flight == 0 {
        return Err(anyhow::anyhow!(
            "--max-body-mib, --max-rows and --max-in-flight must each be at least 1"
        )
        .into());
    }
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
        predict: PredictLimits {
            max_body_bytes: args.max_body_mib.saturating_mul(1 << 20),
            max_rows: args.max_rows,
            max_in_flight: args.max_in_flight,
        },
    };
    serve(runtime.clone(), options).await?;
    Ok(exit::OK)
}
