//! Running a validator, transform or model: on the sample data (with the purity check), and on the inputs careless
//! callers send: an unparsable configuration, an unknown key, wrong column types, nulls, an
//! empty batch and a single row. Each must end in a result or a typed error, never a trap.

use super::verdict::{UNKNOWN_KEY, limits_point, with_unknown_key};
use super::{Outcome, Point};
use ferry_core::data::{schema_of, slice_rows};
use ferry_core::steps::purity::{self, PublishCheck, example_config, sample_data};
use ferry_core::steps::{BATCH_ROWS, ModelStep, ServeError, TransformStep, ValidatorStep};
use ferry_runtime::bindings::types::{Batch, Column, ColumnData};
use ferry_runtime::manifest::PluginKind;
use ferry_runtime::{Failure, GuestError, Plugin};

pub(super) async fn run(plugin: &Plugin, sample: bool) -> Vec<Point> {
    let config = example_config(plugin);
    let mut points = Vec::new();
    if sample {
        points.push(sample_point(plugin).await);
    }
    points.push(Point {
        check: "bad-config",
        asks: "an unparsable configuration is refused as a configuration error",
        outcome: must_refuse_config(exercise(plugin, "{", &sample_data()).await),
    });
    points.push(Point {
        check: "unknown-key",
        asks: "a key the schema does not allow is refused as a configuration error",
        outcome: unknown_key(plugin, &config).await,
    });
    let mut tripped = Vec::new();
    for (check, asks, data) in [
        (
            "wrong-types",
            "every column as text: a result or a typed error, never a trap",
            as_text(&sample_data()),
        ),
        (
            "nulls",
            "every value null: a result or a typed error, never a trap",
            all_null(&sample_data()),
        ),
        (
            "empty-batch",
            "no rows: a result or a typed error, never a trap",
            slice_rows(&sample_data(), 0, 0),
        ),
        (
            "one-row",
            "a single row: a result or a typed error, never a trap",
            slice_rows(&sample_data(), 0, 1),
        ),
    ] {
        let outcome = exercise(plugin, &config, &data).await;
        if let Err(ServeError::Plugin(p)) = &outcome
            && matches!(
                *p.failure,
                Failure::Timeout { .. } | Failure::OutOfMemory { .. }
            )
        {
            tripped.push(format!("{check}: {}", p.failure));
        }
        points.push(Point {
            check,
            asks,
            outcome: typed(outcome),
        });
    }
    points.push(limits_point(plugin, tripped));
    points
}

/// The purity check at publish, on the sample data with the example configuration.
async fn sample_point(plugin: &Plugin) -> Point {
    let asks = match plugin.kind() {
        PluginKind::Transform => {
            "the example configuration on the sample data: deterministic, and row by row equal to whole batches"
        }
        PluginKind::Model => {
            "trains on the sample data and predicts the same values in fresh instances and row by row"
        }
        _ => "the example configuration on the sample data, the same report in fresh instances",
    };
    let outcome = match purity::check_at_publish(plugin).await {
        Ok(PublishCheck::Passed) => Outcome::Passed("passed the purity check".into()),
        Ok(PublishCheck::NotRun(why)) => Outcome::Skipped(why),
        Ok(PublishCheck::NotApplicable) => Outcome::Skipped("not a computing plugin".into()),
        Err(e) => Outcome::Failed(e.to_string()),
    };
    Point {
        check: "sample",
        asks,
        outcome,
    }
}

async fn unknown_key(plugin: &Plugin, config: &str) -> Outcome {
    let with_key = match with_unknown_key(plugin, config) {
        Ok(c) => c,
        Err(skip) => return skip,
    };
    match exercise(plugin, &with_key, &sample_data()).await {
        Err(ServeError::Plugin(p)) if matches!(&*p.failure, Failure::Guest(GuestError::Config(m)) if m.contains(UNKNOWN_KEY)) => {
            Outcome::Passed(format!("refused, naming the key: {}", p.failure))
        }
        other => match must_refuse_config(other) {
            Outcome::Passed(m) => Outcome::Failed(format!(
                "refused, but the message does not name `{UNKNOWN_KEY}`: {m}"
            )),
            o => o,
        },
    }
}

