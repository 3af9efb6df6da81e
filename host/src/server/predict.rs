//! One version's attempt at a predict request, shared by the model and deployment endpoints:
//! the body's rows typed against the version's input schema, the prediction, and whether a
//! failure was the request's (a 4xx answer) or the version's (which a deployment may answer
//! around).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::ApiError;
use crate::data::{
    FieldProblem, batch_to_columns, batch_to_rows, columns_to_batch, describe_problems,
    rows_to_batch,
};
use crate::pipeline::ServeError;
use crate::pipeline::serving::ServingPipeline;
use crate::pipeline::steps::Prediction;
use crate::runtime::{Failure, GuestError};

/// Problems listed in one 422 answer (the message says how many there were).
const MAX_PROBLEMS: usize = 100;

/// A predict body's rows, before they are typed against a version's schema.
#[derive(Clone, Copy)]
pub enum Shape<'a> {
    /// `rows` (or `dataframe_records`, `instances`): an array of objects.
    Rows(&'a [Value]),
    /// `columns` (or `inputs`): an object of arrays.
    Columns(&'a Map<String, Value>),
}

impl<'a> Shape<'a> {
    /// The rows of a predict body, or a 400 that says what a body holds.
    pub fn of(body: &'a Value) -> Result<Self, ApiError> {
        let obj = body.as_object().ok_or_else(|| {
            ApiError::bad_request("the body must be a JSON object with `rows` or `columns`")
        })?;
        let rows = ["rows", "dataframe_records", "instances"]
            .iter()
            .find_map(|k| obj.get(*k));
        let cols = ["columns", "inputs"].iter().find_map(|k| obj.get(*k));
        let shape = match (rows, cols) {
            (Some(Value::Array(r)), None) => Shape::Rows(r),
            (None, Some(Value::Object(c))) => Shape::Columns(c),
            _ => {
                return Err(ApiError::bad_request(
                    "send either `rows` (an array of objects) or `columns` (an object of arrays)",
                ));
            }
        };
        let empty = match shape {
            Shape::Rows(r) => r.is_empty(),
            Shape::Columns(c) => c
                .values()
                .all(|v| v.as_array().is_none_or(|a| a.is_empty())),
        };
        if empty {
            return Err(ApiError::bad_request("no rows to predict"));
        }
        Ok(shape)
    }

    /// Whether the answer is given as rows (else as columns).
    pub fn as_rows(&self) -> bool {
        matches!(self, Shape::Rows(_))
    }

    /// The first row's value of `field`, as text (for a stickiness key).
    #[cfg(feature = "registry")]
    pub fn first(&self, field: &str) -> Option<String> {
        let v = match self {
            Shape::Rows(r) => r.first()?.get(field)?,
            Shape::Columns(c) => c.get(field)?.as_array()?.first()?,
        };
        Some(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Shape::Rows(r) => r.len(),
            Shape::Columns(c) => c
                .values()
                .filter_map(|v| v.as_array().map(Vec::len))
                .max()
                .unwrap_or(0),
        }
    }
}

/// How one version handled a request.
pub enum Attempt {
    /// It answered.
    Answered(Prediction),
    /// The request was wrong: the 4xx answer that says how.
    Refused(Response),
    /// The version failed (a trap, a deadline, a memory cap, an error of its own).
    Failed(String),
}

fn problems_response(code: &'static str, message: String, details: Value) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": {"code": code, "message": message, "fields": details}})),
    )
        .into_response()
}

fn field_problems(problems: &[FieldProblem]) -> Response {
    let message = describe_problems(problems);
    let shown = &problems[..problems.len().min(MAX_PROBLEMS)];
    problems_response(
        "invalid_input",
        message,
        serde_json::to_value(shown).unwrap_or_default(),
    )
}

/// Types the rows against `pipeline`'s input schema and predicts.
pub async fn attempt(pipeline: &ServingPipeline, shape: Shape<'_>) -> Attempt {
    let label = pipeline.lineage().label.clone();
    let ignore = [label.as_str()];
    let batch = match shape {
        Shape::Rows(r) => rows_to_batch(r, pipeline.input_schema(), &ignore),
        Shape::Columns(c) => columns_to_batch(c, pipeline.input_schema(), &ignore),
    };
    let batch = match batch {
        Ok(b) => b,
        Err(problems) => return Attempt::Refused(field_problems(&problems)),
    };
    match pipeline.predict(&batch).await {
        Ok(p) => Attempt::Answered(p),
        Err(ServeError::Input(problems)) => Attempt::Refused(field_problems(&problems)),
        Err(ServeError::Rejected(v)) => {
            let shown: Vec<_> = v.iter().take(MAX_PROBLEMS).cloned().collect();
            let message = ServeError::Rejected(v).to_string();
            Attempt::Refused(problems_response(
                "rejected",
                message,
                serde_json::to_value(shown).unwrap_or_default(),
            ))
        }
        Err(e) if e.is_bad_request() => {
            let detail = match &e {
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
            Attempt::Refused(problems_response("invalid_input", e.to_string(), detail))
        }
        Err(e) => Attempt::Failed(e.to_string()),
    }
}

/// A batch as the request gave its rows: rows, or columns.
pub fn render(batch: &crate::Batch, as_rows: bool) -> Value {
    if as_rows {
        Value::Array(batch_to_rows(batch))
    } else {
        batch_to_columns(batch)
    }
}
