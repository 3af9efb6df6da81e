//! `train`, orchestration only: resolve the pipeline's plugins, read the data, and in a tracked
//! run validate, learn and apply the transforms, train and evaluate the model (all through the
//! step engine, with the purity check on the training sample), record what happened, and
//! register a version when the gates pass.

use std::collections::BTreeMap;

use ferry_registry::{ModelVersion, RunStatus};
use sha2::{Digest, Sha256};

use super::PipelineError;
use super::pinned::{PluginPolicy, load_resolved};
use super::record::{self, RunLog, step_dir};
use super::register::register_in;
use super::spec::PipelineSpec;
use crate::store::Store;
use ferry_core::data::{Format, concat, csv_bytes, read_table, schema_of, select, take_rows};
use ferry_core::lineage::{
    DataLineage, FieldSpec, LINEAGE_FORMAT, Lineage, ModelLineage, PinnedPlugin, TransformLineage,
    ValidationSummary, ValidatorLineage,
};
use ferry_core::metrics::{Evaluation, Gate, evaluate, metric_names, task_name};
use ferry_core::split::split;
use ferry_core::stats::{Profile, Role};
use ferry_core::steps::{
    BATCH_ROWS, LearnedTransform, ModelStep, TransformStep, ValidatorStep, purity,
};
use ferry_runtime::bindings::types::{Batch, Column, ColumnData};
use ferry_runtime::{Plugin, Runtime};

/// Rows of the data file whose computed features a run keeps (`features/sample.csv`).
pub const FEATURE_SAMPLE_ROWS: usize = 1000;

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
    /// Grants, limits and the trust policy for the plugins.
    pub plugins: PluginPolicy,
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
    /// Why no version was registered, when none was.
    pub not_registered: Option<String>,
}

impl TrainOutcome {
    /// True when every gate held.
    pub fn gates_passed(&self) -> bool {
        self.gates.iter().all(|(_, f)| f.is_none())
    }
}

/// The model step as the pipeline file describes it.
struct ModelPlan {
    plugin: Plugin,
    hyperparameters: String,
    features: Option<Vec<String>>,
}

/// The pipeline's steps, with their plugins resolved and loaded.
struct Plan {
    validators: Vec<ValidatorStep>,
    transforms: Vec<TransformStep>,
    model: Option<ModelPlan>,
}

/// The training data, read.
struct Data {
    table: Batch,
    label: Column,
    digest: String,
}

/// Trains a pipeline and records it in `store` (the local registry or a remote Ferry); see
/// the module documentation.
pub async fn train(
    runtime: &Runtime,
    store: &Store,
    spec: &PipelineSpec,
    options: &TrainOptions<'_>,
) -> Result<TrainOutcome, PipelineError> {
    check_roles(store, spec, options).await?;
    let progress = options.progress;
    progress.stage("resolve plugins", 1);
    let plan = resolve(runtime, store, spec, &options.plugins).await?;
    progress.advance(1);
    progress.done(&format!(
        "{} validator(s), {} transform(s), {}",
        plan.validators.len(),
        plan.transforms.len(),
        plan.model
            .as_ref()
            .map(|m| format!("model {}@{}", m.plugin.name(), m.plugin.manifest().version))
            .unwrap_or_else(|| "no model".into())
    ));

    progress.stage("read data", 1);
    let data = read_data(spec)?;
    progress.advance(1);
    progress.done(&format!(
        "{} rows, {} columns, {}",
        data.table.num_rows,
        data.table.columns.len(),
        data.digest
    ));

    // The run starts here; from now on a failure is recorded with it.
    let experiment = store.experiment_id(spec.experiment_name()).await?;
    let run = store
        .create_run(&experiment, options.run_name.as_deref(), &options.user)
        .await?;
    let log = RunLog::new(store, experiment.clone(), run.clone());
    let outcome = async {
        let trained = run_pipeline(spec, options, &log, plan, data).await?;
        let registered = register(store, spec, options, &log, &trained).await?;
        Ok::<_, PipelineError>((trained, registered))
    }
    .await;
    match outcome {
        Ok((trained, (model_version, not_registered))) => {
            store.end_run(&run, RunStatus::Finished).await?;
            Ok(TrainOutcome {
                run_id: run,
                experiment_id: experiment,
                evaluation: trained.evaluation,
                gates: trained.gates,
                lineage: trained.lineage,
                model_version,
                not_registered,
            })
        }
        Err(e) => {
            let message: String = e.to_string().chars().take(7000).collect();
            let _ = log.tags(&[("ferry.error".into(), message)]).await;
            let _ = store.end_run(&run, RunStatus::Failed).await;
            Err(e)
        }
    }
}

