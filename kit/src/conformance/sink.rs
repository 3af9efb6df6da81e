//! An alert sink's behaviour: an alert delivered into a local sink (fresh folders for the
//! directories it asks for, a loopback HTTP listener for every URL in its example
//! configuration, a loopback SMTP relay for every `HOST:PORT` in it when the sink mails), a
//! failed delivery reported rather than swallowed, and refusals of bad configuration.

use axum::http::StatusCode;

use super::loopback::{Listener, SmtpListener, point_at};
use super::scratch::Scratch;
use super::verdict::{
    Tripwire, UNKNOWN_KEY, limits_point, refused_config, unable, with_unknown_key,
};
use super::{Outcome, Point};
use ferry_core::steps::purity::example_config;
use ferry_runtime::bindings::types::{Alert, Severity};
use ferry_runtime::{AlertSinkInstance, Plugin, PluginError, SmtpGrant};

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

/// Where the kit's local sink listens: HTTP always, SMTP for a sink that can mail.
struct Sink {
    http: Listener,
    smtp: Option<SmtpListener>,
}

impl Sink {
    async fn start(accept: bool, mails: bool) -> std::io::Result<Sink> {
        let status = if accept {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        Ok(Sink {
            http: Listener::http(status).await?,
            smtp: match mails {
                true => Some(SmtpListener::smtp(accept).await?),
                false => None,
            },
        })
    }

    /// `config` pointed at this sink.
    fn point(&self, config: &str) -> String {
        point_at(
            config,
            self.http.host(),
            self.smtp.as_ref().map(SmtpListener::host),
        )
    }
}

/// The plugin under the kit's folders and, where it asks for hosts or mails, the sink.
fn granted(plugin: &Plugin, scratch: &Scratch, sink: &Sink) -> Result<Plugin, Point> {
    let mut grants = scratch.grants();
    if !plugin.manifest().capabilities.http_hosts.is_empty() {
        grants.http_hosts.push(sink.http.host().to_string());
    }
    if let Some(smtp) = &sink.smtp {
        let relay = SmtpGrant::parse(&format!("smtp://{}", smtp.host()), None)
            .map_err(|e| unable(format!("granting the kit's relay: {e}")))?;
        grants.smtp.push(relay);
    }
    plugin
        .with_grants(&grants)
        .map_err(|e| unable(format!("granting the kit's folders and listeners: {e}")))
}

/// Whether the plugin imports `ferry:plugin/smtp`, and so may mail.
fn mails(plugin: &Plugin) -> bool {
    plugin
        .imports()
        .iter()
        .any(|i| i.starts_with("ferry:plugin/smtp"))
}

pub(super) async fn points(plugin: &Plugin) -> Vec<Point> {
    let mails = mails(plugin);
    let setup = async {
        let scratch = Scratch::for_plugin(plugin)?;
        let ok = Sink::start(true, mails).await?;
        let down = Sink::start(false, mails).await?;
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
    let reaches_out = !live.manifest().capabilities.http_hosts.is_empty() || mails;

    let delivered = match deliver(&live, &ok.point(&config)).await {
        Ok(()) => evidence(&scratch, &ok, reaches_out),
        Err(e) => trips.outcome("delivery", "configuration", e),
    };
    // Only a delivery that reached a receiver can be refused by one.
    let to_receiver = !ok.http.received().is_empty()
        || ok.smtp.as_ref().is_some_and(|m| !m.received().is_empty());
    let reached = matches!(delivered, Outcome::Passed(_));
    points.push(Point {
        check: "delivery",
        asks: "an alert with its example configuration arrives in the local sink",
        outcome: delivered,
    });

    let failing = if !reaches_out || (reached && !to_receiver) {
        Outcome::Skipped("it delivers to no host or relay".into())
    } else if !reached {
        Outcome::Skipped("delivery did not reach the local sink".into())
    } else {
        match granted(plugin, &scratch, &down) {
            Err(point) => point.outcome,
            Ok(p) => match deliver(&p, &down.point(&config)).await {
                Ok(()) => Outcome::Failed(
                    "the receiver refused the alert (HTTP 503, SMTP 554) and the plugin reported it delivered".into(),
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
        asks: "a receiver that refuses the alert (HTTP 503, SMTP 554) is reported as an error, so the alert is retried",
        outcome: failing,
    });

    points.push(Point {
        check: "bad-config",
        asks: "an unparsable configuration is refused as a configuration error",
        outcome: refused_config(deliver(&live, "{").await, None, &mut trips),
    });
    let unknown = match with_unknown_key(&live, &config) {
        Ok(with_key) => refused_config(
            deliver(&live, &ok.point(&with_key)).await,
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
fn evidence(scratch: &Scratch, sink: &Sink, reaches_out: bool) -> Outcome {
    let requests = sink.http.received();
    if let Some(r) = requests.iter().find(|r| r.body.contains(TITLE)) {
        return Outcome::Passed(format!(
            "{} {} on the local listener, carrying the alert",
            r.method, r.path
        ));
    }
    let mail = sink
        .smtp
        .as_ref()
        .map(SmtpListener::received)
        .unwrap_or_default();
    if mail.iter().any(|m| m.contains(TITLE)) {
        return Outcome::Passed("mailed through the local relay, carrying the alert".into());
    }
    if let Some(file) = scratch.find(TITLE) {
        return Outcome::Passed(format!("written to {file}"));
    }
    if scratch.is_empty() && !reaches_out {
        return Outcome::Passed(
            "accepted (it asks for no directory or host, so the kit cannot see where it went)"
                .into(),
        );
    }
    Outcome::Failed(if requests.is_empty() && mail.is_empty() {
        "it reported the alert delivered, but nothing reached its folders or the local sink".into()
    } else {
        format!(
            "it reported the alert delivered; the local sink got {} request(s) and {} message(s) without the alert's title",
            requests.len(),
            mail.len()
        )
    })
}
