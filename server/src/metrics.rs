//! `GET /metrics`: the Prometheus text format, and the request metrics every predict handler
//! records.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::{caller, may_read};
use super::error::ErrorBody;
use super::{AppState, error::ApiError};
use ferry_edge::http::RejectedRows;
use ferry_ops::monitor::metrics::{self, METRICS, Outcome, RequestLabels, TargetLabels};

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Every metric in the Prometheus text format (0.0.4)", content_type = "text/plain", body = String), (status = "4XX", description = "Refused; the body says why", body = ErrorBody)))]
/// `GET /metrics`: requests, plugin calls and failures, instances, circuit breakers and
/// prediction distributions, for Prometheus.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    may_read(&state, &caller(&state, &headers).await?)?;
    for (deployment, target, breaker) in state.deployments.breakers() {
        let value = match breaker.status().state {
            "open" => 1,
            "half-open" => 2,
            _ => 0,
        };
        METRICS
            .circuit_state
            .get_or_create(&TargetLabels { deployment, target })
            .set(value);
    }
    Ok((
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::encode(),
    )
        .into_response())
}

/// The outcome of a finished predict request, from its status and how it was answered.
pub fn outcome(response: &Response, fallback: bool) -> Outcome {
    let status = response.status();
    if status.is_success() {
        if fallback {
            Outcome::Fallback
        } else {
            Outcome::Ok
        }
    } else if status == StatusCode::PAYLOAD_TOO_LARGE
        || status == StatusCode::SERVICE_UNAVAILABLE
        || response.extensions().get::<RejectedRows>().is_some()
    {
        Outcome::Rejected
    } else if status.is_client_error() {
        Outcome::InvalidInput
    } else {
        Outcome::Error
    }
}

/// Records one predict request, and logs it.
pub fn record(deployment: &str, answered: Option<(&str, i64)>, outcome: Outcome, started: Instant) {
    let (model, version) = match answered {
        Some((m, v)) => (m.to_string(), v.to_string()),
        None => (String::new(), String::new()),
    };
    tracing::info!(
        answered_by = %model,
        version = %version,
        outcome = outcome.name(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "prediction request"
    );
    let key = if deployment.is_empty() {
        ferry_ops::monitor::recent::model_key(&model)
    } else {
        ferry_ops::monitor::recent::deployment_key(deployment)
    };
    if !model.is_empty() || !deployment.is_empty() {
        ferry_ops::monitor::recent::remember(
            &key,
            ferry_registry::now_ms(),
            started.elapsed().as_secs_f64(),
            outcome == Outcome::Error,
        );
    }
    METRICS.request(
        RequestLabels {
            deployment: deployment.to_string(),
            model,
            version,
            outcome: outcome.name(),
        },
        started.elapsed().as_secs_f64(),
    );
}
