//! The purity check: a plugin that computes must give bit-identical output for the same input
//! whatever instance runs it and whatever else is in the batch. Four ways to look:
//! the same batch twice in fresh instances, the same batch twice in one reused instance, an
//! instance started from the plugin's snapshot (a plugin that exports its kind's `prepared-*`
//! interface) against one built from its configuration and state, and the batch whole against
//! row by row. A plugin that fails any is refused, with the column,
//! the first differing row and both values.
//!
//! The engine already gives every call a fresh instance, so hidden state cannot reach a
//! prediction; the check refuses such plugins anyway, because they are wrong, and catches what
//! no instance discipline can: output that depends on the other rows of the batch.

use std::collections::BTreeMap;

use super::{LearnedTransform, ModelStep, ServeError, TransformStep, ValidatorStep, view};
use crate::data::{schema_of, slice_rows};
use ferry_runtime::bindings::types::{Batch, Column, ColumnData, Report};
use ferry_runtime::manifest::PluginKind;
use ferry_runtime::{
    Failure, GuestError, ModelInstance, Plugin, TransformInstance, ValidatorInstance,
};

/// Rows of a model's feature sample (`features/sample.csv`) the check of an attached model
/// reads. `ferry train` checks every row of the training split.
pub const SAMPLE_ROWS: usize = 256;

const FRESH: &str = "the same batch twice in fresh instances";
const REUSED: &str = "the same batch twice in one instance";
const ROWS: &str = "the batch whole and row by row";
const PREPARED: &str =
    "the batch in an instance prepared once (prepared-*) and in one built from its configuration";

/// One cell, as compared: nulls equal nulls, floats by their bits.
#[derive(PartialEq)]
enum Cell<'a> {
    Null,
    Float(u64),
    Int(i64),
    Bool(bool),
    Text(&'a str),
}

impl std::fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => f.write_str("null"),
            Cell::Float(bits) => write!(f, "{:?}", f64::from_bits(*bits)),
            Cell::Int(v) => write!(f, "{v}"),
            Cell::Bool(v) => write!(f, "{v}"),
            Cell::Text(v) => write!(f, "{v:?}"),
        }
    }
}

fn cell(column: &Column, row: usize) -> Cell<'_> {
    if column
        .nulls
        .as_ref()
        .is_some_and(|n| n.get(row) == Some(&true))
    {
        return Cell::Null;
    }
    let missing = Cell::Text("<no value>");
    match &column.data {
        ColumnData::Float64(v) => v.get(row).map_or(missing, |x| Cell::Float(x.to_bits())),
        ColumnData::Int64(v) => v.get(row).map_or(missing, |x| Cell::Int(*x)),
        ColumnData::Boolean(v) => v.get(row).map_or(missing, |x| Cell::Bool(*x)),
        ColumnData::Text(v) => v.get(row).map_or(missing, |x| Cell::Text(x)),
    }
}

/// The first place two outputs differ: column, row and both values.
struct Difference {
    column: String,
    row: u64,
    first: String,
    second: String,
}

/// Compares rows `a_rows` of `a` with rows starting at `b_start` of `b`, column by column.
fn first_difference(
    a: &Batch,
    a_rows: std::ops::Range<usize>,
    b: &Batch,
    b_start: usize,
) -> Option<Difference> {
    for ca in &a.columns {
        let Some(cb) = b.columns.iter().find(|c| c.name == ca.name) else {
            return Some(Difference {
                column: ca.name.clone(),
                row: a_rows.start as u64,
                first: "a column".into(),
                second: "no such column".into(),
            });
        };
        for (i, r) in a_rows.clone().enumerate() {
            let (x, y) = (cell(ca, r), cell(cb, b_start + i));
            if x != y {
                return Some(Difference {
                    column: ca.name.clone(),
                    row: r as u64,
                    first: x.to_string(),
                    second: y.to_string(),
                });
            }
        }
    }
    b.columns
        .iter()
        .find(|cb| !a.columns.iter().any(|ca| ca.name == cb.name))
        .map(|cb| Difference {
            column: cb.name.clone(),
            row: a_rows.start as u64,
            first: "no such column".into(),
            second: "a column".into(),
        })
}

