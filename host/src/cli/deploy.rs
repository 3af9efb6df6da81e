//! `ferry deploy`: named deployments (create, update, show, history, rollback, delete, and the
//! shadow log), locally or against a remote Ferry. Locally a change is written to the data
//! folder's registry and the audit log; a `ferry serve` on that folder serves the new revision
//! from its next request.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferry_host::deploy::spec::{Sticky, StreamSpec, parse_ref, parse_target};
use ferry_host::deploy::target::{deployment_for, status_json};
use ferry_host::deploy::{
    self, DeploymentSpec, Deployments, deployment_json, revision_json, sample_json,
};
use ferry_host::runtime::{DeployerInstance, Runtime};
use ferry_host::store::Store;
use serde_json::Value;

use super::{Exit, RegistryArgs, SandboxArgs, local_actor, read_config};

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
    /// Write and serve a deployment's next revision (the options give the whole specification).
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
    Target {
        /// The deployment.
        name: String,
        /// The deployer plugin: a built-in name (e.g. directory) or a `.wasm` file.
        #[arg(long)]
        plugin: String,
        /// The target's settings (JSON, or TOML by extension).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only show what apply would change.
        #[arg(long, conflicts_with_all = ["status", "rollback"])]
        plan: bool,
        /// Read what is live on the target.
        #[arg(long, conflicts_with = "rollback")]
        status: bool,
        /// Return the target to its previous version.
        #[arg(long)]
        rollback: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sandbox: SandboxArgs,
        #[command(flatten)]
        registry: RegistryArgs,
    },
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
}

