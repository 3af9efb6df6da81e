//! What a training run writes: its parameters, tags, metrics and files.

use super::PipelineError;
use super::spec::PipelineSpec;
use crate::store::Store;
use ferry_core::steps::{TransformStep, ValidatorStep};
use ferry_runtime::Plugin;

/// Longest parameter value kept, in characters.
const MAX_PARAM_CHARS: usize = 8000;

/// A run being recorded, in the local registry or on a remote Ferry.
pub struct RunLog<'a> {
    store: &'a Store,
    /// The run's experiment.
    pub experiment_id: String,
    /// The run's id.
    pub run_id: String,
}

impl<'a> RunLog<'a> {
    /// Records into the run `run_id` of `experiment_id`.
    pub fn new(store: &'a Store, experiment_id: String, run_id: String) -> Self {
        Self {
            store,
            experiment_id,
            run_id,
        }
    }

    /// Logs parameters (values cut to 8,000 characters).
    pub async fn params(&self, params: &[(String, String)]) -> Result<(), PipelineError> {
        let cut: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.clone(), v.chars().take(MAX_PARAM_CHARS).collect()))
            .collect();
        Ok(self.store.log(&self.run_id, &cut, &[], &[]).await?)
    }

    /// Sets tags.
    pub async fn tags(&self, tags: &[(String, String)]) -> Result<(), PipelineError> {
        Ok(self.store.log(&self.run_id, &[], tags, &[]).await?)
    }

    /// Logs metrics at step 0, all with the same timestamp.
    pub async fn metrics(&self, metrics: &[(&str, f64)]) -> Result<(), PipelineError> {
        Ok(self.store.log(&self.run_id, &[], &[], metrics).await?)
    }

    /// Stores a file with the run; returns its digest.
    pub async fn file(&self, path: &str, bytes: &[u8]) -> Result<String, PipelineError> {
        Ok(self
            .store
            .log_artifact(&self.experiment_id, &self.run_id, path, bytes)
            .await?)
    }

    /// Stores a value as pretty JSON; returns its digest.
    pub async fn json(
        &self,
        path: &str,
        value: &impl serde::Serialize,
    ) -> Result<String, PipelineError> {
        let text =
            serde_json::to_string_pretty(value).map_err(|e| PipelineError::Other(e.to_string()))?;
        self.file(path, text.as_bytes()).await
    }
}

/// The folder name of a step's files: `02-standard-scaler`.
pub fn step_dir(i: usize, name: &str) -> String {
    format!("{:02}-{name}", i + 1)
}

fn plugin_version(p: &Plugin) -> String {
    format!("{}@{}", p.name(), p.manifest().version)
}

/// A run's parameters: the pipeline, data, split, each step with its configuration, and the
/// model's hyperparameters.
pub fn params(
    spec: &PipelineSpec,
    validators: &[ValidatorStep],
    transforms: &[TransformStep],
    model: Option<(&Plugin, &str)>,
) -> Vec<(String, String)> {
    let mut p = vec![
        ("pipeline".to_string(), spec.name.clone()),
        ("data.path".into(), spec.data.path.display().to_string()),
        ("data.label".into(), spec.data.label.clone()),
        (
            "split.test_fraction".into(),
            spec.split.test_fraction.to_string(),
        ),
        ("split.seed".into(), spec.split.seed.to_string()),
    ];
    let steps = validators
        .iter()
        .map(|v| ("validators", &v.plugin, &v.config))
        .enumerate()
        .chain(
            transforms
                .iter()
                .map(|t| ("transforms", &t.plugin, &t.config))
                .enumerate(),
        );
    for (i, (group, plugin, config)) in steps {
        let dir = step_dir(i, plugin.name());
        p.push((format!("{group}.{dir}"), plugin_version(plugin)));
        p.push((format!("{group}.{dir}.config"), config.clone()));
    }
    if let Some((plugin, hp)) = model {
        p.push(("model.plugin".into(), plugin_version(plugin)));
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(hp) {
            for (k, v) in map {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                p.push((format!("model.{k}"), text));
            }
        }
    }
    p
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn git_commit(dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| s.len() == 40)
}

/// A run's tags: Ferry's version, the host, the pipeline, the data's digest and rows, the user
/// and the source (with the git commit inside a repository).
pub fn tags(
    spec: &PipelineSpec,
    user: &str,
    data_digest: &str,
    rows: usize,
) -> Vec<(String, String)> {
    let mut tags = vec![
        (
            "ferry.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("ferry.host".into(), host_name()),
        ("ferry.pipeline".into(), spec.name.clone()),
        ("ferry.data.digest".into(), data_digest.to_string()),
        ("ferry.data.rows".into(), rows.to_string()),
        ("mlflow.user".into(), user.to_string()),
        ("mlflow.source.type".into(), "LOCAL".into()),
        (
            "mlflow.source.name".into(),
            spec.base_dir.display().to_string(),
        ),
    ];
    if let Some(commit) = git_commit(&spec.base_dir) {
        tags.push(("mlflow.source.git.commit".into(), commit.clone()));
        tags.push(("ferry.git.commit".into(), commit));
    }
    tags
}
