//! `train`: validate the data, learn the transforms over the training split in a streaming
//! pass, train and evaluate the model, record everything as a run, and register a model
//! version with its lineage when the gates pass.

use std::collections::BTreeMap;

use ferry_registry::{
    Metric, ModelVersion, NewModelVersion, Registry, RegistryError, RunStatus, now_ms,
};
use sha2::{Digest, Sha256};

use super::PipelineError;
use super::lineage::{
    DataLineage, FieldSpec, LINEAGE_FORMAT, Lineage, ModelLineage, PinnedPlugin, TransformLineage,
    ValidationSummary, ValidatorLineage,
};
use super::metrics::{Evaluation, Gate, evaluate, metric_names};
use super::pinned::load_resolved;
use super::spec::PipelineSpec;
use super::split::split;
use crate::data::{
    Format, columns_view, merge_columns, read_table, schema_of, select, slice_rows, take_rows,
};
use crate::runtime::bindings::types::{Batch, ColumnData, Task};
use crate::runtime::{
    LoadOptions, ModelInstance, Plugin, Runtime, TransformInstance, ValidatorInstance,
};

/// Rows per batch in the streaming passes.
pub const BATCH_ROWS: usize = 8192;

/// Reports progress; the CLI draws bars, tests stay quiet.
pub trait TrainProgress: Send + Sync {
    /// A stage starts, with `total` units of work (rows, or 1).
    fn stage(&self, name: &str, total: u64);
    /// Some units are done.
    fn advance(&self, n: u64);
    /// The stage ended.
    fn done(&self, summary: &str);
}

/// No progress output.
pub struct Quiet;

impl TrainProgress for Quiet {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn done(&self, _: &str) {}
}

/// How to train.
pub struct TrainOptions<'a> {
    /// Who runs it (recorded with the run and the model version).
    pub user: String,
    /// Grants and limits for the plugins.
    pub load: LoadOptions,
    /// Register a model version when the gates pass.
    pub register: bool,
    /// A name for the run.
    pub run_name: Option<String>,
    /// Progress reporting.
    pub progress: &'a dyn TrainProgress,
}

/// What a training run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The run.
    pub run_id: String,
    /// Its experiment.
    pub experiment_id: String,
    /// Held-out evaluation (empty without a model).
    pub evaluation: Evaluation,
    /// Each gate and, when it failed, why.
    pub gates: Vec<(String, Option<String>)>,
    /// The lineage recorded with the run.
    pub lineage: Lineage,
    /// The registered version, when there is one.
    pub model_version: Option<ModelVersion>,
}

impl TrainOutcome {
    /// True when every gate held.
    pub fn gates_passed(&self) -> bool {
        self.gates.iter().all(|(_, f)| f.is_none())
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn git_commit(dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| s.len() == 40)
}

/// The file name of a step's artifacts: `02-standard-scaler`.
fn step_dir(i: usize, name: &str) -> String {
    format!("{:02}-{name}", i + 1)
}

fn view<'a>(
    batch: &'a Batch,
    reads: &Option<Vec<String>>,
    what: &str,
) -> Result<std::borrow::Cow<'a, Batch>, PipelineError> {
    columns_view(batch, reads.as_deref())
        .map_err(|e| PipelineError::Spec(format!("{what}: reads: {e}")))
}