impl SpecArgs {
    fn spec(&self) -> Result<DeploymentSpec, Exit> {
        let mut spec: DeploymentSpec = match &self.file {
            Some(path) => {
                let text = read_config(Some(path))?;
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: not a deployment: {e}", path.display()))?
            }
            None => serde_json::from_value(serde_json::json!({ "targets": [] }))
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
        if spec.targets.is_empty() {
            return Err(anyhow::anyhow!(
                "a deployment needs a target: give --model MODEL@REF (or a --file with targets)"
            )
            .into());
        }
        Ok(spec)
    }
}

/// Records a local change in the audit log (a remote Ferry audits its own changes).
async fn audit(
    r: &ferry_registry::Registry,
    action: &str,
    name: &str,
    detail: &str,
) -> Result<(), Exit> {
    r.audit(
        &local_actor(),
        action,
        &format!("deployment:{name}"),
        "ok",
        "",
        detail,
    )
    .await?;
    Ok(())
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

/// The specification deployment `name` serves now.
async fn current_spec(store: &Store, name: &str) -> Result<DeploymentSpec, Exit> {
    let spec = match store {
        Store::Local(r) => serde_json::from_str(&r.deployment(name).await?.spec),
        Store::Remote(c) => serde_json::from_value(c.deployment(name).await?["spec"].take()),
    };
    Ok(spec.map_err(|e| {
        anyhow::anyhow!("deployment {name:?}: its specification cannot be read: {e}")
    })?)
}

/// Runs a `ferry deploy` subcommand.
pub async fn run(runtime: &Runtime, cmd: DeployCommand) -> Result<u8, Exit> {
    match cmd {
        DeployCommand::Create {
            name,
            spec,
            json,
            registry,
        } => {
            let spec = spec.spec()?;
            let v = match registry.store(runtime).await? {
                Store::Local(r) => {
                    let rev = deploy::create(&r, &name, spec, &local_actor()).await?;
                    audit(&r, "deployment.create", &name, "revision 1").await?;
                    revision_json(&rev)
                }
                Store::Remote(c) => c.create_deployment(&name, &spec).await?,
            };
            print_revision(&v, json);
        }
        DeployCommand::Update {
            name,
            spec,
            revision,
            json,
            registry,
        } => {
            let spec = spec.spec()?;
            let v = match registry.store(runtime).await? {
                Store::Local(r) => {
                    let rev = deploy::update(&r, &name, spec, &local_actor(), revision).await?;
                    audit(
                        &r,
                        "deployment.update",
                        &name,
                        &format!("revision {}", rev.revision),
                    )
                    .await?;
                    revision_json(&rev)
                }
                Store::Remote(c) => c.update_deployment(&name, &spec, revision).await?,
            };
            print_revision(&v, json);
        }
        DeployCommand::Rollback {
            name,
            to,
            json,
            registry,
        } => {
            let v = match registry.store(runtime).await? {
                Store::Local(r) => {
                    let rev = deploy::rollback(&r, &name, to, &local_actor()).await?;
                    audit(
                        &r,
                        "deployment.rollback",
                        &name,
                        &format!("revision {} ({})", rev.revision, rev.reason),
                    )
                    .await?;
                    revision_json(&rev)
                }
                Store::Remote(c) => c.rollback_deployment(&name, to).await?,
            };
            print_revision(&v, json);
        }
        DeployCommand::Delete { name, registry } => {
            match registry.store(runtime).await? {
                Store::Local(r) => {
                    r.delete_deployment(&name).await?;
                    audit(&r, "deployment.delete", &name, "").await?;
                }
                Store::Remote(c) => {
                    c.delete_deployment(&name).await?;
                }
            }
            println!("deleted deployment {name}");
        }
        DeployCommand::List { json, registry } => {
            let all = match registry.store(runtime).await? {
                Store::Local(r) => Value::Array(
                    r.deployments()
                        .await?
                        .iter()
                        .map(|d| deployment_json(d, None))
                        .collect(),
                ),
                Store::Remote(c) => c.deployments().await?,
            };
            if json {
                print_json(&all);
            } else {
                for d in all.as_array().into_iter().flatten() {
                    println!(
                        "{:<24} r{:<4} {}",
                        d["name"].as_str().unwrap_or("?"),
                        d["revision"],
                        targets_line(&d["spec"])
                    );
                }
            }
        }
        DeployCommand::Show {
            name,
            json,
            registry,
        } => {
            let v = match registry.store(runtime).await? {
                Store::Local(r) => {
                    let d = r.deployment(&name).await?;
                    let live = Deployments::default().get(&d)?;
                    deployment_json(&d, Some(&live))
                }
                Store::Remote(c) => c.deployment(&name).await?,
            };
            if json {
                print_json(&v);
            } else {
                println!("{} revision {}", name, v["revision"]);
                println!("  {}", targets_line(&v["spec"]));
                let s = &v["spec"];
                println!(
                    "  timeout {} ms; breaker opens after {} failures in {} ms, probes after {} ms",
                    s["timeout_ms"],
                    s["breaker"]["failures"],
                    s["breaker"]["window_ms"],
                    s["breaker"]["open_ms"]
                );
                for t in v["status"]["targets"].as_array().into_iter().flatten() {
                    println!(
                        "  {}: circuit {}",
                        t["target"].as_str().unwrap_or("?"),
                        t["breaker"]["state"].as_str().unwrap_or("?")
                    );
                }
            }
        }
        DeployCommand::History {
            name,
            json,
            registry,
        } => {
            let all = match registry.store(runtime).await? {
                Store::Local(r) => Value::Array(
                    r.deployment_revisions(&name)
                        .await?
                        .iter()
                        .map(revision_json)
                        .collect(),
                ),
                Store::Remote(c) => c.deployment_revisions(&name).await?,
            };
            if json {
                print_json(&all);
            } else {
                for r in all.as_array().into_iter().flatten() {
                    print_revision(r, false);
                }
            }
        }
        DeployCommand::Target {
            name,
            plugin,
            config,
            plan,
            status,
            rollback,
            json,
            sandbox,
            registry,
        } => {
            let store = registry.store(runtime).await?;
            let settings = read_config(config.as_ref())?;
            let deployer = super::load_plugin(runtime, &plugin, &sandbox).await?;
            let mut instance = DeployerInstance::new(&deployer).await?;
            let (action, reported) = if status {
                ("status", instance.status(&name, &settings).await?)
            } else if rollback {
                ("rollback", instance.rollback(&name, &settings).await?)
            } else {
                let spec = current_spec(&store, &name).await?;
                let target =
                    deployment_for(&store, &name, &spec, &settings, &sandbox.policy()?).await?;
                let planned = instance.plan(&target).await?;
                if !json || plan {
                    let shown = serde_json::json!({"plan": planned.actions});
                    if json {
                        print_json(&shown);
                    } else {
                        println!(
                            "{} would deploy {}@{} to {name}:",
                            deployer.name(),
                            target.model_name,
                            target.model_version
                        );
                        for a in &planned.actions {
                            println!("  {a}");
                        }
                    }
                }
                if plan {
                    return Ok(super::exit::OK);
                }
                ("apply", instance.apply(&target).await?)
            };
            let v = status_json(deployer.name(), deployer.digest(), action, &reported);
            match &store {
                Store::Local(r) => {
                    r.record_deployment_target(
                        &name,
                        deployer.name(),
                        &v.to_string(),
                        &local_actor(),
                    )
                    .await?;
                    audit(
                        r,
                        "deployment.target",
                        &name,
                        &format!("{}: {action}", deployer.name()),
                    )
                    .await?;
                }
                Store::Remote(c) => {
                    c.record_target(&name, deployer.name(), &v).await?;
                }
            }
            if json {
                print_json(&v);
            } else {
                println!(
                    "{}: {action}: live {}, rollback to [{}]; {}",
                    deployer.name(),
                    reported.active_version.as_deref().unwrap_or("nothing"),
                    reported.history.join(", "),
                    reported.message
                );
            }
        }
        DeployCommand::Shadow {
            name,
            limit,
            json,
            registry,
        } => {
            let v = match registry.store(runtime).await? {
                // The counters live in the server that mirrors; the sampled log is stored.
                Store::Local(r) => serde_json::json!({
                    "counters": [],
                    "samples": r
                        .shadow_samples(&name, limit)
                        .await?
                        .iter()
                        .map(sample_json)
                        .collect::<Vec<_>>(),
                }),
                Store::Remote(c) => c.shadow_log(&name, limit).await?,
            };
            if json {
                print_json(&v);
            } else {
                for c in v["counters"].as_array().into_iter().flatten() {
                    println!(
                        "{}: mirrored {}, agreed {}, disagreed {}, failed {}, skipped {}",
                        c["shadow"].as_str().unwrap_or("?"),
                        c["mirrored"],
                        c["agreed"],
                        c["disagreed"],
                        c["failed"],
                        c["skipped"]
                    );
                }
                for s in v["samples"].as_array().into_iter().flatten() {
                    println!(
                        "{} {}: answered {} {}; shadow {} {}",
                        s["created_at"],
                        s["request_id"].as_str().unwrap_or("?"),
                        s["answered"].as_str().unwrap_or("?"),
                        s["answer"],
                        s["shadow"].as_str().unwrap_or("?"),
                        s["shadow_answer"]
                    );
                }
            }
        }
    }
    Ok(super::exit::OK)
}
