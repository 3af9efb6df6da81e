//! What a prediction request may cost before it is taken: its body has a limit of its own
//! (far below the plugin upload limit) and is read only up to it; its rows are counted against
//! a maximum; and each deployment or model has a bounded number of requests in flight, the
//! rest shed with 503 and `Retry-After`. Together they bound the memory a burst of large
//! requests can take, and a normal client keeps getting answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use ferry_core::data::RequestRows;

/// Limits on prediction requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictLimits {
    /// The largest body (bytes).
    pub max_body_bytes: usize,
    /// The most rows in one request.
    pub max_rows: usize,
    /// Requests in flight per deployment or model; more are shed.
    pub max_in_flight: usize,
}

impl Default for PredictLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 << 20,
            max_rows: 10_000,
            max_in_flight: 32,
        }
    }
}

/// Slots for requests in flight, per deployment or model.
#[derive(Default)]
pub struct InFlight {
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl InFlight {
    /// A slot for a request to `what`, or a 503 saying it is busy.
    pub fn enter(&self, what: &str, max: usize) -> Result<OwnedSemaphorePermit, ApiError> {
        let slots = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(what.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(max)))
            .clone();
        slots.try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                format!("{what} has {max} requests in flight (--max-in-flight); retry shortly"),
            )
        })
    }
}

fn too_large(limits: &PredictLimits) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the body is over the prediction limit of {} bytes (--max-body-mib); send fewer rows per request",
            limits.max_body_bytes
        ),
    )
}

/// Refuses a body whose declared length is over the limit, before it takes a slot or a byte
/// of it is read.
pub fn check_declared(headers: &HeaderMap, limits: &PredictLimits) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes) {
        return Err(too_large(limits));
    }
    Ok(())
}

/// Reads a predict body's rows, refusing it as soon as it passes the body limit and after it
/// if it has more rows than allowed.
pub async fn read_rows(body: Body, limits: &PredictLimits) -> Result<RequestRows, ApiError> {
    let bytes = axum::body::to_bytes(body, limits.max_body_bytes)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            {
                too_large(limits)
            } else {
                ApiError::bad_request(format!("could not read the body: {e}"))
            }
        })?;
    let rows = RequestRows::parse(&bytes)?;
    drop(bytes);
    check_rows(rows.rows(), limits)?;
    Ok(rows)
}

/// Refuses a request with more rows than the limit.
pub fn check_rows(rows: usize, limits: &PredictLimits) -> Result<(), ApiError> {
    if rows > limits.max_rows {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_rows",
            format!(
                "{rows} rows in one request; the limit is {} (--max-rows)",
                limits.max_rows
            ),
        ));
    }
    Ok(())
}
