//! What every request passes before a handler reads a byte of its body: the caller's token is
//! checked (a missing one where the route needs one, or one that is unknown or revoked, is
//! answered 401 at once), and the body is held to what the route takes. A declared length
//! over the route's limit is answered 413 at once; a body that runs over it while being read
//! stops there, and the answer is 413 whatever the handler made of the cut body.
//!
//! The query string, and a body of MLflow's API, are then held to what the API's document says
//! the operation takes (`contract.rs`). Refusals here are audited as the handlers audit theirs.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

use super::auth::{Caller, caller};
use super::mlflow::{MAX_ARTIFACT_BYTES, MlflowError};
use super::{ApiError, AppState};
use ferry_kit::publish::MAX_PLUGIN_BYTES;

/// The body limit of definitions and small changes: deployments, alert rules, aliases, tags,
/// stages, owners, yanks.
pub const SMALL_BODY: usize = 64 << 10;
/// The body limit of MLflow's JSON calls (`log-batch` carries up to 1,000 metrics, 100
/// parameters and 100 tags), of lineages and of feedback (up to 10,000 labels).
pub const LARGE_BODY: usize = 4 << 20;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone: health, readiness and the API's description.
    Open,
    /// A reader: anyone when the server allows anonymous reads.
    Read,
    /// A token (its role is checked by the handler).
    Write,
}

/// How much body a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// At most this many bytes.
    Bytes(usize),
    /// The handler bounds what it reads itself (prediction and drift bodies, by
    /// `--max-body-mib`).
    Own,
}

/// The POST routes that only read.
const READ_POSTS: &[&str] = &[
    "/v1/models/{name}/{reference}/predict",
    "/v1/deployments/{name}/predict",
    "/v1/models/{name}/versions/{reference}/drift",
    "/api/2.0/mlflow/experiments/search",
    "/api/2.0/mlflow/runs/search",
    "/api/2.0/mlflow/logged-models/search",
    "/api/2.0/mlflow/registered-models/get-latest-versions",
];

fn access(method: &Method, route: &str) -> Access {
    match route {
        "/v1/health" | "/v1/ready" | "/openapi.json" | "/docs" => Access::Open,
        _ if method == Method::GET || method == Method::HEAD => Access::Read,
        _ if method == Method::POST && READ_POSTS.contains(&route) => Access::Read,
        _ => Access::Write,
    }
}

fn limit(method: &Method, route: &str) -> Limit {
    match route {
        "/v1/models/{name}/{reference}/predict"
        | "/v1/deployments/{name}/predict"
        | "/v1/models/{name}/versions/{reference}/drift" => Limit::Own,
        "/v1/plugins" if method == Method::POST => Limit::Bytes(MAX_PLUGIN_BYTES + 1),
        "/api/2.0/mlflow-artifacts/artifacts/{*path}" if method == Method::PUT => {
            Limit::Bytes(MAX_ARTIFACT_BYTES)
        }
        "/v1/models/{name}/versions"
        | "/v1/models/{name}/versions/{reference}/feedback"
        | "/v1/deployments/{name}/feedback" => Limit::Bytes(LARGE_BODY),
        _ if route.starts_with("/api/") && method != Method::GET => Limit::Bytes(LARGE_BODY),
        _ => Limit::Bytes(SMALL_BODY),
    }
}

/// The refusal in the shape of the route's API.
fn refuse(mlflow: bool, e: ApiError) -> Response {
    if mlflow {
        MlflowError::from(e).into_response()
    } else {
        e.into_response()
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the body is larger than the {} this route takes",
            human(limit)
        ),
    )
}

