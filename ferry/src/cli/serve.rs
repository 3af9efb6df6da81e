//! `ferry serve`: the registry and marketplace over HTTP.

use std::net::SocketAddr;

use clap::Args;
use std::path::PathBuf;

use ferry_ops::monitor::predlog::LogSettings;
use ferry_pipeline::PluginPolicy;
use ferry_runtime::Runtime;
use ferry_server::{ServeOptions, serve};

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
    #[command(flatten)]
    pub prediction_log: PredictionLogArgs,
    /// Alert rules to evaluate (TOML: [[rules]] and [[sinks]]; `ferry alerts check` checks a
    /// file).
    #[arg(long, env = "FERRY_ALERTS")]
    pub alerts: Option<PathBuf>,
    /// Let alert sinks reach a host over HTTP (`name` or `name:port`); repeat for more.
    #[arg(long = "allow-http", value_name = "HOST")]
    pub allow_http: Vec<String>,
    /// Grant alert sinks a directory: GUEST=HOST, with `:ro` for read-only.
    #[arg(long = "allow-dir", value_name = "GUEST=HOST[:ro]")]
    pub allow_dir: Vec<String>,
    /// Let alert sinks send mail through an SMTP relay: smtp://HOST[:PORT] (plain),
    /// smtp://HOST[:PORT]?tls=required (STARTTLS) or smtps://HOST[:PORT] (TLS), optionally with
    /// USER@, whose password is read from FERRY_SMTP_PASSWORD; repeat for more.
    #[arg(long = "allow-smtp", value_name = "URL")]
    pub allow_smtp: Vec<String>,
}

/// The prediction log: served requests as Parquet segments in the blob store.
#[derive(Debug, Args)]
pub struct PredictionLogArgs {
    /// Do not log predictions.
    #[arg(long)]
    pub no_prediction_log: bool,
    /// The share of requests logged, from 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    pub prediction_log_sample: f64,
    /// Rows at which a segment is written.
    #[arg(long, default_value_t = 10_000)]
    pub prediction_log_segment_rows: usize,
    /// Seconds after which an open segment is written.
    #[arg(long, default_value_t = 60)]
    pub prediction_log_segment_seconds: u64,
    /// Rows that may wait to be logged; past this, requests are dropped from the log and
    /// counted (ferry_prediction_log_dropped_total), so a slow disk never fills memory.
    #[arg(long, default_value_t = 100_000)]
    pub prediction_log_queue: usize,
    /// The window, in seconds, over which `/metrics` shows live metrics (`ferry_live_metric`)
    /// from labels joined with the log.
    #[arg(long, default_value_t = 3600)]
    pub live_metrics_window_seconds: u64,
    /// How often, in seconds, those live metrics are scored again (and at once when labels
    /// arrive), so they follow labels joined with segments written since and drop out when
    /// their window has nothing left.
    #[arg(long, default_value_t = 30)]
    pub live_metrics_every_seconds: u64,
}

impl PredictionLogArgs {
    fn settings(&self) -> Result<Option<LogSettings>, Exit> {
        if self.no_prediction_log {
            return Ok(None);
        }
        let rate = self.prediction_log_sample;
        if !(0.0..=1.0).contains(&rate) {
            return Err(anyhow::anyhow!(
                "--prediction-log-sample {rate}: expected a share from 0 to 1"
            )
            .into());
        }
        if self.prediction_log_segment_rows == 0
            || self.prediction_log_segment_seconds == 0
            || self.prediction_log_queue == 0
            || self.live_metrics_window_seconds == 0
            || self.live_metrics_every_seconds == 0
        {
            return Err(anyhow::anyhow!(
                "--prediction-log-segment-rows, --prediction-log-segment-seconds, --prediction-log-queue, --live-metrics-window-seconds and --live-metrics-every-seconds must each be at least 1"
            )
            .into());
        }
        Ok(Some(LogSettings {
            sample_rate: rate,
            segment_rows: self.prediction_log_segment_rows,
            segment_age: std::time::Duration::from_secs(self.prediction_log_segment_seconds),
            queue: self.prediction_log_queue,
            live_window: std::time::Duration::from_secs(self.live_metrics_window_seconds),
            live_every: std::time::Duration::from_secs(self.live_metrics_every_seconds),
        }))
    }
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
            sets_per_version: args.predict.sets_per_version(),
            ..super::plugin_policy(&args.limits, args.trust.as_deref())?
        },
        predict,
        nats: args.nats.clone(),
        prediction_log: args.prediction_log.settings()?,
        alerts: match &args.alerts {
            Some(path) => {
                let rules = ferry_ops::monitor::alerts::RulesFile::read(path)
                    .map_err(anyhow::Error::msg)?;
                let grants = super::SandboxArgs {
                    dirs: args.allow_dir.clone(),
                    http: args.allow_http.clone(),
                    smtp: args.allow_smtp.clone(),
                    ..Default::default()
                };
                Some((rules, grants.load_options()?))
            }
            None => None,
        },
    };
    give_back_freed_memory();
    serve(runtime.clone(), options).await?;
    Ok(exit::OK)
}

/// How often a server has the system allocator give back the memory it holds free.
#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Starts a thread that, every [`TRIM_EVERY`], has glibc's allocator return the free pages of
/// its arenas to the system (`malloc_trim`). Under load every thread that allocates grows an
/// arena of its own, and glibc keeps what is freed inside an arena: with three deployments
/// after a load that was about a fifth of the server's RSS (`docs/src/benchmarks.md`).
#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
fn give_back_freed_memory() {
    let started = std::thread::Builder::new()
        .name("ferry-trim".into())
        .spawn(|| {
            loop {
                std::thread::sleep(TRIM_EVERY);
                // SAFETY: `malloc_trim` takes each arena's lock itself and only releases pages
                // that hold no allocation.
                unsafe {
                    libc::malloc_trim(0);
                }
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "could not start the thread that trims the allocator");
    }
}

/// Other allocators give freed memory back themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc"))))]
fn give_back_freed_memory() {}
