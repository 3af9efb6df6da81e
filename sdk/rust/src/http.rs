//! Outbound HTTP for alert sinks and deployers: parsing a URL and POSTing a body through the
//! sandbox's `wasi:http`. The host lets a request through only to the hosts the operator
//! allowed (`--allow-http`); anything else is refused before a connection is made.

use crate::error::{Result, config_error};

/// The parts of an `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `https`.
    pub https: bool,
    /// `host` or `host:port`.
    pub authority: String,
    /// The path and query, starting with `/`.
    pub path: String,
}

/// Parses an `http://` or `https://` URL (no user info).
pub fn parse_url(url: &str) -> Result<Url> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(config_error(format!(
            "`url` must start with http:// or https://, got {url:?}"
        )));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(config_error(format!("`url` has no valid host: {url:?}")));
    }
    Ok(Url {
        https,
        authority: authority.to_string(),
        path: path.to_string(),
    })
}

/// POSTs `body` as JSON with extra `headers`; returns the HTTP status.
#[cfg(target_arch = "wasm32")]
pub fn post_json(
    url: &Url,
    headers: &std::collections::BTreeMap<String, String>,
    body: &[u8],
) -> Result<u16> {
    use crate::error::internal_error;
    use wasip2::http::outgoing_handler::handle;
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

    let mut list: Vec<(String, Vec<u8>)> =
        vec![("content-type".into(), b"application/json".to_vec())];
    for (k, v) in headers {
        list.push((k.to_ascii_lowercase(), v.as_bytes().to_vec()));
    }
    let fields =
        Fields::from_list(&list).map_err(|e| config_error(format!("invalid `headers`: {e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let fail = |what: &str| internal_error(format!("could not build the request: {what}"));
    request
        .set_method(&Method::Post)
        .map_err(|_| fail("method"))?;
    request
        .set_scheme(Some(if url.https {
            &Scheme::Https
        } else {
            &Scheme::Http
        }))
        .map_err(|_| fail("scheme"))?;
    request
        .set_authority(Some(&url.authority))
        .map_err(|_| fail("authority"))?;
    request
        .set_path_with_query(Some(&url.path))
        .map_err(|_| fail("path"))?;
    let outgoing = request.body().map_err(|_| fail("body"))?;
    let response = handle(request, None).map_err(|e| {
        internal_error(format!(
            "the request to {} was refused: {e:?}",
            url.authority
        ))
    })?;
    {
        let stream = outgoing.write().map_err(|_| fail("body stream"))?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| internal_error(format!("sending the body failed: {e:?}")))?;
        }
    }
    OutgoingBody::finish(outgoing, None)
        .map_err(|e| internal_error(format!("finishing the body failed: {e:?}")))?;
    response.subscribe().block();
    let incoming = response
        .get()
        .ok_or_else(|| internal_error("no response"))?
        .map_err(|_| internal_error("the response was already taken"))?
        .map_err(|e| internal_error(format!("POST to {} failed: {e:?}", url.authority)))?;
    Ok(incoming.status())
}

/// POSTs `body` as JSON: only possible inside the Wasm sandbox.
#[cfg(not(target_arch = "wasm32"))]
pub fn post_json(
    _url: &Url,
    _headers: &std::collections::BTreeMap<String, String>,
    _body: &[u8],
) -> Result<u16> {
    Err(crate::error::unsupported(
        "outbound HTTP is only possible inside the Wasm sandbox",
    ))
}

/// POSTs `body` as JSON to `url` (as configured, e.g. a sink's `url`) and requires a 2xx
/// answer: any other status is an error naming the URL and the status, so an alert the
/// receiver refused is retried, not taken as delivered.
pub fn deliver_json(
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
    body: &[u8],
) -> Result<()> {
    let status = post_json(&parse_url(url)?, headers, body)?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(crate::error::internal_error(format!(
            "{url} answered HTTP {status}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:9000/hook?x=1").unwrap(),
            Url {
                https: false,
                authority: "127.0.0.1:9000".into(),
                path: "/hook?x=1".into()
            }
        );
        assert_eq!(parse_url("https://h").unwrap().path, "/");
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://user@evil/").is_err());
        assert!(parse_url("http:///nohost").is_err());
    }
}