/// A byte count as people read it: `64 KiB`, `4 MiB`.
fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// The gate (a route layer, so the route is known).
///
/// An answer the gate or a handler gives before the request's body was read to its end says
/// `Connection: close`: the rest of that body is never read, so the connection cannot carry
/// another request, and a client that pooled it would send its next request into a closing
/// socket.
pub async fn gate(
    State(state): State<AppState>,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let read = Arc::new(AtomicBool::new(http_body::Body::is_end_stream(
        request.body(),
    )));
    let mut response = admit(state, route, request, next, read.clone()).await;
    if !read.load(Ordering::Acquire) {
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    response
}

async fn admit(
    state: AppState,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
    read: Arc<AtomicBool>,
) -> Response {
    let path: String = request.uri().path().chars().take(500).collect();
    let route = route.map_or_else(|| path.clone(), |m| m.as_str().into());
    let method = request.method().clone();
    let mlflow = route.starts_with("/api/");
    let access = access(&method, &route);
    let mut actor = "anonymous".to_string();
    if access != Access::Open {
        let who = match caller(&state, request.headers()).await {
            Ok(who) => who,
            Err(e) => return denied(&state, "invalid-token", &method, &path, mlflow, e).await,
        };
        actor = who.actor();
        let anonymous = matches!(who, Caller::Anonymous);
        let refusal = match access {
            Access::Write if anonymous => Some(ApiError::unauthenticated(
                "this needs a token: send `Authorization: Bearer <token>`",
            )),
            Access::Read if anonymous && !state.anonymous_read => Some(ApiError::unauthenticated(
                "this server needs a token to read: send `Authorization: Bearer <token>`",
            )),
            _ => None,
        };
        if let Some(e) = refusal {
            return denied(&state, &actor, &method, &path, mlflow, e).await;
        }
    }
    let operation = super::contract().operation(&method, &route);
    if let Some(op) = operation
        && let Err(m) = op.check_query(request.uri().query())
    {
        return denied(
            &state,
            &actor,
            &method,
            &path,
            mlflow,
            ApiError::bad_request(m),
        )
        .await;
    }
    let Limit::Bytes(max) = limit(&method, &route) else {
        // The handler bounds and reads the body itself (prediction and drift bodies), and
        // hyper closes a connection whose body it did not read.
        read.store(true, Ordering::Release);
        return next.run(request).await;
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return denied(&state, &actor, &method, &path, mlflow, too_large(max)).await;
    }
    if let Some(op) = operation.filter(|op| op.checks_body()) {
        // A body held to the document is read here (within the route's limit), checked, and
        // handed on whole.
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, max).await {
            Ok(b) => b,
            Err(e) => {
                let e = if std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                {
                    too_large(max)
                } else {
                    ApiError::bad_request(format!("could not read the body: {e}"))
                };
                return denied(&state, &actor, &method, &path, mlflow, e).await;
            }
        };
        read.store(true, Ordering::Release);
        if let Err(m) = op.check_body(&bytes) {
            return denied(
                &state,
                &actor,
                &method,
                &path,
                mlflow,
                ApiError::bad_request(m),
            )
            .await;
        }
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let over = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let body = Body::new(Capped {
        inner: body,
        left: max,
        over: over.clone(),
        read,
    });
    let response = next.run(Request::from_parts(parts, body)).await;
    if over.load(Ordering::Acquire) {
        return refuse(mlflow, too_large(max));
    }
    response
}

/// Answers a refusal and audits it (a change's, with the path it was sent to).
async fn denied(
    state: &AppState,
    actor: &str,
    method: &Method,
    path: &str,
    mlflow: bool,
    e: ApiError,
) -> Response {
    let id = super::request_id();
    if method != Method::GET
        && method != Method::HEAD
        && let Err(error) = state
            .registry
            .audit(
                actor,
                &format!("http.{}", method.as_str().to_ascii_lowercase()),
                path,
                "denied",
                &id,
                &e.message,
            )
            .await
    {
        tracing::error!(%error, "could not write the audit log");
    }
    ferry_edge::http::with_request_id(refuse(mlflow, e), &id)
}

/// A body that ends in an error once more than `left` bytes have come, noting that it did, and
/// noting when it was read to its end.
struct Capped {
    inner: Body,
    left: usize,
    over: Arc<AtomicBool>,
    read: Arc<AtomicBool>,
}

/// The error a body past its route's limit ends with.
#[derive(Debug, thiserror::Error)]
#[error("the body is larger than this route takes")]
struct OverLimit;

impl http_body::Body for Capped {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(None) => {
                self.read.store(true, Ordering::Release);
                return Poll::Ready(None);
            }
            other => return other,
        };
        if self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        if let Some(data) = frame.data_ref() {
            if data.len() > self.left {
                self.left = 0;
                self.over.store(true, Ordering::Release);
                return Poll::Ready(Some(Err(axum::Error::new(OverLimit))));
            }
            self.left -= data.len();
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_an_access_and_a_limit() {
        let post = Method::POST;
        assert_eq!(access(&post, "/v1/deployments"), Access::Write);
        assert_eq!(
            access(&post, "/v1/deployments/{name}/predict"),
            Access::Read
        );
        assert_eq!(access(&Method::GET, "/v1/models"), Access::Read);
        assert_eq!(access(&Method::GET, "/v1/health"), Access::Open);
        assert_eq!(limit(&post, "/v1/deployments"), Limit::Bytes(SMALL_BODY));
        assert_eq!(
            limit(&post, "/api/2.0/mlflow/runs/log-batch"),
            Limit::Bytes(LARGE_BODY)
        );
        assert_eq!(
            limit(&post, "/v1/models/{name}/{reference}/predict"),
            Limit::Own
        );
        assert_eq!(human(64 << 10), "64 KiB");
        assert_eq!(human(MAX_ARTIFACT_BYTES), "8 GiB");
    }
}
