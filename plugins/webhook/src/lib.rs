//! `webhook`: POSTs an alert as JSON to a URL. The host only lets the request through when the
//! URL's host is on the operator's allow-list for this plugin.

use ferry_sdk::prelude::*;
use ferry_sdk::{Alert, AlertSink};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
}

/// The parts of an `http://` or `https://` URL.
#[derive(Debug, PartialEq)]
struct Url {
    https: bool,
    authority: String,
    path: String,
}

fn parse_url(url: &str) -> Result<Url> {
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

#[cfg(target_arch = "wasm32")]
fn post(
    url: &Url,
    headers: &std::collections::BTreeMap<String, String>,
    body: &[u8],
) -> Result<u16> {
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

#[cfg(not(target_arch = "wasm32"))]
fn post(
    _url: &Url,
    _headers: &std::collections::BTreeMap<String, String>,
    _body: &[u8],
) -> Result<u16> {
    Err(unsupported(
        "webhook only sends from inside the Wasm sandbox",
    ))
}

pub struct Webhook;

impl Plugin for Webhook {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("webhook")
            .keywords(["alerting", "http", "webhook"])
            .http_host("*")
            .timeout_ms(30_000)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl AlertSink for Webhook {
    fn deliver(config: &str, alert: &Alert) -> Result<()> {
        let config: Config = parse_config(config)?;
        let url = parse_url(&config.url)?;
        let body =
            serde_json::to_vec(&alert.to_json()).map_err(|e| internal_error(e.to_string()))?;
        let status = post(&url, &config.headers, &body)?;
        if !(200..300).contains(&status) {
            return Err(internal_error(format!(
                "{} answered HTTP {status}",
                config.url
            )));
        }
        Ok(())
    }
}

ferry_sdk::export_alert_sink!(Webhook);

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
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://user@evil/").is_err());
    }
}