fn must_refuse_config(outcome: Result<(), ServeError>) -> Outcome {
    match outcome {
        Err(ServeError::Plugin(p))
            if matches!(&*p.failure, Failure::Guest(GuestError::Config(_))) =>
        {
            Outcome::Passed(p.failure.to_string())
        }
        Err(ServeError::Plugin(p))
            if matches!(&*p.failure, Failure::Guest(GuestError::Unsupported(_)))
                && p.kind == PluginKind::Model =>
        {
            Outcome::Skipped(format!("the adapter cannot train: {}", p.failure))
        }
        Err(e) => Outcome::Failed(format!("expected a configuration error, got: {e}")),
        Ok(()) => Outcome::Failed("it was accepted".into()),
    }
}

fn typed(outcome: Result<(), ServeError>) -> Outcome {
    match outcome {
        Ok(()) => Outcome::Passed("accepted".into()),
        Err(ServeError::Plugin(p)) if !p.failure.is_misbehaviour() => {
            Outcome::Passed(format!("refused: {}", p.failure))
        }
        Err(e @ (ServeError::Columns(_) | ServeError::Input(_))) => {
            Outcome::Passed(format!("refused by the host: {e}"))
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Runs the plugin's kind on `data` with `config`: validate; fit then apply; train then
/// predict on the numeric columns with `label` as the target.
async fn exercise(plugin: &Plugin, config: &str, data: &Batch) -> Result<(), ServeError> {
    let noop = |_| {};
    match plugin.kind() {
        PluginKind::Validator => {
            let step = ValidatorStep {
                plugin: plugin.clone(),
                config: config.into(),
                reads: None,
            };
            step.validate(data).await.map(|_| ())
        }
        PluginKind::Transform => {
            let step = TransformStep {
                plugin: plugin.clone(),
                config: config.into(),
                reads: None,
            };
            let state = step.fit(data, BATCH_ROWS, &noop).await?;
            let mut out = data.clone();
            step.learned(state)
                .apply_all(&mut out, BATCH_ROWS, &noop)
                .await
                .map(|_| ())
        }
        PluginKind::Model => {
            let (features, labels) = purity::model_inputs(data);
            let Some(labels) = labels else {
                return Ok(());
            };
            let artifact = ModelStep::train(plugin, &features, &labels, config).await?;
            let model = ModelStep {
                plugin: plugin.clone(),
                artifact: artifact.into(),
                load_config: "{}".into(),
                features: schema_of(&features).into_iter().map(|f| f.name).collect(),
            };
            model.predict_all(&features, BATCH_ROWS).await.map(|_| ())
        }
        PluginKind::Deployer | PluginKind::AlertSink => Ok(()),
    }
}

/// Every column as text (each value written out), with its nulls.
fn as_text(data: &Batch) -> Batch {
    let columns = data
        .columns
        .iter()
        .map(|c| {
            let text: Vec<String> = match &c.data {
                ColumnData::Float64(v) => v.iter().map(f64::to_string).collect(),
                ColumnData::Int64(v) => v.iter().map(i64::to_string).collect(),
                ColumnData::Boolean(v) => v.iter().map(bool::to_string).collect(),
                ColumnData::Text(v) => v.clone(),
            };
            Column {
                name: c.name.clone(),
                data: ColumnData::Text(text),
                nulls: c.nulls.clone(),
            }
        })
        .collect();
    Batch {
        num_rows: data.num_rows,
        columns,
    }
}

/// Every value null (placeholders in the data).
fn all_null(data: &Batch) -> Batch {
    let n = data.num_rows as usize;
    let columns = data
        .columns
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            data: match &c.data {
                ColumnData::Float64(_) => ColumnData::Float64(vec![0.0; n]),
                ColumnData::Int64(_) => ColumnData::Int64(vec![0; n]),
                ColumnData::Boolean(_) => ColumnData::Boolean(vec![false; n]),
                ColumnData::Text(_) => ColumnData::Text(vec![String::new(); n]),
            },
            nulls: Some(vec![true; n]),
        })
        .collect();
    Batch {
        num_rows: data.num_rows,
        columns,
    }
}
