//! An alert sink's behaviour: an alert delivered into a local sink (fresh folders for the
//! directories it asks for, a loopback listener for every URL in its example configuration),
//! a failed delivery reported rather than swallowed, and refusals of bad configuration.

use axum::http::StatusCode;

use super::scratch::{Listener, Scratch};
use super::verdict::{
    Tripwire, UNKNOWN_KEY, limits_point, refused_config, unable, with_unknown_key,
};
use super::{Outcome, Point};
use crate::pipeline::steps::purity::example_config;
use crate::runtime::bindings::types::{Alert, Severity};
use crate::runtime::{AlertSinkInstance, Plugin, PluginError};

/// Words the delivered alert carries, looked for where it was delivered.
const TITLE: &str = "ferry plugin test: conformance alert";

fn alert() -> Alert {
    Alert {
        severity: Severity::Warning,
        title: TITLE.into(),
        text: "Sent by the conformance kit; nothing is wrong.".into(),
        labels: vec![("check".into(), "delivery".into())],
        source: "ferry/plugin-test".into(),
        time_ms: 1_764_460_800_000,
    }
}

async fn deliver(plugin: &Plugin, config: &str) -> Result<(), PluginError> {
    AlertSinkInstance::new(plugin)
        .await?
        .deliver(config, &alert())
        .await
}

/// The plugin under the kit's folders and, where it asks for hosts, the listener.
fn granted(plugin: &Plugin, scratch: &Scratch, listener: &Listener) -> Result<Plugin, Point> {
    let mut grants = scratch.grants();
    if !plugin.manifest().capabilities.http_hosts.is_empty() {
        grants.http_hosts.push(listener.host().to_string());
    }
    plugin
        .with_grants(&grants)
        .map_err(|e| unable(format!("granting the kit's folders and listener: {e}")))
}

/// Whether the plugin can deliver only by mail: it imports `ferry:plugin/smtp` and asks for no
/// folder and no host. (A Python sink imports every interface of its world, so the import
/// alone does not say it mails.)
fn mails_only(plugin: &Plugin) -> bool {
    let asks = &plugin.manifest().capabilities;
    asks.directories.is_empty()
        && asks.http_hosts.is_empty()
        && plugin
            .imports()
            .iter()
            .any(|i| i.starts_with("ferry:plugin/smtp"))
}

pub(super) async fn points(plugin: &Plugin) -> Vec<Point> {
    let setup = async {
        let scratch = Scratch::for_plugin(plugin)?;
        let ok = Listener::start(StatusCode::OK).await?;
        let down = Listener::start(StatusCode::SERVICE_UNAVAILABLE).await?;
        std::io::Result::Ok((scratch, ok, down))
    };
    let (scratch, ok, down) = match setup.await {
        Ok(s) => s,
        Err(e) => return vec![unable(format!("setting up the local sink: {e}"))],
    };
    let live = match granted(plugin, &scratch, &ok) {
        Ok(p) => p,
        Err(point) => return vec![point],
    };
    let config = example_config(&live);
    let mut trips = Tripwire::default();
    let mut points = Vec::new();
    let asks_hosts = !live.manifest().capabilities.http_hosts.is_empty();

    let smtp = "it mails through a relay the operator grants (`--allow-smtp`); the kit has no relay to deliver to";
    let delivered = if mails_only(&live) {
        Outcome::Skipped(smtp.into())
    } else {
        match deliver(&live, &ok.redirect(&config)).await {
            Ok(()) => evidence(&scratch, &ok, asks_hosts),
            Err(e) => trips.outcome("delivery", "configuration", e),
        }
    };
    let reached = matches!(delivered, Outcome::Passed(_));
    points.push(Point {
        check: "delivery",
        asks: "an alert with its example configuration arrives in the local sink",
        outcome: delivered,
    });

    let failing = if mails_only(&live) {
        Outcome::Skipped(smtp.into())
    } else if !asks_hosts {
        Outcome::Skipped("it reaches no host".into())
    } else if !reached {
        Outcome::Skipped("delivery did not reach the local sink".into())
    } else {
        match granted(plugin, &scratch, &down) {
            Err(point) => point.outcome,
            Ok(p) => match deliver(&p, &down.redirect(&config)).await {
                Ok(()) => Outcome::Failed(
                    "the sink answered 503 and the plugin reported the alert delivered".into(),
                ),
                Err(e) if !e.failure.is_misbehaviour() => {
                    Outcome::Passed(format!("reported: {}", e.failure))
                }
                Err(e) => {
                    trips.note("failed-delivery", &e);
                    Outcome::Failed(e.failure.to_string())
                }
            },
        }
    };
    points.push(Point {
        check: "failed-delivery",
        asks: "a sink that answers 503 is reported as an error, so the alert is retried",
        outcome: failing,
    });

    points.push(Point {
        check: "bad-config",
        asks: "an unparsable configuration is refused as a configuration error",
        outcome: refused_config(deliver(&live, "{").await, None, &mut trips),
    });
    let unknown = match with_unknown_key(&live, &config) {
        Ok(with_key) => refused_config(
            deliver(&live, &ok.redirect(&with_key)).await,
            Some(UNKNOWN_KEY),
            &mut trips,
        ),
        Err(skip) => skip,
    };
    points.push(Point {
        check: "unknown-key",
        asks: "a key the schema does not allow is refused as a configuration error",
        outcome: unknown,
    });
    points.push(limits_point(&live, trips.0));
    points
}

/// Where the alert arrived, if anywhere the kit can see.
fn evidence(scratch: &Scratch, listener: &Listener, asks_hosts: bool) -> Outcome {
    if let Some(r) = listener.received().iter().find(|r| r.body.contains(TITLE)) {
        return Outcome::Passed(format!(
            "{} {} on the local listener, carrying the alert",
            r.method, r.path
        ));
    }
    if let Some(file) = scratch.find(TITLE) {
        return Outcome::Passed(format!("written to {file}"));
    }
    if scratch.is_empty() && !asks_hosts {
        return Outcome::Passed(
            "accepted (it asks for no directory or host, so the kit cannot see where it went)"
                .into(),
        );
    }
    let requests = listener.received();
    Outcome::Failed(if requests.is_empty() {
        "it reported the alert delivered, but nothing reached its folders or the local listener"
            .into()
    } else {
        format!(
            "it reported the alert delivered; the local listener got {} request(s) without the alert's title",
            requests.len()
        )
    })
}
