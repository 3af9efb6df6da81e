//! One version's attempt at a predict request, shared by the model endpoint, deployments,
//! streaming and the edge: the request's rows typed against the version's input schema, the
//! prediction, and whether a failure was the request's (a [`Refusal`]) or the version's (which
//! a deployment may answer around).

use ferry_runtime::bindings::types::Batch;
use ferry_runtime::{Failure, GuestError};
use serde_json::{Value, json};

use crate::ServeError;
use crate::data::{FieldProblem, RequestRows, batch_to_columns, batch_to_rows, describe_problems};
use crate::serving::ServingPipeline;
use crate::steps::Prediction;

/// Problems listed in one refusal (the message says how many there were).
const MAX_PROBLEMS: usize = 100;

/// How one version handled a request.
pub enum Attempt {
    /// It answered: the prediction and the typed input rows.
    Answered(Prediction, Batch),
    /// The request was wrong, and this says how.
    Refused(Refusal),
    /// The version failed (a trap, a deadline, a memory cap, an error of its own).
    Failed(String),
}

/// Why a request was refused: the rows did not fit the version's input schema, or a
/// validator rejected them. A server answers it as 422 with `code`, `message` and `fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// `invalid_input` (the rows are malformed) or `rejected` (a validator said no).
    pub code: &'static str,
    /// What was wrong, in one sentence.
    pub message: String,
    /// The problems, field by field (at most 100).
    pub fields: Value,
}

impl Refusal {
    /// Whether a validator rejected the rows (rather than the rows being malformed).
    pub fn rejected(&self) -> bool {
        self.code == "rejected"
    }

    /// The refusal of rows with these problems.
    pub fn field_problems(problems: &[FieldProblem]) -> Self {
        let shown = &problems[..problems.len().min(MAX_PROBLEMS)];
        Self {
            code: "invalid_input",
            message: describe_problems(problems),
            fields: serde_json::to_value(shown).unwrap_or_default(),
        }
    }
}

/// Types the rows against `pipeline`'s input schema and predicts.
pub async fn attempt(pipeline: &ServingPipeline, rows: &RequestRows) -> Attempt {
    match typed(pipeline, rows) {
        Ok(batch) => attempt_typed(pipeline, batch).await,
        Err(refusal) => Attempt::Refused(refusal),
    }
}

/// The rows typed against `pipeline`'s input schema (its label, if sent, left out).
pub fn typed(pipeline: &ServingPipeline, rows: &RequestRows) -> Result<Batch, Refusal> {
    let label = pipeline.lineage().label.as_str();
    rows.to_batch(pipeline.input_schema(), &[label])
        .map_err(|problems| Refusal::field_problems(&problems))
}

/// Predicts rows already typed by [`typed`].
pub async fn attempt_typed(pipeline: &ServingPipeline, batch: Batch) -> Attempt {
    match pipeline.predict_online(&batch).await {
        Ok(p) => Attempt::Answered(p, batch),
        Err(ServeError::Input(problems)) => Attempt::Refused(Refusal::field_problems(&problems)),
        Err(ServeError::Rejected(v)) => {
            let shown: Vec<_> = v.iter().take(MAX_PROBLEMS).cloned().collect();
            Attempt::Refused(Refusal {
                code: "rejected",
                message: ServeError::Rejected(v).to_string(),
                fields: serde_json::to_value(shown).unwrap_or_default(),
            })
        }
        Err(e) if e.is_bad_request() => {
            let fields = match &e {
                ServeError::Plugin(p) => match &*p.failure {
                    Failure::Guest(GuestError::Input {
                        column,
                        row,
                        message,
                    }) => json!([{"field": column, "row": row, "problem": message}]),
                    _ => json!([]),
                },
                _ => json!([]),
            };
            Attempt::Refused(Refusal {
                code: "invalid_input",
                message: e.to_string(),
                fields,
            })
        }
        Err(e) => Attempt::Failed(e.to_string()),
    }
}

/// A batch as the request gave its rows: rows, or columns.
pub fn render(batch: &Batch, as_rows: bool) -> Value {
    if as_rows {
        Value::Array(batch_to_rows(batch))
    } else {
        batch_to_columns(batch)
    }
}
