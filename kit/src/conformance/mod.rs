//! The conformance kit behind `ferry plugin test`: what a plugin author runs before
//! publishing. Each check is a point of the report that passes, fails or is skipped with a
//! reason; a plugin conforms when nothing fails. Validators, transforms and models run on
//! Ferry's sample data; deployers and alert sinks act in fresh folders and against a loopback
//! listener, never on a real target.

mod deployer;
mod loopback;
mod probes;
mod schema;
mod scratch;
mod sink;
mod verdict;

use serde::Serialize;

use ferry_runtime::Plugin;
use ferry_runtime::manifest::PluginKind;

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    /// The plugin did what the contract asks (what it did).
    Passed(String),
    /// It did not (what it did instead).
    Failed(String),
    /// The check does not apply, or could not run (why).
    Skipped(String),
}

/// One point of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// The check's name, e.g. `bad-config`.
    pub check: &'static str,
    /// What it asks of the plugin.
    pub asks: &'static str,
    /// How it came out.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The whole report for one plugin.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The plugin's name.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// Its kind.
    pub kind: PluginKind,
    /// The checks, in the order they ran.
    pub points: Vec<Point>,
}

impl Report {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        !self
            .points
            .iter()
            .any(|p| matches!(p.outcome, Outcome::Failed(_)))
    }

    /// How many checks passed, failed and were skipped.
    pub fn tally(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Outcome) -> bool| self.points.iter().filter(|p| f(&p.outcome)).count();
        (
            count(|o| matches!(o, Outcome::Passed(_))),
            count(|o| matches!(o, Outcome::Failed(_))),
            count(|o| matches!(o, Outcome::Skipped(_))),
        )
    }

    /// The checks that failed, one line each.
    pub fn failures(&self) -> Vec<String> {
        self.points
            .iter()
            .filter_map(|p| match &p.outcome {
                Outcome::Failed(why) => Some(format!("{}: {why}", p.check)),
                _ => None,
            })
            .collect()
    }
}

/// Runs every check that applies to `plugin`'s kind. The plugin runs under its own limits
/// and grants, on Ferry's sample data and its schema's first example configuration.
pub async fn run(plugin: &Plugin) -> Report {
    run_with(plugin, true).await
}

/// Every check but the purity check on the sample data, for a caller that has just run it
/// (`ferry plugin publish`).
pub async fn run_after_purity(plugin: &Plugin) -> Report {
    run_with(plugin, false).await
}

async fn run_with(plugin: &Plugin, sample: bool) -> Report {
    let manifest = plugin.manifest();
    let mut points = vec![Point {
        check: "contract",
        asks: "a component of its kind's world (or an Extism module with its kind's exports), \
               built against a contract this host runs",
        outcome: Outcome::Passed(format!(
            "{} {} {} built against ferry:plugin@{}",
            if manifest.kind == PluginKind::AlertSink {
                "an"
            } else {
                "a"
            },
            manifest.kind,
            if plugin.is_extism() {
                "Extism plugin"
            } else {
                "component"
            },
            manifest.contract
        )),
    }];
    points.push(schema::manifest_point(manifest));
    points.push(schema::schema_point(manifest));
    points.extend(match manifest.kind {
        PluginKind::Deployer => deployer::points(plugin).await,
        PluginKind::AlertSink => sink::points(plugin).await,
        _ => probes::run(plugin, sample).await,
    });
    Report {
        plugin: manifest.name.clone(),
        version: manifest.version.to_string(),
        kind: manifest.kind,
        points,
    }
}
