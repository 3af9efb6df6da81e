//! `extism-webhook`: the built-in `webhook` alert sink as an Extism plugin. It POSTs an alert
//! as JSON through Extism's `http_request`, which the host lets through only to a granted host.

use std::collections::BTreeMap;

use ferry_extism_pdk::Alert;
use ferry_extism_pdk::prelude::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The sink.
pub struct Webhook;

impl Plugin for Webhook {
    fn manifest() -> ManifestBuilder {
        ferry_extism_pdk::manifest!("extism-webhook")
            .keywords(["alerting", "http", "extism"])
            .http_host("*")
            .timeout_ms(30_000)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl AlertSink for Webhook {
    fn deliver(config: &str, alert: &Alert) -> Result<()> {
        let config: Config = parse_config(config)?;
        let body =
            serde_json::to_vec(&alert.to_json()).map_err(|e| internal_error(e.to_string()))?;
        ferry_extism_pdk::http::post_json(&config.url, &config.headers, &body)
    }
}

ferry_extism_pdk::export_alert_sink!(Webhook);