/// Checks, before anything is done, that a remote Ferry's token may do all the run will do:
/// record it (publisher), register its version, and set its alias (deployer). A run cut off
/// half-way would leave a registered version that its alias never reached.
async fn check_roles(
    store: &Store,
    spec: &PipelineSpec,
    options: &TrainOptions<'_>,
) -> Result<(), PipelineError> {
    let Store::Remote(client) = store else {
        return Ok(());
    };
    let registers = spec.model.is_some() && options.register && spec.register.enabled;
    let (needed, why) = match &spec.register.alias {
        Some(alias) if registers => (
            ferry_registry::Role::Deployer,
            format!(
                "it registers a version of {} and sets its alias `{alias}`",
                spec.model_name()
            ),
        ),
        _ if registers => (
            ferry_registry::Role::Publisher,
            format!(
                "it records a run and registers a version of {}",
                spec.model_name()
            ),
        ),
        _ => (
            ferry_registry::Role::Publisher,
            "it records a run".to_string(),
        ),
    };
    let held = client.role().await?;
    if held.as_ref().is_some_and(|(_, role)| *role >= needed) {
        return Ok(());
    }
    let who = match held {
        Some((name, role)) => format!("token {name} has the {} role", role.name()),
        None => "no token was given".into(),
    };
    Err(client
        .forbidden(format!(
            "this run needs the {} role on {}: {why}; {who}. Nothing was done",
            needed.name(),
            client.url()
        ))
        .into())
}

async fn resolve(
    runtime: &Runtime,
    store: &Store,
    spec: &PipelineSpec,
    load: &PluginPolicy,
) -> Result<Plan, PipelineError> {
    let mut validators = Vec::new();
    for (i, v) in spec.validators.iter().enumerate() {
        let what = format!("validators[{i}] ({})", v.plugin);
        validators.push(ValidatorStep {
            plugin: load_resolved(runtime, store, &v.plugin, load).await?,
            config: spec.config_json(&what, v.config.as_ref())?,
            reads: v.reads.clone(),
        });
    }
    let mut transforms = Vec::new();
    for (i, t) in spec.transforms.iter().enumerate() {
        let what = format!("transforms[{i}] ({})", t.plugin);
        transforms.push(TransformStep {
            plugin: load_resolved(runtime, store, &t.plugin, load).await?,
            config: spec.config_json(&what, t.config.as_ref())?,
            reads: t.reads.clone(),
        });
    }
    let model = match &spec.model {
        Some(m) => Some(ModelPlan {
            plugin: load_resolved(runtime, store, &m.plugin, load).await?,
            hyperparameters: spec
                .config_json("model.hyperparameters", m.hyperparameters.as_ref())?,
            features: m.features.clone(),
        }),
        None => None,
    };
    Ok(Plan {
        validators,
        transforms,
        model,
    })
}

