//! `slack`: posts an alert to a Slack incoming webhook as Block Kit JSON (a header, the text,
//! the labels as fields, the source and severity), with a plain `text` for notifications.
//! Tools that take Slack's incoming-webhook JSON (Mattermost, Rocket.Chat) work too. The host
//! only lets the request through when the URL's host is on the operator's allow-list.

use ferry_sdk::http::deliver_json;
use ferry_sdk::prelude::*;
use ferry_sdk::{Alert, AlertSink, Severity};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

/// Slack's limits: header text 150 characters, section text 3,000, ten fields of 2,000.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The message Slack receives for `alert`.
fn message(config: &Config, alert: &Alert) -> Value {
    let (icon, severity) = match alert.severity {
        Severity::Critical => (":red_circle:", "critical"),
        Severity::Warning => (":warning:", "warning"),
        Severity::Info => (":information_source:", "info"),
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&alert.title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&alert.text, 3000)}}),
    ];
    let fields: Vec<Value> = alert
        .labels
        .iter()
        .take(10)
        .map(|(k, v)| json!({"type": "mrkdwn", "text": cut(&format!("*{k}*\n{v}"), 2000)}))
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&format!("{icon} {severity} · {}", alert.source), 3000)}]}));
    let mut m = json!({
        "text": cut(&format!("{icon} {}", alert.title), 3000),
        "blocks": blocks,
    });
    if let Some(c) = &config.channel {
        m["channel"] = json!(c);
    }
    if let Some(u) = &config.username {
        m["username"] = json!(u);
    }
    m
}

pub struct Slack;

impl Plugin for Slack {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("slack")
            .keywords(["alerting", "http", "slack", "chat"])
            .http_host("*")
            .timeout_ms(30_000)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl AlertSink for Slack {
    fn deliver(config: &str, alert: &Alert) -> Result<()> {
        let config: Config = parse_config(config)?;
        let body = serde_json::to_vec(&message(&config, alert))
            .map_err(|e| internal_error(e.to_string()))?;
        deliver_json(&config.url, &Default::default(), &body)
    }
}

ferry_sdk::export_alert_sink!(Slack);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_kit_within_slacks_limits() {
        let alert = Alert {
            severity: Severity::Critical,
            title: "t".repeat(400),
            text: "drift on monthly_charges".into(),
            labels: (0..12).map(|i| (format!("k{i}"), "v".into())).collect(),
            source: "ferry/alerts/drift".into(),
            time_ms: 0,
        };
        let config = Config {
            url: "https://hooks.slack.com/services/x".into(),
            channel: Some("#ml".into()),
            username: None,
        };
        let m = message(&config, &alert);
        assert_eq!(m["channel"], "#ml");
        assert!(m["text"].as_str().unwrap().starts_with(":red_circle: "));
        let header = m["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert_eq!(m["blocks"][2]["fields"].as_array().unwrap().len(), 10);
        assert!(m.get("username").is_none());
    }
}
