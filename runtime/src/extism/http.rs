//! Extism's `http_request`, behind the same allow-list as a component's outgoing HTTP: a host
//! not granted is refused and recorded, and the call stops.

use std::collections::BTreeMap;

use serde::Deserialize;
use wasmtime::Caller;

use super::access;
use crate::state::StoreState;

/// The request a PDK sends (Extism's `HttpRequest`).
#[derive(Debug, Deserialize)]
#[cfg_attr(not(feature = "net"), allow(dead_code))]
struct Request {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    method: Option<String>,
}

/// Sends the request at `req` with the body at `body`, if the plugin may.
pub(super) async fn request(
    c: &mut Caller<'_, StoreState>,
    req: u64,
    body: u64,
) -> wasmtime::Result<u64> {
    let (json, body) = access::request(c, req, body)?;
    let request: Request = serde_json::from_str(&json).map_err(|e| {
        access::fail(format!(
            "Extism http_request: the request is not Extism's JSON request: {e}"
        ))
    })?;
    let url = url::Url::parse(&request.url).map_err(|e| {
        access::fail(format!(
            "Extism http_request: `{}` is not a URL: {e}",
            request.url
        ))
    })?;
    let host = url.host_str().unwrap_or("").to_string();
    let port = url.port();
    if !c.data().grants.allows_http(&host, port) {
        let target = match port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        c.data().denials.push(format!(
            "HTTP request to {target} (not on the plugin's allow-list)"
        ));
        return Err(access::fail(format!(
            "Extism http_request to {target} refused"
        )));
    }
    send(c, url, request, body).await
}

#[cfg(feature = "net")]
async fn send(
    c: &mut Caller<'_, StoreState>,
    url: url::Url,
    request: Request,
    body: Vec<u8>,
) -> wasmtime::Result<u64> {
    let method = request.method.as_deref().unwrap_or("GET");
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
        access::fail(format!(
            "Extism http_request: `{method}` is not an HTTP method"
        ))
    })?;
    let mut builder = client()?.request(method, url.clone());
    for (k, v) in &request.headers {
        builder = builder.header(k, v);
    }
    let mut response = builder
        .body(body)
        .send()
        .await
        .map_err(|e| access::fail(format!("Extism http_request to {url}: {e}")))?;
    let status = i32::from(response.status().as_u16());
    // Read in chunks and stop at the limit: a large answer is refused before it is all held.
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| access::fail(format!("Extism http_request to {url}: {e}")))?
    {
        if bytes.len() + chunk.len() > access::MAX_BODY {
            return Err(access::fail(format!(
                "Extism http_request to {url}: the response passes the {} bytes a plugin is given",
                access::MAX_BODY
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    access::respond(c, status, &bytes)
}

/// The client every Extism request goes through: one connection pool and TLS setup per
/// process, not per request. It follows no redirects, so a granted host cannot send a plugin
/// to one that is not.
#[cfg(feature = "net")]
fn client() -> wasmtime::Result<&'static reqwest::Client> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let built = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| access::fail(format!("Extism http_request: {e}")))?;
    Ok(CLIENT.get_or_init(|| built))
}

#[cfg(not(feature = "net"))]
async fn send(
    _c: &mut Caller<'_, StoreState>,
    url: url::Url,
    _request: Request,
    _body: Vec<u8>,
) -> wasmtime::Result<u64> {
    Err(access::fail(format!(
        "Extism http_request to {url}: the edge build has no HTTP client"
    )))
}