fn read_data(spec: &PipelineSpec) -> Result<Data, PipelineError> {
    let path = spec.data_path();
    let bytes = std::fs::read(&path)
        .map_err(|e| PipelineError::Spec(format!("data.path {}: {e}", path.display())))?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    drop(bytes);
    let format = Format::of(&path, spec.data.format.as_deref())?;
    let mut table = read_table(&path, format)?;
    if let Some(columns) = &spec.data.columns {
        let mut keep = columns.clone();
        if !keep.contains(&spec.data.label) {
            keep.push(spec.data.label.clone());
        }
        table = select(&table, &keep).map_err(|e| {
            PipelineError::Spec(format!("data.columns: {} has {e}", path.display()))
        })?;
    }
    let label_name = &spec.data.label;
    let label = table
        .columns
        .iter()
        .find(|c| &c.name == label_name)
        .cloned()
        .ok_or_else(|| {
            PipelineError::Spec(format!(
                "data.label: {} has no column `{label_name}`; it has {}",
                path.display(),
                table
                    .columns
                    .iter()
                    .map(|c| format!("`{}`", c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    if label.nulls.as_ref().is_some_and(|m| m.iter().any(|&x| x)) {
        return Err(PipelineError::Spec(format!(
            "data.label: the column `{label_name}` has nulls; every training row needs a label"
        )));
    }
    if table.num_rows < 2 {
        return Err(PipelineError::Spec(format!(
            "{}: at least 2 rows are needed, found {}",
            path.display(),
            table.num_rows
        )));
    }
    Ok(Data {
        table,
        label,
        digest,
    })
}

/// What the steps produced.
struct Trained {
    evaluation: Evaluation,
    gates: Vec<(String, Option<String>)>,
    lineage: Lineage,
}

/// The rows of one split: their indices in the data file, their columns and labels.
struct Part {
    rows: Vec<usize>,
    data: Batch,
    labels: Column,
}

impl Part {
    fn of(features: &Batch, label: &Column, rows: Vec<usize>) -> Self {
        let labels = take_rows(
            &Batch {
                num_rows: features.num_rows,
                columns: vec![label.clone()],
            },
            &rows,
        )
        .columns
        .remove(0);
        Self {
            data: take_rows(features, &rows),
            labels,
            rows,
        }
    }
}

async fn run_pipeline(
    spec: &PipelineSpec,
    options: &TrainOptions<'_>,
    log: &RunLog<'_>,
    plan: Plan,
    data: Data,
) -> Result<Trained, PipelineError> {
    let progress = options.progress;
    let label = spec.data.label.as_str();
    let rows = data.table.num_rows as usize;
    log.params(&record::params(
        spec,
        &plan.validators,
        &plan.transforms,
        plan.model
            .as_ref()
            .map(|m| (&m.plugin, m.hyperparameters.as_str())),
    ))
    .await?;
    log.tags(&record::tags(spec, &options.user, &data.digest, rows))
        .await?;
    log.file("pipeline.toml", spec.text.as_bytes()).await?;

    let validation = validate(log, &plan.validators, &data.table, progress).await?;

    let (train_rows, test_rows) = split(rows, spec.split.test_fraction, spec.split.seed);
    let input_schema: Vec<FieldSpec> = schema_of(&data.table)
        .iter()
        .filter(|f| f.name != label)
        .map(FieldSpec::of)
        .collect();
    let mut features = data.table;
    features.columns.retain(|c| c.name != label);
    let mut profile = Profile::new();
    profile.add(&features, Role::Input, &[]);
    let mut train = Part::of(&features, &data.label, train_rows);
    let mut test = Part::of(&features, &data.label, test_rows);
    drop(features);
    log.metrics(&[
        ("data.train_rows", train.rows.len() as f64),
        ("data.test_rows", test.rows.len() as f64),
    ])
    .await?;

    let mut transforms = Vec::new();
    for (i, step) in plan.transforms.into_iter().enumerate() {
        transforms.push(learn(log, i, step, &mut train, &mut test, progress).await?);
    }

    let mut lineage = Lineage {
        format: LINEAGE_FORMAT.into(),
        pipeline: spec.name.clone(),
        label: label.to_string(),
        input_schema,
        validators: plan
            .validators
            .iter()
            .map(|v| ValidatorLineage {
                plugin: PinnedPlugin::of(&v.plugin),
                config: v.config.clone(),
                reads: v.reads.clone(),
            })
            .collect(),
        transforms,
        model: None,
        run_id: Some(log.run_id.clone()),
        data: Some(DataLineage {
            path: spec.data.path.display().to_string(),
            digest: data.digest,
            rows: rows as u64,
            train_rows: train.rows.len() as u64,
            test_rows: test.rows.len() as u64,
            seed: spec.split.seed,
            test_fraction: spec.split.test_fraction,
        }),
        metrics: BTreeMap::new(),
        validation,
        reference_profile: None,
        description: spec.description.clone(),
        limitations: spec.limitations.clone(),
        ferry_version: env!("CARGO_PKG_VERSION").into(),
    };

    let mut evaluation = Evaluation::default();
    let mut gates = Vec::new();
    if let Some(model) = plan.model {
        let (e, m) = train_model(spec, log, model, &train, &test, progress).await?;
        evaluation = e;
        for g in &spec.evaluation.gates {
            let gate = Gate::parse(g).map_err(PipelineError::Spec)?;
            gates.push((gate.to_string(), gate.check(&evaluation.metrics).err()));
        }
        lineage.metrics = evaluation.metrics.clone();
        lineage.model = Some(m);
    }
    profile_features(&mut profile, &lineage, &train, &test)?;
    let profile_digest = log
        .file("reference/profile.json", &profile.to_bytes())
        .await?;
    lineage.reference_profile = Some(profile_digest);
    let sample = feature_sample(&train, &test, FEATURE_SAMPLE_ROWS)?;
    let csv = csv_bytes(&[sample]).map_err(PipelineError::Other)?;
    log.file("features/sample.csv", &csv).await?;
    log.json("lineage.json", &lineage).await?;
    let passed = gates.iter().all(|(_, f)| f.is_none());
    let verdict = match (gates.is_empty(), passed) {
        (true, _) => "none",
        (false, true) => "passed",
        (false, false) => "failed",
    };
    log.tags(&[("ferry.gates".into(), verdict.into())]).await?;
    Ok(Trained {
        evaluation,
        gates,
        lineage,
    })
}

/// Runs every validator over the whole data, after the purity check over the same data; a
/// violation stops the run, with each report stored.
async fn validate(
    log: &RunLog<'_>,
    validators: &[ValidatorStep],
    data: &Batch,
    progress: &dyn TrainProgress,
) -> Result<Vec<ValidationSummary>, PipelineError> {
    progress.stage("validate", validators.len().max(1) as u64);
    let mut summaries = Vec::new();
    let mut failures = Vec::new();
    for (i, step) in validators.iter().enumerate() {
        let plugin = &step.plugin;
        purity::check_validator(step, data).await?;
        let report = step.validate(data).await?;
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
        log.json(
            &format!("validation/{}.json", step_dir(i, plugin.name())),
            &json,
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
        summaries.push(ValidationSummary {
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
    Ok(summaries)
}

/// Learns transform `i` over the training rows, checks its purity on their first rows, applies
/// it to both splits and stores its state.
async fn learn(
    log: &RunLog<'_>,
    i: usize,
    step: TransformStep,
    train: &mut Part,
    test: &mut Part,
    progress: &dyn TrainProgress,
) -> Result<TransformLineage, PipelineError> {
    let name = step.plugin.name().to_string();
    progress.stage(
        &format!("learn {name}"),
        u64::from(train.data.num_rows) * 2 + u64::from(test.data.num_rows),
    );
    let advance = |n| progress.advance(n);
    let state = step
        .fit(&train.data, BATCH_ROWS, &advance)
        .await
        .map_err(|e| columns_error(e, &format!("transforms[{i}]")))?;
    let learned: LearnedTransform = step.learned(state);
    purity::check_transform(&learned, &train.data).await?;
    let writes = learned
        .apply_all(&mut train.data, BATCH_ROWS, &advance)
        .await?;
    learned
        .apply_all(&mut test.data, BATCH_ROWS, &advance)
        .await?;
    let digest = log
        .file(
            &format!("transforms/{}/state.bin", step_dir(i, &name)),
            &learned.state,
        )
        .await?;
    progress.done(&format!("state {} bytes, {digest}", learned.state.len()));
    Ok(TransformLineage {
        plugin: PinnedPlugin::of(&learned.step.plugin),
        config: learned.step.config.clone(),
        reads: learned.step.reads.clone(),
        writes: writes.iter().map(FieldSpec::of).collect(),
        state_digest: digest,
    })
}

fn columns_error(e: ferry_core::steps::ServeError, what: &str) -> PipelineError {
    match e {
        ferry_core::steps::ServeError::Columns(m) => PipelineError::Spec(format!("{what}: {m}")),
        other => other.into(),
    }
}

/// Trains the model on the training rows, checks its purity, evaluates it on the held-out
/// rows and stores the artifact, the metrics and the evaluation.
async fn train_model(
    spec: &PipelineSpec,
    log: &RunLog<'_>,
    plan: ModelPlan,
    train: &Part,
    test: &Part,
    progress: &dyn TrainProgress,
) -> Result<(Evaluation, ModelLineage), PipelineError> {
    let features = match plan.features {
        Some(f) => f,
        None => train
            .data
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
    let pick = |data: &Batch| {
        select(data, &features)
            .map_err(|e| PipelineError::Spec(format!("model.features: {e} after the transforms")))
    };
    let (train_x, test_x) = (pick(&train.data)?, pick(&test.data)?);
    progress.stage(&format!("train {}", plan.plugin.name()), 1);
    let artifact =
        ModelStep::train(&plan.plugin, &train_x, &train.labels, &plan.hyperparameters).await?;
    progress.advance(1);
    let artifact_digest = log.file("model/model.bin", &artifact).await?;
    progress.done(&format!(
        "artifact {} bytes, {artifact_digest}",
        artifact.len()
    ));

    progress.stage("evaluate", u64::from(test_x.num_rows));
    let model = ModelStep {
        plugin: plan.plugin,
        artifact: artifact.into(),
        load_config: "{}".into(),
        features,
    };
    let described = model.describe().await?;
    purity::check_model(&model, &train_x).await?;
    let predictions = model.predict_all(&test_x, BATCH_ROWS).await?;
    progress.advance(u64::from(test_x.num_rows));
    let mut evaluation = evaluate(
        described.task,
        &test.labels,
        &predictions,
        spec.evaluation.positive_class.as_deref(),
    )
    .map_err(PipelineError::Other)?;
    let wanted = &spec.evaluation.metrics;
    if let Some(w) = wanted.iter().find(|w| !evaluation.metrics.contains_key(*w)) {
        return Err(PipelineError::Spec(format!(
            "evaluation.metrics: {w:?} is not computed for {}; choose from {}",
            task_name(described.task),
            metric_names(described.task).join(", ")
        )));
    }
    if !wanted.is_empty() {
        evaluation.metrics.retain(|k, _| wanted.contains(k));
    }
    let metrics: Vec<(&str, f64)> = evaluation
        .metrics
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    log.metrics(&metrics).await?;
    log.json("evaluation.json", &evaluation).await?;
    progress.done(
        &evaluation
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let lineage = ModelLineage {
        plugin: PinnedPlugin::of(&model.plugin),
        artifact_digest,
        load_config: model.load_config,
        hyperparameters: Some(plan.hyperparameters),
        features: model.features,
        task: task_name(described.task).into(),
        outputs: described.outputs.iter().map(|o| o.name.clone()).collect(),
    };
    Ok((evaluation, lineage))
}

/// The columns the run computed for the first `limit` rows of the data file, in file order,
/// after a `row` column with each row's index in the file.
/// Adds the model's features (every column the transforms wrote, without a model) over both
/// splits to the reference profile.
fn profile_features(
    profile: &mut Profile,
    lineage: &Lineage,
    train: &Part,
    test: &Part,
) -> Result<(), PipelineError> {
    let names = lineage.feature_names();
    if names.is_empty() {
        return Ok(());
    }
    let pick = |part: &Part| select(&part.data, &names).map_err(PipelineError::Other);
    let (a, b) = (pick(train)?, pick(test)?);
    let both = concat(&schema_of(&a), vec![a, b]).map_err(PipelineError::Other)?;
    profile.add(&both, Role::Feature, &[]);
    Ok(())
}

fn feature_sample(train: &Part, test: &Part, limit: usize) -> Result<Batch, PipelineError> {
    let pick = |part: &Part| -> (Vec<usize>, Vec<usize>) {
        part.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| **r < limit)
            .map(|(at, r)| (at, *r))
            .unzip()
    };
    let (train_at, train_rows) = pick(train);
    let (test_at, test_rows) = pick(test);
    let schema = schema_of(&train.data);
    let both = concat(
        &schema,
        vec![
            take_rows(&train.data, &train_at),
            take_rows(&test.data, &test_at),
        ],
    )
    .map_err(PipelineError::Other)?;
    let file_rows: Vec<usize> = train_rows.into_iter().chain(test_rows).collect();
    let mut order: Vec<usize> = (0..file_rows.len()).collect();
    order.sort_by_key(|&i| file_rows[i]);
    let mut sample = take_rows(&both, &order);
    sample.columns.insert(
        0,
        Column {
            name: "row".into(),
            data: ColumnData::Int64(order.iter().map(|&i| file_rows[i] as i64).collect()),
            nulls: None,
        },
    );
    Ok(sample)
}

/// Registers the trained model when the gates passed and registration is wanted; otherwise
/// says why not.
async fn register(
    store: &Store,
    spec: &PipelineSpec,
    options: &TrainOptions<'_>,
    log: &RunLog<'_>,
    trained: &Trained,
) -> Result<(Option<ModelVersion>, Option<String>), PipelineError> {
    let why_not = if trained.lineage.model.is_none() {
        Some(
            "the pipeline has no [model], so there is nothing to register (its features are in the run)",
        )
    } else if !trained.gates.iter().all(|(_, f)| f.is_none()) {
        Some("a gate failed")
    } else if !options.register {
        Some("--no-register was given")
    } else if !spec.register.enabled {
        Some("register.enabled = false in the pipeline")
    } else {
        None
    };
    if let Some(why) = why_not {
        return Ok((None, Some(why.to_string())));
    }
    let name = spec.model_name();
    let mv = register_in(
        store,
        name,
        &spec.description,
        &trained.lineage,
        &options.user,
        "",
    )
    .await?;
    log.tags(&[(
        "ferry.model_version".into(),
        format!("{name}/{}", mv.version),
    )])
    .await?;
    if let Some(alias) = &spec.register.alias {
        store.set_alias(name, alias, mv.version).await?;
    }
    Ok((
        Some(store.model_version(name, &mv.version.to_string()).await?),
        None,
    ))
}
