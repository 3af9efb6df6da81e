//! What a deployer keeps on its target about each deployment: the version that is live and
//! the versions a rollback returns to. Deployers share it so that plan, apply, status and
//! rollback mean the same thing on every target.

use std::fs;

use serde::{Deserialize, Serialize};

use crate::{DeploymentStatus, Result, config_error, input_error, internal_error};

/// The live version of one deployment on a target, and its rollback history (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    /// The version now live.
    pub active: Option<String>,
    /// Earlier versions, newest first.
    pub history: Vec<String>,
}

/// Checks that `s` is safe as one path segment on a target (a deployment name, a version):
/// letters, digits, `.`, `-` and `_`, at most 128 of them, and not `.` or `..`.
pub fn check_segment(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(config_error(format!(
            "{what} {s:?} may only hold letters, digits, `.`, `-` and `_`"
        )))
    }
}

/// Checks that `dir`, a directory the plugin's manifest asks for, was granted: a plugin sees
/// only the directories the operator granted, so a missing one means the operator did not,
/// and a deployer must say so rather than report that nothing is deployed.
pub fn require_granted(dir: &str) -> Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err(config_error(format!(
            "{dir} was not granted: grant this deployer a folder there (`--allow-dir {dir}=FOLDER`)"
        ))),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that a reader sees the
/// old file or the new one, never half of one.
pub fn write_atomically(path: &str, bytes: &[u8]) -> Result<()> {
    let (dir, file) = path.rsplit_once('/').unwrap_or((".", path));
    let tmp = format!("{dir}/.{file}.tmp");
    fs::write(&tmp, bytes).map_err(|e| internal_error(format!("writing {path}: {e}")))?;
    fs::rename(&tmp, path).map_err(|e| internal_error(format!("replacing {path}: {e}")))
}

impl TargetState {
    /// Reads the state at `path`; a missing file is a deployment never applied.
    pub fn load(path: &str) -> Result<TargetState> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| internal_error(format!("{path} is damaged: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TargetState::default()),
            Err(e) => Err(internal_error(format!("reading {path}: {e}"))),
        }
    }

    /// Writes the state to `path` atomically.
    pub fn save(&self, path: &str) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| internal_error(e.to_string()))?;
        write_atomically(path, &bytes)
    }

    /// Makes `version` live; the version it replaces heads the history, which keeps `keep`.
    pub fn promote(&mut self, version: &str, keep: usize) {
        if let Some(previous) = self.active.take()
            && previous != version
        {
            self.history.retain(|v| *v != previous);
            self.history.insert(0, previous);
        }
        self.history.retain(|v| v != version);
        self.history.truncate(keep);
        self.active = Some(version.to_string());
    }

    /// Returns deployment `name` to the newest earlier version; gives the version left and
    /// the version now live.
    pub fn step_back(&mut self, name: &str) -> Result<(Option<String>, String)> {
        if self.history.is_empty() {
            return Err(input_error(
                name,
                None,
                "there is no earlier version to roll back to",
            ));
        }
        let back = self.history.remove(0);
        let from = self.active.replace(back.clone());
        Ok((from, back))
    }

    /// The status a deployer reports for deployment `name`.
    pub fn status(&self, name: &str, message: String) -> DeploymentStatus {
        DeploymentStatus {
            name: name.to_string(),
            active_version: self.active.clone(),
            history: self.history.clone(),
            message,
        }
    }

    /// "version N is active", or "not deployed".
    pub fn summary(&self) -> String {
        match &self.active {
            Some(v) => format!("version {v} is active"),
            None => "not deployed".to_string(),
        }
    }
}

/// Where a deployer keeps one deployment in its granted directory: `DIR/NAME/state.json` (the
/// live version and the history), `DIR/NAME/versions/VERSION.EXT` for each version, and
/// `DIR/NAME/NAME.EXT`, the live copy readers fetch.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: String,
    name: String,
    ext: &'static str,
}

impl Layout {
    /// The layout of deployment `name` under `deploy_dir` (which must have been granted), for
    /// files ending in `.ext`.
    pub fn new(deploy_dir: &str, name: &str, ext: &'static str) -> Result<Layout> {
        check_segment("deployment name", name)?;
        require_granted(deploy_dir)?;
        Ok(Layout {
            dir: format!("{deploy_dir}/{name}"),
            name: name.to_string(),
            ext,
        })
    }

    /// `DIR/NAME`.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// `DIR/NAME/state.json`.
    pub fn state_path(&self) -> String {
        format!("{}/state.json", self.dir)
    }

    /// `DIR/NAME/versions/VERSION.EXT`.
    pub fn version_path(&self, version: &str) -> String {
        format!("{}/versions/{version}.{}", self.dir, self.ext)
    }

    /// `DIR/NAME/NAME.EXT`.
    pub fn live_path(&self) -> String {
        format!("{}/{}.{}", self.dir, self.name, self.ext)
    }

    /// The stored state.
    pub fn state(&self) -> Result<TargetState> {
        TargetState::load(&self.state_path())
    }

    /// Copies version `version`'s file over the live one, atomically; returns its bytes.
    pub fn make_live(&self, version: &str) -> Result<Vec<u8>> {
        let bytes = fs::read(self.version_path(version)).map_err(|e| {
            internal_error(format!(
                "reading {}: {e} (was the directory granted writable?)",
                self.version_path(version)
            ))
        })?;
        write_atomically(&self.live_path(), &bytes)?;
        Ok(bytes)
    }

    /// Returns to the newest earlier version (its file made live again), and reports "rolled
    /// back from A to B" with what `describe` says of the live file's bytes.
    pub fn roll_back(&self, describe: impl FnOnce(&[u8]) -> String) -> Result<DeploymentStatus> {
        let mut state = self.state()?;
        let (from, back) = state.step_back(&self.name)?;
        let bytes = self.make_live(&back)?;
        state.save(&self.state_path())?;
        let message = format!(
            "rolled back from {} to {back}; {}",
            from.unwrap_or_else(|| "nothing".into()),
            describe(&bytes)
        );
        Ok(state.status(&self.name, message))
    }
}