fn refuse(plugin: &Plugin, check: &str, d: Difference) -> ServeError {
    ServeError::Plugin(plugin.error(
        "purity check",
        Failure::Impure {
            check: check.to_string(),
            column: d.column,
            row: d.row,
            first: d.first,
            second: d.second,
        },
    ))
}

/// What is checked: one step that computes.
#[derive(Clone, Copy)]
enum Subject<'a> {
    Validator(&'a ValidatorStep),
    Transform(&'a LearnedTransform),
    Model(&'a ModelStep),
}

impl Subject<'_> {
    fn plugin(&self) -> &Plugin {
        match self {
            Subject::Validator(v) => &v.plugin,
            Subject::Transform(t) => &t.step.plugin,
            Subject::Model(m) => &m.plugin,
        }
    }

    /// The output for `batch` in a fresh instance: started from the plugin's snapshot when it
    /// exports `prepared-*`, as serving runs it.
    async fn run(&self, batch: &Batch) -> Result<Batch, ServeError> {
        match self {
            Subject::Validator(step) => {
                let report = step.validate(batch).await?;
                Ok(findings(&report, batch.num_rows as usize))
            }
            Subject::Transform(learned) => {
                learned.prepare().await?.apply(&learned.step, batch).await
            }
            Subject::Model(model) => model.prepare().await?.predict(batch).await,
        }
    }

    /// The output for `batch`, twice, from one instance built from the configuration (and
    /// state or artifact) through the plain interface.
    async fn twice(&self, batch: &Batch) -> Result<(Batch, Batch), ServeError> {
        match self {
            Subject::Validator(step) => {
                let mut inst = ValidatorInstance::new(&step.plugin).await?;
                let v = view(batch, &step.reads)?;
                let first = inst.validate(&step.config, &v).await?;
                let second = inst.validate(&step.config, &v).await?;
                let n = batch.num_rows as usize;
                Ok((findings(&first, n), findings(&second, n)))
            }
            Subject::Transform(learned) => {
                let mut inst = TransformInstance::new(&learned.step.plugin).await?;
                let handle = inst
                    .new_transformer(&learned.step.config, &learned.state)
                    .await?;
                let v = view(batch, &learned.step.reads)?;
                let first = inst.apply(handle, &v).await?;
                let second = inst.apply(handle, &v).await?;
                Ok((first, second))
            }
            Subject::Model(model) => {
                let mut inst = ModelInstance::new(&model.plugin).await?;
                let handle = inst.load(&model.artifact, &model.load_config).await?;
                let first = inst.predict(handle, batch).await?;
                let second = inst.predict(handle, batch).await?;
                Ok((first, second))
            }
        }
    }

    /// Runs the three comparisons over `sample`.
    async fn check(self, sample: &Batch) -> Result<(), ServeError> {
        let n = sample.num_rows as usize;
        let whole = self.run(sample).await?;
        let again = self.run(sample).await?;
        if let Some(d) = first_difference(&whole, 0..n, &again, 0) {
            return Err(refuse(self.plugin(), FRESH, d));
        }
        let (first, second) = self.twice(sample).await?;
        if let Some(d) = first_difference(&first, 0..n, &second, 0) {
            return Err(refuse(self.plugin(), REUSED, d));
        }
        if let Some(d) = first_difference(&whole, 0..n, &first, 0) {
            return Err(refuse(self.plugin(), PREPARED, d));
        }
        for r in 0..n {
            let one = self.run(&slice_rows(sample, r, r + 1)).await?;
            let d = match self {
                // A validator may judge a batch as a whole (uniqueness, null fractions), so the
                // batch can break more rules than a row alone; but a rule a row breaks alone
                // is a rule about the row, and the batch must find it too.
                Subject::Validator(_) => alone_but_not_together(&whole, r, &one),
                _ => first_difference(&whole, r..r + 1, &one, 0),
            };
            if let Some(d) = d {
                return Err(refuse(self.plugin(), ROWS, d));
            }
        }
        Ok(())
    }
}

/// Checks a learned transform on `sample` (the rows it would be applied to).
pub async fn check_transform(learned: &LearnedTransform, sample: &Batch) -> Result<(), ServeError> {
    Subject::Transform(learned).check(sample).await
}

/// Checks a model on `features`.
pub async fn check_model(model: &ModelStep, features: &Batch) -> Result<(), ServeError> {
    Subject::Model(model).check(features).await
}

/// Checks a validator on `sample`: it must find the same rows at fault however it is called.
pub async fn check_validator(step: &ValidatorStep, sample: &Batch) -> Result<(), ServeError> {
    Subject::Validator(step).check(sample).await
}

/// The first rule row `r` breaks alone (`one`) that the whole batch (`whole`) does not report
/// on it.
fn alone_but_not_together(whole: &Batch, r: usize, one: &Batch) -> Option<Difference> {
    let (Some(w), Some(o)) = (whole.columns.first(), one.columns.first()) else {
        return None;
    };
    let (Cell::Text(together), Cell::Text(alone)) = (cell(w, r), cell(o, 0)) else {
        return None;
    };
    let together: Vec<&str> = together.split(", ").collect();
    alone
        .split(", ")
        .filter(|rule| *rule != "no violation")
        .find(|rule| !together.contains(rule))
        .map(|rule| Difference {
            column: "violations".into(),
            row: r as u64,
            first: format!("{together:?} in the whole batch"),
            second: format!("{rule:?} alone"),
        })
}

/// A validator's row-level findings as a table: one text column, one row per row checked,
/// listing the rules broken on that row and their columns (rules about the whole batch are
/// left out, as serving leaves them out).
fn findings(report: &Report, rows: usize) -> Batch {
    let mut by_row: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for v in &report.violations {
        if let Some(r) = v.row {
            by_row.entry(r as usize).or_default().push(format!(
                "{}{}",
                v.rule,
                v.column
                    .as_deref()
                    .map(|c| format!(" on `{c}`"))
                    .unwrap_or_default()
            ));
        }
    }
    let text = (0..rows)
        .map(|r| match by_row.get_mut(&r) {
            Some(list) => {
                list.sort();
                list.dedup();
                list.join(", ")
            }
            None => "no violation".to_string(),
        })
        .collect();
    Batch {
        num_rows: rows as u32,
        columns: vec![Column {
            name: "violations".into(),
            data: ColumnData::Text(text),
            nulls: None,
        }],
    }
}

/// What the check at publish found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishCheck {
    /// The plugin passed on the sample data.
    Passed,
    /// The plugin could not be run on the sample data (the reason); `ferry train` checks it on
    /// the training data.
    NotRun(String),
    /// Deployers and alert sinks act on the world; they are not checked.
    NotApplicable,
}

