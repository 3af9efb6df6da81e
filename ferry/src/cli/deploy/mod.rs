//! `ferry deploy`: named deployments (create, update, show, history, rollback, delete, and the
//! shadow log), locally or against a remote Ferry. Locally a change is written to the data
//! folder's registry and the audit log; a `ferry serve` on that folder serves the new revision
//! from its next request. One module per subcommand.

mod create;
mod delete;
mod history;
mod list;
mod rollback;
mod shadow;
mod show;
mod target;
mod update;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferry_ops::deploy::{DeploymentSpec, SpecError};
use ferry_registry::deployment_spec::{
    BatchSettings, Resolved, Sticky, StreamSpec, parse_ref, parse_target,
};
use ferry_runtime::Runtime;
use serde_json::Value;

use super::{Exit, RegistryArgs, read_config};

/// Deployment subcommands.
#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Create a deployment.
    Create {
        /// Its name.
        name: String,
        #[command(flatten)]
        spec: SpecArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Write and serve a deployment's next revision: with --file or --model the options give
    /// the whole specification; without, they change the current one, which keeps serving the
    /// versions it resolved to.
    Update {
        /// The deployment.
        name: String,
        #[command(flatten)]
        spec: SpecArgs,
        /// Write only if this is still the current revision.
        #[arg(long)]
        revision: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List deployments.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show a deployment (with a remote Ferry: its breakers and shadow counters too).
    Show {
        /// The deployment.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show a deployment's revisions, oldest first.
    History {
        /// The deployment.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Serve an earlier revision again (the one before the current one, or --to).
    Rollback {
        /// The deployment.
        name: String,
        /// The revision to return to.
        #[arg(long)]
        to: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Delete a deployment and its history.
    Delete {
        /// The deployment.
        name: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Run a deployer plugin for the deployment's primary version, with the operator's grants:
    /// show what it would change, then apply it; or read its status, or roll it back. The
    /// registry records what the plugin reports.
    Target(Box<target::TargetArgs>),
    /// Read the shadow log: sampled disagreements, and with a remote Ferry each shadow's
    /// counters on that server.
    Shadow {
        /// The deployment.
        name: String,
        /// Samples to show, newest first.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

/// A deployment's specification on the command line: a file, and options that override it.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// A specification file (JSON, or TOML by extension); the options below override it.
    #[arg(long)]
    file: Option<PathBuf>,
    /// A target, MODEL@REF[=WEIGHT] (a version, an alias, a stage or `latest`; weights in
    /// percent summing to 100). The first is the primary; repeat for canaries.
    #[arg(long = "model", value_name = "MODEL@REF[=WEIGHT]")]
    models: Vec<String>,
    /// A version to mirror every request to, MODEL@REF (repeatable).
    #[arg(long, value_name = "MODEL@REF")]
    shadow: Vec<String>,
    /// The version that answers when a target fails, MODEL@REF.
    #[arg(long, value_name = "MODEL@REF")]
    fallback: Option<String>,
    /// The prediction for every row when nothing else answers (a JSON object).
    #[arg(long, value_name = "JSON")]
    default: Option<String>,
    /// How long a target may take (ms) before the fallback answers.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Keep a customer on one target by this request header.
    #[arg(long, conflicts_with = "sticky_field")]
    sticky_header: Option<String>,
    /// Keep a customer on one target by this field of the first row.
    #[arg(long)]
    sticky_field: Option<String>,
    /// Failures within the window that open a target's circuit.
    #[arg(long)]
    breaker_failures: Option<u32>,
    /// The breaker's window (ms).
    #[arg(long)]
    breaker_window_ms: Option<u64>,
    /// How long an open circuit waits before probing (ms).
    #[arg(long)]
    breaker_open_ms: Option<u64>,
    /// Requests a half-open circuit lets through at once to probe it.
    #[arg(long)]
    breaker_probes: Option<u32>,
    /// The share of shadow disagreements logged (0 to 1).
    #[arg(long)]
    shadow_sample_rate: Option<f64>,
    /// Also consume requests (JSON rows) from this NATS JetStream subject, on every `ferry
    /// serve --nats`; needs --stream-output and --stream-dead-letter.
    #[arg(long, value_name = "SUBJECT", requires_all = ["stream_output", "stream_dead_letter"])]
    stream_input: Option<String>,
    /// The subject predictions of streamed requests are published to.
    #[arg(long, value_name = "SUBJECT", requires = "stream_input")]
    stream_output: Option<String>,
    /// The subject streamed requests that cannot be predicted go to, with the reason.
    #[arg(long, value_name = "SUBJECT", requires = "stream_input")]
    stream_dead_letter: Option<String>,
    /// Deliveries of a streamed request whose prediction fails before it is dead-lettered.
    #[arg(long, requires = "stream_input")]
    stream_max_deliver: Option<u32>,
    /// How long a streamed request may go unacknowledged before it is redelivered (ms).
    #[arg(long, requires = "stream_input")]
    stream_ack_wait_ms: Option<u64>,
    /// Batch requests that arrive together: at most this many rows share one call of each
    /// plugin (2 to 8192). Rows of concurrent requests then meet inside one plugin call, so
    /// every plugin must be built in or signed by a trusted key.
    #[arg(long, value_name = "ROWS", conflicts_with = "no_batch")]
    batch_max_rows: Option<u32>,
    /// How long a queued request may wait for others to share its call (µs, default 500).
    #[arg(long, value_name = "US", conflicts_with = "no_batch")]
    batch_max_wait_us: Option<u64>,
    /// Turn batching off (each request runs alone, the default).
    #[arg(long)]
    no_batch: bool,
    /// The trust policy a batched deployment's plugins are checked against here (default:
    /// ./ferry-trust.toml, if present); `ferry serve` checks again against its own.
    #[arg(long, value_name = "FILE")]
    trust: Option<PathBuf>,
}

impl SpecArgs {
    /// Whether the options give the whole specification (a file, or the targets), rather
    /// than changes to the current one.
    fn whole(&self) -> bool {
        self.file.is_some() || !self.models.is_empty()
    }

    /// The gate a batched specification passes here: the built-ins and the trust policy.
    fn trust(&self) -> anyhow::Result<Option<ferry_registry::TrustPolicy>> {
        super::trust_policy(self.trust.as_deref())
    }

    /// The specification: the file's or `base` (or an empty one), with the options applied.
    fn spec(&self, base: Option<DeploymentSpec>) -> Result<DeploymentSpec, Exit> {
        let mut spec: DeploymentSpec = match (&self.file, base) {
            (Some(path), _) => {
                let text = read_config(Some(path))?;
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: not a deployment: {e}", path.display()))?
            }
            (None, Some(base)) => base,
            (None, None) => serde_json::from_value(serde_json::json!({ "targets": [] }))
                .map_err(|e| anyhow::anyhow!("the default deployment: {e}"))?,
        };
        if !self.models.is_empty() {
            spec.targets = self
                .models
                .iter()
                .map(|m| parse_target(m))
                .collect::<Result<_, _>>()?;
        }
        if !self.shadow.is_empty() {
            spec.shadows = self
                .shadow
                .iter()
                .map(|s| parse_ref(s))
                .collect::<Result<_, _>>()?;
        }
        if let Some(f) = &self.fallback {
            spec.fallback = Some(parse_ref(f)?);
        }
        if let Some(d) = &self.default {
            spec.default = Some(
                serde_json::from_str(d).map_err(|e| anyhow::anyhow!("--default: not JSON: {e}"))?,
            );
        }
        if let Some(t) = self.timeout_ms {
            spec.timeout_ms = t;
        }
        if let Some(h) = &self.sticky_header {
            spec.sticky = Some(Sticky::Header(h.clone()));
        }
        if let Some(f) = &self.sticky_field {
            spec.sticky = Some(Sticky::Field(f.clone()));
        }
        let b = &mut spec.breaker;
        b.failures = self.breaker_failures.unwrap_or(b.failures);
        b.window_ms = self.breaker_window_ms.unwrap_or(b.window_ms);
        b.open_ms = self.breaker_open_ms.unwrap_or(b.open_ms);
        b.probes = self.breaker_probes.unwrap_or(b.probes);
        if let Some(r) = self.shadow_sample_rate {
            spec.shadow_sample_rate = r;
        }
        if let (Some(input), Some(output), Some(dead_letter)) = (
            &self.stream_input,
            &self.stream_output,
            &self.stream_dead_letter,
        ) {
            let mut stream: StreamSpec = serde_json::from_value(serde_json::json!({
                "input": input, "output": output, "dead_letter": dead_letter,
            }))
            .map_err(|e| anyhow::anyhow!("--stream-input: {e}"))?;
            stream.max_deliver = self.stream_max_deliver.unwrap_or(stream.max_deliver);
            stream.ack_wait_ms = self.stream_ack_wait_ms.unwrap_or(stream.ack_wait_ms);
            spec.stream = Some(stream);
        }
        if self.no_batch {
            spec.batch = None;
        }
        match (self.batch_max_rows, self.batch_max_wait_us, &mut spec.batch) {
            (None, None, _) => {}
            (_, _, Some(b)) => {
                b.max_rows = self.batch_max_rows.unwrap_or(b.max_rows);
                b.max_wait_us = self.batch_max_wait_us.unwrap_or(b.max_wait_us);
            }
            (Some(rows), wait, None) => {
                let mut b: BatchSettings =
                    serde_json::from_value(serde_json::json!({ "max_rows": rows }))
                        .map_err(|e| anyhow::anyhow!("--batch-max-rows: {e}"))?;
                b.max_wait_us = wait.unwrap_or(b.max_wait_us);
                spec.batch = Some(b);
            }
            (None, Some(_), None) => {
                return Err(anyhow::Error::from(SpecError::Invalid(
                    "--batch-max-wait-us: the deployment does not batch; give --batch-max-rows too"
                        .into(),
                ))
                .into());
            }
        }
        if spec.targets.is_empty() {
            return Err(anyhow::anyhow!(
                "a deployment needs a target: give --model MODEL@REF (or a --file with targets)"
            )
            .into());
        }
        Ok(spec)
    }
}

/// `spec` (a deployment's current one) with every reference pinned to the version it
/// resolved to, so that writing it again serves the same versions.
fn pinned(mut spec: DeploymentSpec) -> DeploymentSpec {
    fn pin(version: &mut String, resolved: &mut Option<Resolved>) {
        if let Some(r) = resolved.take() {
            *version = r.number.to_string();
        }
    }
    for t in &mut spec.targets {
        pin(&mut t.version, &mut t.resolved);
    }
    for s in spec.shadows.iter_mut().chain(spec.fallback.as_mut()) {
        pin(&mut s.version, &mut s.resolved);
    }
    spec
}

fn targets_line(spec: &Value) -> String {
    let refs = |v: &Value| -> String {
        let number = v["resolved"]["number"]
            .as_i64()
            .map(|n| format!(" (v{n})"))
            .unwrap_or_default();
        format!(
            "{}@{}{number}",
            v["model"].as_str().unwrap_or("?"),
            v["version"].as_str().unwrap_or("?")
        )
    };
    let mut parts: Vec<String> = spec["targets"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| format!("{}={}%", refs(t), t["weight"]))
                .collect()
        })
        .unwrap_or_default();
    for s in spec["shadows"].as_array().into_iter().flatten() {
        parts.push(format!("shadow {}", refs(s)));
    }
    if spec["fallback"].is_object() {
        parts.push(format!("fallback {}", refs(&spec["fallback"])));
    }
    if !spec["default"].is_null() {
        parts.push(format!("default {}", spec["default"]));
    }
    if spec["batch"].is_object() {
        parts.push(format!(
            "batching up to {} rows, waiting up to {} µs",
            spec["batch"]["max_rows"], spec["batch"]["max_wait_us"]
        ));
    }
    parts.join(", ")
}

fn print_revision(v: &Value, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        println!(
            "{} revision {} ({} by {}): {}",
            v["name"].as_str().unwrap_or("?"),
            v["revision"],
            v["reason"].as_str().unwrap_or("?"),
            v["actor"].as_str().unwrap_or("?"),
            targets_line(&v["spec"])
        );
    }
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Runs a `ferry deploy` subcommand.
pub async fn run(runtime: &Runtime, cmd: DeployCommand) -> Result<u8, Exit> {
    match cmd {
        DeployCommand::Create {
            name,
            spec,
            json,
            registry,
        } => create::run(runtime, name, spec, json, registry).await,
        DeployCommand::Update {
            name,
            spec,
            revision,
            json,
            registry,
        } => update::run(runtime, name, spec, revision, json, registry).await,
        DeployCommand::Rollback {
            name,
            to,
            json,
            registry,
        } => rollback::run(runtime, name, to, json, registry).await,
        DeployCommand::Delete { name, registry } => delete::run(runtime, name, registry).await,
        DeployCommand::List { json, registry } => list::run(runtime, json, registry).await,
        DeployCommand::Show {
            name,
            json,
            registry,
        } => show::run(runtime, name, json, registry).await,
        DeployCommand::History {
            name,
            json,
            registry,
        } => history::run(runtime, name, json, registry).await,
        DeployCommand::Target(args) => target::run(runtime, *args).await,
        DeployCommand::Shadow {
            name,
            limit,
            json,
            registry,
        } => shadow::run(runtime, name, limit, json, registry).await,
    }
}
