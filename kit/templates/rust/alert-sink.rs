//! An alert sink: POSTs each alert as JSON to a URL. The host lets the request through only
//! to hosts the operator granted this plugin.

use ferry_sdk::http::deliver_json;
use ferry_sdk::prelude::*;
use ferry_sdk::{Alert, AlertSink};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
}

pub struct Post;

impl Plugin for Post {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!(env!("CARGO_PKG_NAME"))
            .keywords(["alerting", "http"])
            .http_host("*")
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl AlertSink for Post {
    fn deliver(config: &str, alert: &Alert) -> Result<()> {
        let config: Config = parse_config(config)?;
        let body =
            serde_json::to_vec(&alert.to_json()).map_err(|e| internal_error(e.to_string()))?;
        // A status other than 2xx is an error, so the alert is retried.
        deliver_json(&config.url, &Default::default(), &body)
    }
}

ferry_sdk::export_alert_sink!(Post);
