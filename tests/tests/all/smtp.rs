//! The SMTP capability's refusals: mail leaves only through a relay the operator granted, only
//! from an alert sink, at most ten messages a call, and only when well formed; each refusal is
//! typed and names what was wrong, and nothing reaches a relay that was not granted. Delivery
//! to a real SMTP server is tested in `tests/monitoring/test_alerts.py` (aiosmtpd).

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use ferry_builtins as builtin;
use ferry_runtime::bindings::types::{Alert, Severity};
use ferry_runtime::manifest::PluginKind;
use ferry_runtime::{
    AlertSinkInstance, Failure, Grants, LoadError, LoadOptions, Plugin, PluginError, SmtpGrant,
};
use ferry_tests::{assert_healthy, guests, runtime};

fn alert() -> Alert {
    Alert {
        severity: Severity::Critical,
        title: "drift on churn@1".into(),
        text: "7 of 8 columns drifted".into(),
        labels: vec![("rule".into(), "drift".into())],
        source: "ferry/alerts/drift".into(),
        time_ms: 0,
    }
}

/// A port on loopback that accepts connections without answering, and tells how many came.
struct Listener(TcpListener);

impl Listener {
    fn new() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        Self(l)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().expect("addr").port()
    }

    fn connections(&self) -> usize {
        std::iter::from_fn(|| self.0.accept().ok()).count()
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    Listener::new().port()
}

fn granting(urls: &[String]) -> LoadOptions {
    LoadOptions {
        grants: Grants {
            smtp: urls
                .iter()
                .map(|u| SmtpGrant::parse(u, None).expect("grant"))
                .collect(),
            ..Grants::default()
        },
        ..LoadOptions::default()
    }
}

async fn sink(options: &LoadOptions) -> Plugin {
    runtime()
        .load_file(Path::new(guests::GUEST_HOSTILE_SINK), options)
        .await
        .expect("load hostile-sink")
}

async fn deliver(plugin: &Plugin, config: &str) -> Result<(), PluginError> {
    AlertSinkInstance::new(plugin)
        .await?
        .deliver(config, &alert())
        .await
}

#[tokio::test]
async fn mail_to_a_relay_that_is_not_granted_is_refused_before_any_connection() {
    let relay = Listener::new();
    let other = format!("smtp://127.0.0.1:{}", closed_port());
    for options in [LoadOptions::default(), granting(&[other])] {
        let p = sink(&options).await;
        let config = format!(r#"{{"do":"mail","relay":"127.0.0.1:{}"}}"#, relay.port());
        let e = deliver(&p, &config).await.unwrap_err();
        match &*e.failure {
            Failure::CapabilityDenied { attempts, .. } => assert_eq!(
                attempts,
                &[format!(
                    "SMTP relay 127.0.0.1:{} (not on the plugin's allow-list)",
                    relay.port()
                )]
            ),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(e.to_string().contains("hostile-sink"), "{e}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(relay.connections(), 0, "a connection reached the relay");
    assert_healthy().await;
}

#[tokio::test]
async fn a_sink_may_send_at_most_ten_messages_a_call() {
    let port = closed_port();
    let p = sink(&granting(&[format!("smtp://127.0.0.1:{port}")])).await;
    let config = format!(r#"{{"do":"mail","relay":"127.0.0.1:{port}","count":12}}"#);
    let e = deliver(&p, &config).await.unwrap_err();
    let text = e.to_string();
    for i in 0..10 {
        assert!(
            text.contains(&format!("{i}: internal error: 127.0.0.1:{port}: ")),
            "message {i} should have reached for the relay: {text}"
        );
    }
    for i in 10..12 {
        assert!(
            text.contains(&format!(
                "{i}: bad configuration: at most 10 messages per call"
            )),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_malformed_message_is_refused_naming_the_field_and_nothing_is_sent() {
    let relay = Listener::new();
    let options = granting(&[format!("smtp://127.0.0.1:{}", relay.port())]);
    let email = builtin::load(&runtime(), "email", &options)
        .await
        .expect("load email");
    assert_eq!(email.grants().smtp.len(), 1);
    for (from, to, needle) in [
        (
            "not an address",
            "ops@example.com",
            "sender \"not an address\"",
        ),
        (
            "ferry@example.com",
            "ops@@example",
            "recipient \"ops@@example\"",
        ),
    ] {
        let config = format!(
            r#"{{"relay":"127.0.0.1:{}","from":"{from}","to":["{to}"]}}"#,
            relay.port()
        );
        let e = deliver(&email, &config).await.unwrap_err();
        assert!(
            matches!(&*e.failure, Failure::Guest(_)) && e.to_string().contains(needle),
            "{e}"
        );
    }
    let config = format!(
        r#"{{"relay":"127.0.0.1:{}","from":"f@example.com","to":[{}]}}"#,
        relay.port(),
        (0..51)
            .map(|i| format!("\"r{i}@example.com\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let e = deliver(&email, &config).await.unwrap_err();
    assert!(e.to_string().contains("51 recipients; at most 50"), "{e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(relay.connections(), 0);
}

#[tokio::test]
async fn only_alert_sinks_may_import_smtp() {
    let e = runtime()
        .load_file(
            Path::new(guests::GUEST_MAILING_DEPLOYER),
            &LoadOptions::default(),
        )
        .await
        .unwrap_err();
    match &e {
        LoadError::Imports { kind, message, .. } => {
            assert_eq!(*kind, PluginKind::Deployer);
            assert!(message.contains("ferry:plugin/smtp"), "{message}");
        }
        other => panic!("expected an import refusal, got {other}"),
    }
}

#[tokio::test]
async fn an_smtp_grant_is_dropped_for_a_sink_that_does_not_import_smtp() {
    let options = granting(&["smtp://127.0.0.1:2525".to_string()]);
    let webhook = builtin::load(&runtime(), "webhook", &options)
        .await
        .expect("load webhook");
    assert!(webhook.grants().smtp.is_empty());
    assert!(!webhook.imports().iter().any(|i| i.contains("smtp")));
    let email = builtin::load(&runtime(), "email", &options)
        .await
        .expect("load email");
    assert!(
        email
            .imports()
            .iter()
            .any(|i| i.starts_with("ferry:plugin/smtp"))
    );
}

#[tokio::test]
async fn a_sink_that_traps_is_reported_and_the_next_instance_works() {
    let p = sink(&LoadOptions::default()).await;
    let e = deliver(&p, r#"{"do":"trap"}"#).await.unwrap_err();
    match &*e.failure {
        Failure::Panic { message } => {
            assert!(message.contains("panicked on purpose"), "{message}")
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(e.operation, "deliver");
    deliver(&p, r#"{"do":"mail","count":0}"#)
        .await
        .expect("a fresh instance delivers");
    assert_healthy().await;
}
