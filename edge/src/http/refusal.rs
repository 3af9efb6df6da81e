//! A refused predict request as its HTTP answer: 422 with the refusal's code, message and
//! fields. The attempt itself is `ferry_core::attempt`, shared with deployments, streaming
//! and the edge.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_core::Refusal;
use serde_json::json;

/// Marks a 422 whose rows a validator rejected (as opposed to rows that were malformed), so
/// metrics can tell the two apart.
#[derive(Debug, Clone, Copy)]
pub struct RejectedRows;

/// The 422 answer of a refusal.
pub fn refused(refusal: Refusal) -> Response {
    let rejected = refusal.rejected();
    let mut response = (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": {"code": refusal.code, "message": refusal.message, "fields": refusal.fields}})),
    )
        .into_response();
    if rejected {
        response.extensions_mut().insert(RejectedRows);
    }
    response
}
