//! One version's attempt at a predict request, shared by the model and deployment endpoints:
//! the body's rows typed against the version's input schema, the prediction, and whether a
//! failure was the request's (a 4xx answer) or the version's (which a deployment may answer
//! around).

use crate::Batch;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use ferry_core::ServeError;
use ferry_core::data::{
    BodyError, FieldProblem, RequestRows, batch_to_columns, batch_to_rows, describe_problems,
};
use ferry_core::serving::ServingPipeline;
use ferry_core::steps::Prediction;
use ferry_runtime::{Failure, GuestError};

/// Problems listed in one 422 answer (the message says how many there were).
const MAX_PROBLEMS: usize = 100;

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

/// How one version handled a request.
#[cfg_attr(not(feature = "registry"), allow(dead_code))]
pub enum Attempt {
    /// It answered: the prediction and the typed input rows.
    Answered(Prediction, Batch),
    /// The request was wrong: the 4xx answer that says how.
    Refused(Response),
    /// The version failed (a trap, a deadline, a memory cap, an error of its own).
    Failed(String),
}

/// Marks a 422 whose rows a validator rejected (as opposed to rows that were malformed), so
/// metrics can tell the two apart.
#[derive(Debug, Clone, Copy)]
pub struct RejectedRows;

fn problems_response(code: &'static str, message: String, details: Value) -> Response {
    let mut response = (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": {"code": code, "message": message, "fields": details}})),
    )
        .into_response();
    if code == "rejected" {
        response.extensions_mut().insert(RejectedRows);
    }
    response
}

pub(super) fn field_problems(problems: &[FieldProblem]) -> Response {
    let message = describe_problems(problems);
    let shown = &problems[..problems.len().min(MAX_PROBLEMS)];
    problems_response(
        "invalid_input",
        message,
        serde_json::to_value(shown).unwrap_or_default(),
    )
}

/// Types the rows against `pipeline`'s input schema and predicts.
pub async fn attempt(pipeline: &ServingPipeline, rows: &RequestRows) -> Attempt {
    let label = pipeline.lineage().label.as_str();
    let batch = match rows.to_batch(pipeline.input_schema(), &[label]) {
        Ok(b) => b,
        Err(problems) => return Attempt::Refused(field_problems(&problems)),
    };
    match pipeline.predict_online(&batch).await {
        Ok(p) => Attempt::Answered(p, batch),
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
