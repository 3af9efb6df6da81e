//! `email`: mails an alert (plain text with an HTML alternative) through an SMTP relay. The
//! plugin names the relay; the host sends only through relays the operator granted
//! (`ferry serve --allow-smtp URL`) and keeps their TLS settings and credentials to itself.

use ferry_sdk::mail::Mail;
use ferry_sdk::prelude::*;
use ferry_sdk::{Alert, AlertSink, Severity};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    relay: String,
    from: String,
    to: Vec<String>,
    #[serde(default = "default_prefix")]
    subject_prefix: String,
}

fn default_prefix() -> String {
    "[ferry]".into()
}

fn severity(alert: &Alert) -> &'static str {
    match alert.severity {
        Severity::Critical => "CRITICAL",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    }
}

/// `time_ms` as an RFC 3339 UTC time (days to civil date after Howard Hinnant's algorithm).
fn rfc3339(time_ms: i64) -> String {
    let secs = time_ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The subject and the text and HTML bodies for `alert`.
fn compose(config: &Config, alert: &Alert) -> (String, String, String) {
    let title: String = alert
        .title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut subject = format!("{} {}: {title}", config.subject_prefix, severity(alert))
        .trim()
        .to_string();
    if subject.len() > 900 {
        let mut cut = 900;
        while !subject.is_char_boundary(cut) {
            cut -= 1;
        }
        subject.truncate(cut);
        subject.push('…');
    }
    let time = rfc3339(alert.time_ms);
    let mut text = format!(
        "{}\n\n{}\n\nSeverity: {}\nSource: {}\nTime: {time}\n",
        alert.title,
        alert.text,
        severity(alert).to_lowercase(),
        alert.source
    );
    let mut rows = String::new();
    for (k, v) in &alert.labels {
        text.push_str(&format!("{k}: {v}\n"));
        rows.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        ));
    }
    let html = format!(
        "<!doctype html><html><body><h2>{}</h2><p>{}</p><table>\
         <tr><th align=\"left\">severity</th><td>{}</td></tr>\
         <tr><th align=\"left\">source</th><td>{}</td></tr>\
         <tr><th align=\"left\">time</th><td>{time}</td></tr>{rows}</table></body></html>",
        escape(&alert.title),
        escape(&alert.text).replace('\n', "<br>"),
        severity(alert).to_lowercase(),
        escape(&alert.source),
    );
    (subject, text, html)
}

pub struct Email;

impl Plugin for Email {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("email")
            .keywords(["alerting", "email", "smtp"])
            .timeout_ms(30_000)
            .config_schema(include_str!("../config.schema.json"))
    }
}

impl AlertSink for Email {
    fn deliver(config: &str, alert: &Alert) -> Result<()> {
        let config: Config = parse_config(config)?;
        if config.to.is_empty() {
            return Err(config_error("`to` names no recipient"));
        }
        let (subject, text, html) = compose(&config, alert);
        Mail::new(config.relay, config.from, config.to, subject, text)
            .html(html)
            .send()
    }
}

ferry_sdk::export_alert_sink!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_012_345_678), "2026-11-30T04:19:05Z");
        assert_eq!(rfc3339(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn the_subject_is_one_line_and_the_html_is_escaped() {
        let alert = Alert {
            severity: Severity::Critical,
            title: "drift\r\nBcc: someone@example.com".into(),
            text: "<script>x</script>".into(),
            labels: vec![("rule".into(), "a&b".into())],
            source: "ferry/alerts/drift".into(),
            time_ms: 0,
        };
        let config = Config {
            relay: "localhost".into(),
            from: "f@example.com".into(),
            to: vec!["t@example.com".into()],
            subject_prefix: default_prefix(),
        };
        let (subject, text, html) = compose(&config, &alert);
        assert_eq!(subject, "[ferry] CRITICAL: drift  Bcc: someone@example.com");
        assert!(text.contains("rule: a&b"));
        assert!(html.contains("&lt;script&gt;") && html.contains("a&amp;b"));
        assert!(!html.contains("<script>"));
    }
}
