//! The id every answer carries in `x-request-id`.

use axum::http::HeaderValue;
use axum::response::Response;

/// Adds the request id to an answer.
pub fn with_request_id(mut response: Response, id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
