//! `ferry.lock`: the exact plugins a project uses, by name, version and digest, so that an
//! install from it reproduces them bit for bit.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One locked plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPlugin {
    /// The plugin's name.
    pub name: String,
    /// Its exact version.
    pub version: String,
    /// `sha256:…` of its component.
    pub digest: String,
}

/// The lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    /// Format version of the file.
    pub version: u32,
    /// The plugins, sorted by name.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<LockedPlugin>,
}

/// A lock file that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LockError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl LockFile {
    /// Reads `path`; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        let err = |message: String| LockError {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let lock: LockFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
                if lock.version != 1 {
                    return Err(err(format!(
                        "lock file version {} is not supported (expected 1)",
                        lock.version
                    )));
                }
                Ok(lock)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile {
                version: 1,
                plugins: Vec::new(),
            }),
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// Adds or replaces a plugin (one version per name).
    pub fn pin(&mut self, plugin: LockedPlugin) {
        self.plugins.retain(|p| p.name != plugin.name);
        self.plugins.push(plugin);
        self.plugins.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// Writes the lock file atomically.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let err = |message: String| LockError {
            path: path.display().to_string(),
            message,
        };
        let mut lock = self.clone();
        lock.version = 1;
        let text = format!(
            "# Written by `ferry plugin install`; the exact plugins this project uses.\n{}",
            toml::to_string(&lock).map_err(|e| err(e.to_string()))?
        );
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| err(e.to_string()))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| err(e.to_string()))?;
        tmp.persist(path).map_err(|e| err(e.error.to_string()))?;
        Ok(())
    }
}