/// Ferry's sample data for the check at publish: 48 rows with a nullable float column
/// `amount`, a float column `score`, an integer column `count`, a boolean column `flag`, a
/// text column `segment` and a text label `label` (`yes` or `no`).
pub fn sample_data() -> Batch {
    const N: usize = 48;
    let amount: Vec<f64> = (0..N)
        .map(|i| ((i * 37) % 101) as f64 * 1.25 + 0.5)
        .collect();
    let amount_nulls: Vec<bool> = (0..N).map(|i| i % 11 == 3).collect();
    let score: Vec<f64> = (0..N).map(|i| ((i * 17) % 23) as f64 / 7.0 - 1.5).collect();
    let count: Vec<i64> = (0..N).map(|i| ((i * 5) % 9) as i64).collect();
    let flag: Vec<bool> = (0..N).map(|i| i % 3 == 0).collect();
    let segments = ["retail", "business", "public"];
    let segment: Vec<String> = (0..N).map(|i| segments[(i * 7) % 3].to_string()).collect();
    let label: Vec<String> = (0..N)
        .map(|i| if (i * 13) % 5 < 2 { "yes" } else { "no" }.to_string())
        .collect();
    let col = |name: &str, data| Column {
        name: name.into(),
        data,
        nulls: None,
    };
    Batch {
        num_rows: N as u32,
        columns: vec![
            Column {
                nulls: Some(amount_nulls),
                ..col("amount", ColumnData::Float64(amount))
            },
            col("score", ColumnData::Float64(score)),
            col("count", ColumnData::Int64(count)),
            col("flag", ColumnData::Boolean(flag)),
            col("segment", ColumnData::Text(segment)),
            col("label", ColumnData::Text(label)),
        ],
    }
}

