//! Outgoing HTTP through Extism's `http_request`: the host lets a request through only to a
//! host the operator granted (and the manifest asked for); any other stops the call.

use std::collections::BTreeMap;

use crate::error::Result;

/// POSTs `body` as JSON to `url` with `headers`; any status but 2xx is an error naming the
/// status and the start of the answer, so the host retries the delivery.
pub fn post_json(url: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<()> {
    imp::post_json(url, headers, body)
}

/// POSTs `body` as JSON to `url` and requires a 2xx answer: [`post_json`] under the name
/// `ferry-sdk` gives it, so a sink written for one crate builds with the other.
pub fn deliver_json(url: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<()> {
    post_json(url, headers, body)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;
    use crate::error::internal_error;

    pub fn post_json(url: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<()> {
        let mut req = extism_pdk::HttpRequest::new(url)
            .with_method("POST")
            .with_header("content-type", "application/json");
        for (k, v) in headers {
            req = req.with_header(k, v);
        }
        let res = extism_pdk::http::request::<Vec<u8>>(&req, Some(body.to_vec()))
            .map_err(|e| internal_error(format!("POST {url}: {e}")))?;
        let status = res.status_code();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&res.body())
            .chars()
            .take(200)
            .collect::<String>();
        Err(internal_error(format!(
            "POST {url} answered {status}: {text}"
        )))
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;

    pub fn post_json(url: &str, _headers: &BTreeMap<String, String>, _body: &[u8]) -> Result<()> {
        Err(crate::error::unsupported(format!(
            "POST {url}: HTTP is only available inside the Wasm plugin"
        )))
    }
}
