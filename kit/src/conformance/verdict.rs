//! Turning what a plugin did into outcomes, the same way for every kind: configuration
//! refusals, the unknown key, and the deadline and memory trips behind the `limits` point.

use serde_json::Value;

use super::{Outcome, Point};
use ferry_runtime::{Failure, GuestError, Plugin, PluginError};

/// A key no plugin's configuration has.
pub(super) const UNKNOWN_KEY: &str = "ferry-conformance-unknown-key";

/// `config` with [`UNKNOWN_KEY`] added, or why the check does not apply: a schema that does
/// not set `additionalProperties: false` allows any key.
pub(super) fn with_unknown_key(plugin: &Plugin, config: &str) -> Result<String, Outcome> {
    let schema = &plugin.manifest().config_schema;
    if schema.get("additionalProperties") != Some(&Value::Bool(false)) {
        return Err(Outcome::Skipped(
            "the schema allows any key (`additionalProperties` is not false)".into(),
        ));
    }
    let mut value: Value =
        serde_json::from_str(config).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut value {
        map.insert(UNKNOWN_KEY.into(), Value::Bool(true));
    }
    Ok(value.to_string())
}

/// The deadline and memory trips seen while the checks ran, for the `limits` point.
#[derive(Default)]
pub(super) struct Tripwire(pub Vec<String>);

impl Tripwire {
    /// Records `e` if it was a deadline or memory trip.
    pub fn note(&mut self, check: &str, e: &PluginError) {
        if matches!(
            *e.failure,
            Failure::Timeout { .. } | Failure::OutOfMemory { .. }
        ) {
            self.0.push(format!("{check}: {}", e.failure));
        }
    }

    /// The outcome of a call the kit made with the plugin's example `what` (configuration or
    /// settings): a typed refusal of them skips the check, anything else fails it.
    pub fn outcome(&mut self, check: &str, what: &str, e: PluginError) -> Outcome {
        self.note(check, &e);
        match &*e.failure {
            Failure::Guest(GuestError::Config(_) | GuestError::Input { .. }) => {
                Outcome::Skipped(format!(
                    "its example {what} were refused ({}); give the schema an `examples` entry it accepts",
                    e.failure
                ))
            }
            _ => Outcome::Failed(e.failure.to_string()),
        }
    }
}

/// Passes on a configuration error (naming `key`, where one is given); fails otherwise.
pub(super) fn refused_config<T>(
    result: Result<T, PluginError>,
    key: Option<&str>,
    trips: &mut Tripwire,
) -> Outcome {
    let e = match result {
        Ok(_) => return Outcome::Failed("it was accepted".into()),
        Err(e) => e,
    };
    trips.note("config", &e);
    match (&*e.failure, key) {
        (Failure::Guest(GuestError::Config(m)), Some(k)) if !m.contains(k) => {
            Outcome::Failed(format!(
                "refused, but the message does not name `{k}`: {}",
                e.failure
            ))
        }
        (Failure::Guest(GuestError::Config(_)), Some(_)) => {
            Outcome::Passed(format!("refused, naming the key: {}", e.failure))
        }
        (Failure::Guest(GuestError::Config(_)), None) => Outcome::Passed(e.failure.to_string()),
        _ => Outcome::Failed(format!(
            "expected a configuration error, got: {}",
            e.failure
        )),
    }
}

/// The `limits` point: passes when nothing in `tripped` ran past the deadline or the cap.
pub(super) fn limits_point(plugin: &Plugin, tripped: Vec<String>) -> Point {
    let limits = plugin.limits();
    Point {
        check: "limits",
        asks: "every run above within the plugin's deadline and memory cap",
        outcome: if tripped.is_empty() {
            Outcome::Passed(format!(
                "within {} ms and {} MiB",
                limits.timeout_ms, limits.memory_mib
            ))
        } else {
            Outcome::Failed(tripped.join("; "))
        },
    }
}

/// The one point of a plugin the kit could not set up to act.
pub(super) fn unable(why: String) -> Point {
    Point {
        check: "behaviour",
        asks: "the kit can give the plugin a place to act in",
        outcome: Outcome::Failed(why),
    }
}