/// What a model trains on in the checks: the numeric columns `score` and `count` of `data`,
/// and `label` as the target (absent when `data` has none).
pub fn model_inputs(data: &Batch) -> (Batch, Option<Column>) {
    let features = Batch {
        num_rows: data.num_rows,
        columns: data
            .columns
            .iter()
            .filter(|c| c.name == "score" || c.name == "count")
            .cloned()
            .collect(),
    };
    let labels = data.columns.iter().find(|c| c.name == "label").cloned();
    (features, labels)
}

/// The configuration the check at publish uses: the first of the configuration schema's
/// `examples`, or `{}`.
pub fn example_config(plugin: &Plugin) -> String {
    plugin
        .manifest()
        .config_schema
        .get("examples")
        .and_then(|e| e.get(0))
        .map(|e| e.to_string())
        .unwrap_or_else(|| "{}".into())
}

/// Whether an error means the plugin cannot run on the sample (its configuration or the data
/// do not suit it), rather than that it misbehaved.
fn not_runnable(e: &ServeError) -> Option<String> {
    let later = "`ferry train` checks it on the training data";
    match e {
        ServeError::Plugin(p) => match &*p.failure {
            Failure::Guest(GuestError::Unsupported(m)) if p.kind == PluginKind::Model => {
                Some(format!(
                    "the adapter cannot train ({m}); it is checked when a model is registered or attached with it, on the features its run computed"
                ))
            }
            Failure::Guest(
                g @ (GuestError::Config(_) | GuestError::Input { .. } | GuestError::Unsupported(_)),
            ) => Some(format!(
                "on the sample data with its example configuration it said: {g}; {later}"
            )),
            _ => None,
        },
        ServeError::Columns(m) => Some(format!("{m}; {later}")),
        _ => None,
    }
}

/// The check at publish: runs the plugin on [`sample_data`] with its example configuration.
pub async fn check_at_publish(plugin: &Plugin) -> Result<PublishCheck, ServeError> {
    let config = example_config(plugin);
    let data = sample_data();
    let outcome = match plugin.kind() {
        PluginKind::Validator => {
            let step = ValidatorStep {
                plugin: plugin.clone(),
                config,
                reads: None,
            };
            check_validator(&step, &data).await
        }
        PluginKind::Transform => {
            let step = TransformStep {
                plugin: plugin.clone(),
                config,
                reads: None,
            };
            match step.fit(&data, super::BATCH_ROWS, &|_| {}).await {
                Ok(state) => check_transform(&step.learned(state), &data).await,
                Err(e) => Err(e),
            }
        }
        PluginKind::Model => {
            let (features, labels) = model_inputs(&data);
            match labels {
                Some(labels) => {
                    match super::ModelStep::train(plugin, &features, &labels, &config).await {
                        Ok(artifact) => {
                            let model = ModelStep {
                                plugin: plugin.clone(),
                                artifact: artifact.into(),
                                load_config: "{}".into(),
                                features: schema_of(&features)
                                    .into_iter()
                                    .map(|f| f.name)
                                    .collect(),
                            };
                            check_model(&model, &features).await
                        }
                        Err(e) => Err(e),
                    }
                }
                None => Ok(()),
            }
        }
        PluginKind::Deployer | PluginKind::AlertSink => return Ok(PublishCheck::NotApplicable),
    };
    match outcome {
        Ok(()) => Ok(PublishCheck::Passed),
        Err(e) => match not_runnable(&e) {
            Some(reason) => Ok(PublishCheck::NotRun(reason)),
            None => Err(e),
        },
    }
}
