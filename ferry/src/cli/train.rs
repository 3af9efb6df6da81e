//! `ferry train PIPELINE`: validate, learn the transforms, train, evaluate, record the run and
//! register a model version when the gates pass.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

use clap::Args;
use ferry_pipeline::store::Store;
use ferry_pipeline::{PipelineSpec, TrainOptions, TrainProgress, train};
use ferry_runtime::Runtime;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Exit, RegistryArgs, SandboxArgs, exit, local_actor};

/// Arguments of `ferry train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The pipeline file (pipeline.toml).
    pub pipeline: PathBuf,
    /// A name for the run.
    #[arg(long)]
    pub run_name: Option<String>,
    /// Record the run but do not register a model version.
    #[arg(long)]
    pub no_register: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// One bar per stage on a terminal; one line per stage otherwise.
struct Bars {
    bar: Mutex<Option<(String, ProgressBar)>>,
    terminal: bool,
}

impl TrainProgress for Bars {
    fn stage(&self, name: &str, total: u64) {
        let bar = if self.terminal {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos}/{len} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(name.to_string());
            b
        } else {
            ProgressBar::hidden()
        };
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some((name.to_string(), bar));
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some((_, b)) = slot.as_ref()
        {
            b.inc(n);
        }
    }

    fn done(&self, summary: &str) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some((name, b)) = slot.take()
        {
            b.finish_and_clear();
            eprintln!("{name:>22}: {summary}");
        }
    }
}

pub async fn run(runtime: &Runtime, args: TrainArgs) -> Result<u8, Exit> {
    let spec = PipelineSpec::read(&args.pipeline)?;
    let store = args.registry.store(runtime).await?;
    // Locally, the run is recorded as this user; on a remote Ferry, as the token's holder.
    let user = match &store {
        Store::Local(_) => local_actor(),
        Store::Remote(_) => String::new(),
    };
    let bars = Bars {
        bar: Mutex::new(None),
        terminal: std::io::stderr().is_terminal() && !args.json,
    };
    let options = TrainOptions {
        user,
        plugins: args.sandbox.policy()?,
        register: !args.no_register,
        run_name: args.run_name.clone(),
        progress: &bars,
    };
    let outcome = train(runtime, &store, &spec, &options).await?;
    // A remote Ferry audits the registration itself.
    if let (Some(mv), Store::Local(registry)) = (&outcome.model_version, &store) {
        registry
            .audit(
                &local_actor(),
                "model.register",
                &format!("{}/{}", mv.name, mv.version),
                "ok",
                "",
                &format!("run {}", outcome.run_id),
            )
            .await?;
    }
    let passed = outcome.gates_passed();
    if args.json {
        let value = serde_json::json!({
            "run_id": outcome.run_id,
            "experiment_id": outcome.experiment_id,
            "metrics": outcome.evaluation.metrics,
            "confusion_matrix": outcome.evaluation.confusion_matrix,
            "classes": outcome.evaluation.classes,
            "gates": outcome.gates.iter().map(|(g, f)| serde_json::json!({"gate": g, "passed": f.is_none(), "why": f})).collect::<Vec<_>>(),
            "gates_passed": passed,
            "model_version": outcome.model_version.as_ref().map(|m| serde_json::json!({"name": m.name, "version": m.version, "aliases": m.aliases})),
            "not_registered": outcome.not_registered,
            "model_artifact": outcome.lineage.model.as_ref().map(|m| m.artifact_digest.clone()),
            "transform_states": outcome.lineage.transforms.iter().map(|t| t.state_digest.clone()).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "run {} (experiment {}) in {}",
            outcome.run_id,
            outcome.experiment_id,
            store.describe()
        );
        for (k, v) in &outcome.evaluation.metrics {
            println!("  {k:<12} {v:.6}");
        }
        if let (Some(cm), false) = (
            &outcome.evaluation.confusion_matrix,
            outcome.evaluation.classes.is_empty(),
        ) {
            println!(
                "  confusion matrix (rows: true class; columns: predicted) {:?}",
                outcome.evaluation.classes
            );
            for (class, row) in outcome.evaluation.classes.iter().zip(cm) {
                println!("    {class:>12} {row:?}");
            }
        }
        for (g, f) in &outcome.gates {
            match f {
                None => println!("  gate {g}: passed"),
                Some(why) => println!("  gate FAILED: {why}"),
            }
        }
        match &outcome.model_version {
            Some(mv) => println!(
                "registered {} version {}{}",
                mv.name,
                mv.version,
                if mv.aliases.is_empty() {
                    String::new()
                } else {
                    format!(" (alias {})", mv.aliases.join(", "))
                }
            ),
            None => println!(
                "not registered: {}",
                outcome
                    .not_registered
                    .as_deref()
                    .unwrap_or("no reason was given")
            ),
        }
    }
    Ok(if passed { exit::OK } else { exit::GATE_FAILED })
}
