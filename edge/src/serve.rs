//! The edge server: one bundle's version over HTTP with no registry, database or network
//! behind it. Predict takes the same bodies, limits and 422 details as the model endpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::http::{
    ApiError, InFlight, LingeringListener, PredictLimits, check_declared, json_errors, read_rows,
    refused, with_request_id,
};
use ferry_core::ServingPipeline;
use ferry_core::attempt::{Attempt, attempt, render};
use ferry_core::ids::request_id;
use ferry_runtime::Compute;

/// What `ferry edge run` serves.
pub struct EdgeService {
    /// The loaded version.
    pub pipeline: Arc<ServingPipeline>,
    /// The model's name.
    pub model: String,
    /// Its version.
    pub version: String,
    /// What `GET /v1/bundle` shows: the bundle's manifest digest, signer and files.
    pub bundle: Value,
    /// What a prediction request may cost.
    pub limits: PredictLimits,
    /// Where its plugins compute.
    pub compute: Compute,
}

#[derive(Clone)]
struct EdgeState {
    service: Arc<EdgeService>,
    in_flight: Arc<InFlight>,
}

async fn predict(
    State(state): State<EdgeState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let id = request_id();
    let s = &state.service;
    let response = async {
        check_declared(&headers, &s.limits)?;
        let _slot = state
            .in_flight
            .enter("the bundle", s.limits.max_in_flight)?;
        let rows = Arc::new(read_rows(body, &s.limits).await?);
        let (pipeline, asked) = (s.pipeline.clone(), rows.clone());
        let outcome = s
            .compute
            .run(async move { attempt(&pipeline, &asked).await })
            .await
            .unwrap_or_else(|e| Attempt::Failed(e.to_string()));
        let prediction = match outcome {
            Attempt::Answered(p, _) => p,
            Attempt::Refused(r) => return Ok(refused(r)),
            Attempt::Failed(e) => {
                tracing::error!(error = %e, "prediction failed");
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "prediction_failed",
                    e,
                ));
            }
        };
        Ok::<Response, ApiError>(
            Json(json!({
                "model": s.model,
                "version": s.version,
                "request_id": id,
                "predictions": render(&prediction.outputs, rows.as_rows()),
            }))
            .into_response(),
        )
    }
    .await;
    with_request_id(response.unwrap_or_else(IntoResponse::into_response), &id)
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready() -> Json<Value> {
    Json(json!({ "status": "ready" }))
}

async fn bundle(State(state): State<EdgeState>) -> Json<Value> {
    Json(state.service.bundle.clone())
}

/// The edge routes: `POST /v1/predict`, `GET /v1/bundle`, `/v1/health` and `/v1/ready`.
pub fn edge_router(service: EdgeService) -> Router {
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/bundle", get(bundle))
        .route("/v1/health", get(health))
        .route("/v1/ready", get(ready))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route on an edge server",
            )
        })
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(EdgeState {
            service: Arc::new(service),
            in_flight: Default::default(),
        })
}

/// Serves `service` on `addr` until interrupted; prints `ferry edge serving on URL` first.
pub async fn serve_edge(service: EdgeService, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("ferry edge serving on http://{}", listener.local_addr()?);
    let listener = LingeringListener::new(listener, service.limits.max_body_bytes.max(1 << 20));
    axum::serve(listener, edge_router(service))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