/// Trains a pipeline and records it; see the module documentation.
pub async fn train(
    runtime: &Runtime,
    registry: &Registry,
    spec: &PipelineSpec,
    options: &TrainOptions<'_>,
) -> Result<TrainOutcome, PipelineError> {
    let progress = options.progress;

    progress.stage("resolve plugins", 1);
    let mut validators = Vec::new();
    for (i, v) in spec.validators.iter().enumerate() {
        let what = format!("validators[{i}] ({})", v.plugin);
        let plugin = load_resolved(runtime, registry, &v.plugin, &options.load).await?;
        let config = spec.config_json(&what, v.config.as_ref())?;
        validators.push((plugin, config, v.reads.clone()));
    }
    let mut transforms = Vec::new();
    for (i, t) in spec.transforms.iter().enumerate() {
        let what = format!("transforms[{i}] ({})", t.plugin);
        let plugin = load_resolved(runtime, registry, &t.plugin, &options.load).await?;
        let config = spec.config_json(&what, t.config.as_ref())?;
        transforms.push((plugin, config, t.reads.clone()));
    }
    let model = match &spec.model {
        Some(m) => {
            let plugin = load_resolved(runtime, registry, &m.plugin, &options.load).await?;
            let hp = spec.config_json("model.hyperparameters", m.hyperparameters.as_ref())?;
            Some((plugin, hp, m.features.clone()))
        }
        None => None,
    };
    progress.advance(1);
    progress.done(&format!(
        "{} validator(s), {} transform(s), {}",
        validators.len(),
        transforms.len(),
        model
            .as_ref()
            .map(|(p, _, _)| format!("model {}@{}", p.name(), p.manifest().version))
            .unwrap_or_else(|| "no model".into())
    ));

    progress.stage("read data", 1);
    let path = spec.data_path();
    let bytes = std::fs::read(&path)
        .map_err(|e| PipelineError::Spec(format!("data.path {}: {e}", path.display())))?;
    let data_digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    drop(bytes);
    let format = Format::of(&path, spec.data.format.as_deref())?;
    let mut data = read_table(&path, format)?;
    if let Some(columns) = &spec.data.columns {
        let mut keep = columns.clone();
        if !keep.contains(&spec.data.label) {
            keep.push(spec.data.label.clone());
        }
        data = select(&data, &keep).map_err(|e| {
            PipelineError::Spec(format!("data.columns: {} has {e}", path.display()))
        })?;
    }
    let rows = data.num_rows as usize;
    let label = spec.data.label.clone();
    let label_col = data
        .columns
        .iter()
        .find(|c| c.name == label)
        .cloned()
        .ok_or_else(|| {
            PipelineError::Spec(format!(
                "data.label: {} has no column `{label}`; it has {}",
                path.display(),
                data.columns
                    .iter()
                    .map(|c| format!("`{}`", c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    if label_col
        .nulls
        .as_ref()
        .is_some_and(|m| m.iter().any(|&x| x))
    {
        return Err(PipelineError::Spec(format!(
            "data.label: the column `{label}` has nulls; every training row needs a label"
        )));
    }
    if rows < 2 {
        return Err(PipelineError::Spec(format!(
            "{}: at least 2 rows are needed, found {rows}",
            path.display()
        )));
    }
    progress.advance(1);
    progress.done(&format!(
        "{rows} rows, {} columns, {data_digest}",
        data.columns.len()
    ));

    // The run starts here; from now on a failure is recorded with it.
    let experiment = match registry.experiment_by_name(spec.experiment_name()).await {
        Ok(e) => e,
        Err(RegistryError::NotFound(_)) => {
            match registry
                .create_experiment(spec.experiment_name(), None)
                .await
            {
                Ok(e) => e,
                Err(RegistryError::Conflict(_)) => {
                    registry.experiment_by_name(spec.experiment_name()).await?
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let run = registry
        .create_run(
            &experiment.id,
            options.run_name.as_deref(),
            &options.user,
            None,
        )
        .await?;
    let run_id = run.id.clone();
    let result = train_in_run(
        registry,
        spec,
        options,
        &run_id,
        TrainInputs {
            validators,
            transforms,
            model,
            data,
            label_col,
            data_digest,
        },
    )
    .await;
    match result {
        Ok((evaluation, gates, lineage, model_version)) => {
            registry
                .update_run(&run_id, Some(RunStatus::Finished), Some(now_ms()), None)
                .await?;
            Ok(TrainOutcome {
                run_id,
                experiment_id: experiment.id,
                evaluation,
                gates,
                lineage,
                model_version,
            })
        }
        Err(e) => {
            let message: String = e.to_string().chars().take(7000).collect();
            let _ = registry.set_run_tag(&run_id, "ferry.error", &message).await;
            let _ = registry
                .update_run(&run_id, Some(RunStatus::Failed), Some(now_ms()), None)
                .await;
            Err(e)
        }
    }
}

struct TrainInputs {
    validators: Vec<(Plugin, String, Option<Vec<String>>)>,
    transforms: Vec<(Plugin, String, Option<Vec<String>>)>,
    model: Option<(Plugin, String, Option<Vec<String>>)>,
    data: Batch,
    label_col: crate::runtime::bindings::types::Column,
    data_digest: String,
}

type TrainResult = (
    Evaluation,
    Vec<(String, Option<String>)>,
    Lineage,
    Option<ModelVersion>,
);

async fn train_in_run(
    registry: &Registry,
    spec: &PipelineSpec,
    options: &TrainOptions<'_>,
    run_id: &str,
    inputs: TrainInputs,
) -> Result<TrainResult, PipelineError> {
    let progress = options.progress;
    let TrainInputs {
        validators,
        transforms,
        model,
        data,
        label_col,
        data_digest,
    } = inputs;
    let label = spec.data.label.as_str();
    let rows = data.num_rows as usize;

    let params: Vec<(String, String)> = {
        let mut p = vec![
            ("pipeline".to_string(), spec.name.clone()),
            ("data.path".into(), spec.data.path.display().to_string()),
            ("data.label".into(), label.to_string()),
            (
                "split.test_fraction".into(),
                spec.split.test_fraction.to_string(),
            ),
            ("split.seed".into(), spec.split.seed.to_string()),
        ];
        for (i, (plugin, config, _)) in validators.iter().enumerate() {
            p.push((
                format!("validators.{}", step_dir(i, plugin.name())),
                format!("{}@{}", plugin.name(), plugin.manifest().version),
            ));
            p.push((
                format!("validators.{}.config", step_dir(i, plugin.name())),
                config.clone(),
            ));
        }
        for (i, (plugin, config, _)) in transforms.iter().enumerate() {
            p.push((
                format!("transforms.{}", step_dir(i, plugin.name())),
                format!("{}@{}", plugin.name(), plugin.manifest().version),
            ));
            p.push((
                format!("transforms.{}.config", step_dir(i, plugin.name())),
                config.clone(),
            ));
        }
        if let Some((plugin, hp, _)) = &model {
            p.push((
                "model.plugin".into(),
                format!("{}@{}", plugin.name(), plugin.manifest().version),
            ));
            if let Ok(serde_json::Value::Object(map)) =
                serde_json::from_str::<serde_json::Value>(hp)
            {
                for (k, v) in map {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    p.push((format!("model.{k}"), text));
                }
            }
        }
        p
    };
    for (k, v) in &params {
        let v: String = v.chars().take(8000).collect();
        registry.log_param(run_id, k, &v).await?;
    }
    let mut tags = vec![
        (
            "ferry.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("ferry.host".into(), host_name()),
        ("ferry.pipeline".into(), spec.name.clone()),
        ("ferry.data.digest".into(), data_digest.clone()),
        ("ferry.data.rows".into(), rows.to_string()),
        ("mlflow.user".into(), options.user.clone()),
        ("mlflow.source.type".into(), "LOCAL".into()),
        (
            "mlflow.source.name".into(),
            spec.base_dir.display().to_string(),
        ),
    ];
    if let Some(commit) = git_commit(&spec.base_dir) {
        tags.push(("mlflow.source.git.commit".into(), commit.clone()));
        tags.push(("ferry.git.commit".into(), commit));
    }
    for (k, v) in &tags {
        registry.set_run_tag(run_id, k, v).await?;
    }
    registry
        .log_artifact(run_id, "pipeline.toml", spec.text.as_bytes())
        .await?;

    // 1. Validate the whole data.
    progress.stage("validate", validators.len().max(1) as u64);
    let mut validation = Vec::new();
    let mut failures = Vec::new();
    for (i, (plugin, config, reads)) in validators.iter().enumerate() {
        let mut inst = ValidatorInstance::new(plugin).await?;
        let v = view(&data, reads, &format!("validators[{i}]"))?;
        let report = inst.validate(config, &v).await?;
        let count: u64 = report
            .counts
            .iter()
            .map(|c| c.count)
            .sum::<u64>()
            .max(report.violations.len() as u64);
        let json = serde_json::json!({
            "validator": plugin.name(),
            "version": plugin.manifest().version,
            "rows_checked": report.rows_checked,
            "violations": report.violations.iter().map(|x| serde_json::json!({"rule": x.rule, "column": x.column, "row": x.row, "message": x.message})).collect::<Vec<_>>(),
            "counts": report.counts.iter().map(|c| serde_json::json!({"rule": c.rule, "column": c.column, "count": c.count})).collect::<Vec<_>>(),
            "truncated": report.truncated,
        });
        registry
            .log_artifact(
                run_id,
                &format!("validation/{}.json", step_dir(i, plugin.name())),
                serde_json::to_string_pretty(&json)
                    .unwrap_or_default()
                    .as_bytes(),
            )
            .await?;
        for x in report.violations.iter().take(5) {
            failures.push(format!(
                "{}: {}{}{}",
                plugin.name(),
                x.column
                    .as_deref()
                    .map(|c| format!("`{c}` "))
                    .unwrap_or_default(),
                x.row.map(|r| format!("row {r}: ")).unwrap_or_default(),
                x.message
            ));
        }
        if count > 5 && report.violations.len() > 5 {
            failures.push(format!("{}: … {} more", plugin.name(), count - 5));
        }
        validation.push(ValidationSummary {
            validator: plugin.name().to_string(),
            rows_checked: u64::from(report.rows_checked),
            violations: count,
        });
        progress.advance(1);
    }
    if !failures.is_empty() {
        progress.done("the data broke the validators' rules");
        return Err(PipelineError::Invalid(failures.join("; ")));
    }
    progress.done(&format!("{} validator(s) passed", validators.len()));

    // 2. Split.
    let (train_idx, test_idx) = split(rows, spec.split.test_fraction, spec.split.seed);
    let input_schema: Vec<FieldSpec> = schema_of(&data)
        .iter()
        .filter(|f| f.name != label)
        .map(FieldSpec::of)
        .collect();
    let label_train = take_rows(
        &Batch {
            num_rows: data.num_rows,
            columns: vec![label_col.clone()],
        },
        &train_idx,
    )
    .columns
    .remove(0);
    let label_test = take_rows(
        &Batch {
            num_rows: data.num_rows,
            columns: vec![label_col.clone()],
        },
        &test_idx,
    )
    .columns
    .remove(0);
    let mut features_data = data.clone();
    features_data.columns.retain(|c| c.name != label);
    drop(data);
    let mut train_data = take_rows(&features_data, &train_idx);
    let mut test_data = take_rows(&features_data, &test_idx);
    drop(features_data);
    registry
        .log_metric(
            run_id,
            Metric {
                key: "data.train_rows",
                value: train_idx.len() as f64,
                step: 0,
                timestamp: now_ms(),
            },
        )
        .await?;
    registry
        .log_metric(
            run_id,
            Metric {
                key: "data.test_rows",
                value: test_idx.len() as f64,
                step: 0,
                timestamp: now_ms(),
            },
        )
        .await?;

    // 3. Learn each transform over the training split, batch by batch, then apply it.
    let mut transform_lineage = Vec::new();
    for (i, (plugin, config, reads)) in transforms.iter().enumerate() {
        let what = format!("transforms[{i}]");
        progress.stage(
            &format!("learn {}", plugin.name()),
            train_data.num_rows as u64 * 2 + test_data.num_rows as u64,
        );
        let mut inst = TransformInstance::new(plugin).await?;
        let train_view = view(&train_data, reads, &what)?;
        let analyzer = inst.new_analyzer(config, &schema_of(&train_view)).await?;
        let n = train_view.num_rows as usize;
        let mut start = 0;
        while start < n {
            let end = (start + BATCH_ROWS).min(n);
            inst.update(analyzer, &slice_rows(&train_view, start, end))
                .await?;
            progress.advance((end - start) as u64);
            start = end;
        }
        let state = inst.finish(analyzer).await?;
        let transformer = inst.new_transformer(config, &state).await?;
        let mut writes = Vec::new();
        for part in [&mut train_data, &mut test_data] {
            let v = view(part, reads, &what)?;
            let n = v.num_rows as usize;
            let mut outs = Vec::new();
            let mut start = 0;
            while start < n {
                let end = (start + BATCH_ROWS).min(n);
                outs.push(inst.apply(transformer, &slice_rows(&v, start, end)).await?);
                progress.advance((end - start) as u64);
                start = end;
            }
            let schema = outs.first().map(schema_of).unwrap_or_default();
            if writes.is_empty() {
                writes = schema.clone();
            }
            let out = crate::data::concat(&schema, outs).map_err(PipelineError::Other)?;
            merge_columns(part, out);
        }
        let info = registry
            .log_artifact(
                run_id,
                &format!("transforms/{}/state.bin", step_dir(i, plugin.name())),
                &state,
            )
            .await?;
        progress.done(&format!("state {} bytes, {}", state.len(), info.digest));
        transform_lineage.push(TransformLineage {
            plugin: PinnedPlugin::of(plugin),
            config: config.clone(),
            reads: reads.clone(),
            writes: writes.iter().map(FieldSpec::of).collect(),
            state_digest: info.digest,
        });
    }

    let mut lineage = Lineage {
        format: LINEAGE_FORMAT.into(),
        pipeline: spec.name.clone(),
        label: label.to_string(),
        input_schema,
        validators: validators
            .iter()
            .map(|(p, c, r)| ValidatorLineage {
                plugin: PinnedPlugin::of(p),
                config: c.clone(),
                reads: r.clone(),
            })
            .collect(),
        transforms: transform_lineage,
        model: None,
        run_id: Some(run_id.to_string()),
        data: Some(DataLineage {
            path: spec.data.path.display().to_string(),
            digest: data_digest,
            rows: rows as u64,
            train_rows: train_idx.len() as u64,
            test_rows: test_idx.len() as u64,
            seed: spec.split.seed,
            test_fraction: spec.split.test_fraction,
        }),
        metrics: BTreeMap::new(),
        validation,
        description: spec.description.clone(),
        limitations: spec.limitations.clone(),
        ferry_version: env!("CARGO_PKG_VERSION").into(),
    };

    // 4. Train and evaluate.
    let mut evaluation = Evaluation::default();
    let mut gates = Vec::new();
    if let Some((plugin, hp, features)) = &model {
        let features = match features {
            Some(f) => f.clone(),
            None => train_data
                .columns
                .iter()
                .filter(|c| matches!(c.data, ColumnData::Float64(_) | ColumnData::Int64(_)))
                .map(|c| c.name.clone())
                .collect(),
        };
        if features.is_empty() {
            return Err(PipelineError::Spec(
                "model.features: no numeric columns to train on".into(),
            ));
        }
        let train_x = select(&train_data, &features).map_err(|e| {
            PipelineError::Spec(format!("model.features: {e} after the transforms"))
        })?;
        let test_x = select(&test_data, &features).map_err(|e| {
            PipelineError::Spec(format!("model.features: {e} after the transforms"))
        })?;
        progress.stage(&format!("train {}", plugin.name()), 1);
        let mut inst = ModelInstance::new(plugin).await?;
        let artifact = inst.train(&train_x, &label_train, hp).await?;
        progress.advance(1);
        let info = registry
            .log_artifact(run_id, "model/model.bin", &artifact)
            .await?;
        progress.done(&format!(
            "artifact {} bytes, {}",
            artifact.len(),
            info.digest
        ));

        progress.stage("evaluate", test_x.num_rows as u64);
        let handle = inst.load(&artifact, "{}").await?;
        let described = inst.describe(handle).await?;
        let predictions = inst.predict(handle, &test_x).await?;
        progress.advance(test_x.num_rows as u64);
        evaluation = evaluate(
            described.task,
            &label_test,
            &predictions,
            spec.evaluation.positive_class.as_deref(),
        )
        .map_err(PipelineError::Other)?;
        if !spec.evaluation.metrics.is_empty() {
            let wanted = &spec.evaluation.metrics;
            for w in wanted {
                if !evaluation.metrics.contains_key(w) {
                    return Err(PipelineError::Spec(format!(
                        "evaluation.metrics: {w:?} is not computed for {}; choose from {}",
                        task_name(described.task),
                        metric_names(described.task).join(", ")
                    )));
                }
            }
            evaluation.metrics.retain(|k, _| wanted.contains(k));
        }
        let ts = now_ms();
        let metrics: Vec<Metric<'_>> = evaluation
            .metrics
            .iter()
            .map(|(k, v)| Metric {
                key: k,
                value: *v,
                step: 0,
                timestamp: ts,
            })
            .collect();
        registry.log_metrics(run_id, &metrics).await?;
        registry
            .log_artifact(
                run_id,
                "evaluation.json",
                serde_json::to_string_pretty(&evaluation)
                    .unwrap_or_default()
                    .as_bytes(),
            )
            .await?;
        progress.done(
            &evaluation
                .metrics
                .iter()
                .map(|(k, v)| format!("{k} {v:.4}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        for g in &spec.evaluation.gates {
            let gate = Gate::parse(g).map_err(PipelineError::Spec)?;
            gates.push((gate.to_string(), gate.check(&evaluation.metrics).err()));
        }
        lineage.metrics = evaluation.metrics.clone();
        lineage.model = Some(ModelLineage {
            plugin: PinnedPlugin::of(plugin),
            artifact_digest: info.digest,
            load_config: "{}".into(),
            hyperparameters: Some(hp.clone()),
            features,
            task: task_name(described.task).into(),
            outputs: described.outputs.iter().map(|o| o.name.clone()).collect(),
        });
    }
    let lineage_json =
        serde_json::to_string_pretty(&lineage).map_err(|e| PipelineError::Other(e.to_string()))?;
    registry
        .log_artifact(run_id, "lineage.json", lineage_json.as_bytes())
        .await?;
    let passed = gates
        .iter()
        .all(|(_, f): &(String, Option<String>)| f.is_none());
    registry
        .set_run_tag(
            run_id,
            "ferry.gates",
            if gates.is_empty() {
                "none"
            } else if passed {
                "passed"
            } else {
                "failed"
            },
        )
        .await?;

    // 5. Register.
    let mut model_version = None;
    if passed && options.register && spec.register.enabled && lineage.model.is_some() {
        let name = spec.model_name();
        let mv = register_version(
            registry,
            name,
            &spec.description,
            &lineage,
            &options.user,
            "",
        )
        .await?;
        if let Some(alias) = &spec.register.alias {
            registry.set_model_alias(name, alias, mv.version).await?;
        }
        registry
            .set_run_tag(
                run_id,
                "ferry.model_version",
                &format!("{name}/{}", mv.version),
            )
            .await?;
        model_version = Some(registry.model_version(name, mv.version).await?);
    }
    Ok((evaluation, gates, lineage, model_version))
}

/// The task's name as the contract spells it.
pub fn task_name(t: Task) -> &'static str {
    match t {
        Task::BinaryClassification => "binary-classification",
        Task::MulticlassClassification => "multiclass-classification",
        Task::Regression => "regression",
    }
}

/// Registers a model version after checking everything its lineage pins (plugins, states and
/// artifact by digest) and, when it names a run, that its transforms are the run's.
pub async fn register_version(
    registry: &Registry,
    name: &str,
    description: &str,
    lineage: &Lineage,
    user: &str,
    version_description: &str,
) -> Result<ModelVersion, PipelineError> {
    if lineage.model.is_none() {
        return Err(PipelineError::Spec(
            "the lineage has no model to register".into(),
        ));
    }
    super::pinned::check_lineage(registry, lineage).await?;
    if let Some(run) = &lineage.run_id {
        let recorded = registry
            .read_artifact(run, "lineage.json")
            .await
            .map_err(|e| {
                PipelineError::Skew(format!(
                    "run {run}: no recorded lineage to check against ({e})"
                ))
            })?;
        let recorded =
            Lineage::parse(&String::from_utf8_lossy(&recorded)).map_err(PipelineError::Skew)?;
        if recorded.transforms.len() != lineage.transforms.len() {
            return Err(PipelineError::Skew(format!(
                "run {run} learned {} transform(s), the lineage has {}",
                recorded.transforms.len(),
                lineage.transforms.len()
            )));
        }
        for (i, (a, b)) in recorded
            .transforms
            .iter()
            .zip(&lineage.transforms)
            .enumerate()
        {
            if a.plugin != b.plugin {
                return Err(PipelineError::Skew(format!(
                    "transform {}: run {run} used {} but the lineage pins {}",
                    i + 1,
                    a.plugin,
                    b.plugin
                )));
            }
            if a.state_digest != b.state_digest || a.config != b.config {
                return Err(PipelineError::Skew(format!(
                    "transform {} ({}): run {run} learned state {} but the lineage pins {}{}",
                    i + 1,
                    a.plugin.name,
                    a.state_digest,
                    b.state_digest,
                    if a.config != b.config {
                        " (and another configuration)"
                    } else {
                        ""
                    }
                )));
            }
        }
        if recorded.input_schema != lineage.input_schema
            || recorded.validators != lineage.validators
        {
            return Err(PipelineError::Skew(format!(
                "run {run}: the lineage's input schema or validators differ from the run's"
            )));
        }
    }
    match registry
        .create_registered_model(name, description, &[])
        .await
    {
        Ok(_) | Err(RegistryError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let source = match &lineage.run_id {
        Some(run) => registry.run(run).await?.info.artifact_uri + "/model",
        None => String::new(),
    };
    let text = serde_json::to_string(lineage).map_err(|e| PipelineError::Other(e.to_string()))?;
    Ok(registry
        .create_model_version(
            name,
            NewModelVersion {
                source,
                run_id: lineage.run_id.clone(),
                user_id: user.to_string(),
                description: version_description.to_string(),
                lineage: Some(text),
                tags: Vec::new(),
            },
        )
        .await?)
}
