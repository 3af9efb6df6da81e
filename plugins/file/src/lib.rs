//! `file`: appends each alert as one JSON line to a file in the granted `/alerts` directory.

use std::io::Write;

use ferry_sdk::prelude::*;
use ferry_sdk::{Alert, AlertSink};
use serde::Deserialize;

/// Where the operator's directory appears inside the sandbox.
pub const ALERTS_DIR: &str = "/alerts";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_file")]
    file: String,
}

fn default_file() -> String {
    "alerts.jsonl".into()
}

fn check_file_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(config_error(format!(
            "`file` must be a plain file name (letters, digits, `.`, `-`, `_`), got {name:?}"
        )))
    }
}

pub struct FileSink;

impl Plugin for FileSink {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("file")
            .keywords(["alerting", "jsonl", "file"])
            .directory(ALERTS_DIR, true, "the folder the alert log is written to")
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl AlertSink for FileSink {
    fn deliver(config: &str, alert: &Alert) -> Result<()> {
        let config: Config = parse_config(config)?;
        check_file_name(&config.file)?;
        let line = alert.to_json();
        let mut text = serde_json::to_string(&line).map_err(|e| internal_error(e.to_string()))?;
        text.push('\n');
        let path = format!("{ALERTS_DIR}/{}", config.file);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| {
                internal_error(format!(
                    "cannot open {path}: {e} (was {ALERTS_DIR} granted?)"
                ))
            })?;
        f.write_all(text.as_bytes())
            .map_err(|e| internal_error(format!("cannot write {path}: {e}")))?;
        Ok(())
    }
}

ferry_sdk::export_alert_sink!(FileSink);
