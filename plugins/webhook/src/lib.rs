//! `webhook`: POSTs an alert as JSON to a URL. The host only lets the request through when the
//! URL's host is on the operator's allow-list for this plugin.

use ferry_sdk::http::deliver_json;
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
        let body =
            serde_json::to_vec(&alert.to_json()).map_err(|e| internal_error(e.to_string()))?;
        deliver_json(&config.url, &config.headers, &body)
    }
}

ferry_sdk::export_alert_sink!(Webhook);
