//! An alert sink that posts each alert and never looks at the answer, so an alert the
//! receiver refused is reported delivered. `ferry plugin test` must fail `failed-delivery`.

use ferry_sdk::http::{parse_url, post_json};
use ferry_sdk::prelude::*;
use ferry_sdk::{Alert, AlertSink};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
}

pub struct CarelessSink;

impl Plugin for CarelessSink {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("careless-sink")
            .http_host("*")
            .config_schema(
                r#"{"type": "object", "additionalProperties": false, "required": ["url"],
                    "properties": {"url": {"type": "string"}},
                    "examples": [{"url": "https://alerts.example.com/hook"}]}"#,
            )
    }
}

impl AlertSink for CarelessSink {
    fn deliver(config: &str, alert: &Alert) -> Result<()> {
        let config: Config = parse_config(config)?;
        let body =
            serde_json::to_vec(&alert.to_json()).map_err(|e| internal_error(e.to_string()))?;
        post_json(&parse_url(&config.url)?, &Default::default(), &body)?;
        Ok(())
    }
}

ferry_sdk::export_alert_sink!(CarelessSink);
