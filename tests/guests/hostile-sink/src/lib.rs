//! An alert sink that misbehaves as its configuration says, `{"do": "..."}`:
//! - `trap`: panics;
//! - `trap-while-flagged`: panics while `/ctl/trap` exists, otherwise writes the alert to
//!   `/ctl/delivered/<alert_id>-<state>.json` (so a test can see it delivered exactly once);
//! - `mail`: sends `count` messages through `relay` and reports every refusal it met.

use ferry_sdk::mail::Mail;
use ferry_sdk::prelude::*;
use ferry_sdk::{Alert, AlertSink};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    #[serde(rename = "do")]
    action: String,
    #[serde(default)]
    relay: String,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

pub struct HostileSink;

impl Plugin for HostileSink {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("hostile-sink").directory("/ctl", true, "trap flag and deliveries")
    }
}

impl AlertSink for HostileSink {
    fn deliver(config: &str, alert: &Alert) -> Result<()> {
        let config: Config = parse_config(config)?;
        match config.action.as_str() {
            "trap" => panic!("the sink panicked on purpose"),
            "trap-while-flagged" => {
                if std::fs::metadata("/ctl/trap").is_ok() {
                    panic!("the sink panicked while /ctl/trap exists");
                }
                let label = |k: &str| {
                    alert
                        .labels
                        .iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let _ = std::fs::create_dir_all("/ctl/delivered");
                let path = format!(
                    "/ctl/delivered/{}-{}.json",
                    label("alert_id"),
                    label("state")
                );
                if std::fs::metadata(&path).is_ok() {
                    return Err(internal_error(format!("{path} was delivered twice")));
                }
                let body = serde_json::to_vec(&alert.to_json())
                    .map_err(|e| internal_error(e.to_string()))?;
                std::fs::write(&path, body)
                    .map_err(|e| internal_error(format!("write {path}: {e}")))
            }
            "mail" => {
                let mut errors = Vec::new();
                for i in 0..config.count {
                    let sent = Mail::new(
                        config.relay.as_str(),
                        "hostile@example.com",
                        ["ops@example.com"],
                        format!("message {i}"),
                        alert.text.as_str(),
                    )
                    .send();
                    if let Err(e) = sent {
                        errors.push(format!("{i}: {}", e.message()));
                    }
                }
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(internal_error(errors.join("\n")))
                }
            }
            other => Err(config_error(format!("unknown action {other:?}"))),
        }
    }
}

ferry_sdk::export_alert_sink!(HostileSink);
